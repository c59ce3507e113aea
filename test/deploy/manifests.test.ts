// The deploy files keep the lifecycle contract: probes on the right routes, a grace period longer
// than the service's own shutdown, the admin port never exposed, a non-root image whose PID 1 is node.
import * as Fs from "node:fs"
import { describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"

const documents = (file: string) =>
  parseAllDocuments(Fs.readFileSync(file, "utf8")).map((document) => {
    expect(document.errors).toEqual([])
    return document.toJS() as Record<string, any>
  })

const deployment = documents("deploy/kubernetes/deployment.yaml").find((doc) => doc.kind === "Deployment")!
const service = documents("deploy/kubernetes/service.yaml").find((doc) => doc.kind === "Service")!
const pod = deployment.spec.template.spec
const container = pod.containers[0]
const env = Object.fromEntries(container.env.map((entry: { name: string; value: string }) => [entry.name, entry.value]))
const portNumber = (name: string) => container.ports.find((port: { name: string }) => port.name === name).containerPort

describe("kubernetes manifests", () => {
  it("liveness is /healthz and readiness is /readyz, both on the public port", () => {
    expect(container.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "http" })
    expect(container.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "http" })
    expect(portNumber("http")).toBe(Number(env.PORT))
  })

  it("the grace period exceeds DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS, and a drain delay is set", () => {
    expect(Number(env.DRAIN_DELAY_MS)).toBeGreaterThan(0)
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(env.DRAIN_DELAY_MS) + Number(env.SHUTDOWN_TIMEOUT_MS))
  })

  it("the Service exposes the public port only, never the admin port", () => {
    const targets = service.spec.ports.map((port: { targetPort: string | number }) => port.targetPort)
    expect(targets).toEqual(["http"])
    expect(targets).not.toContain("admin")
    expect(targets).not.toContain(portNumber("admin"))
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels)
  })

  it("runs as non-root; with the jobs feature, DATA_DIR is set and on a volume", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true)
    // Without src/jobs nothing is journaled, and the volume may go with the feature.
    if (!Fs.existsSync("src/jobs")) return
    expect(env.DATA_DIR).toBeDefined()
    const mount = (container.volumeMounts ?? []).find((m: { mountPath: string }) => m.mountPath === env.DATA_DIR)
    expect(mount).toBeDefined()
  })
})

describe("Dockerfile", () => {
  const dockerfile = Fs.readFileSync("deploy/Dockerfile", "utf8")
  const stages = dockerfile.split(/^FROM /m).slice(1)

  it("is multi-stage, and the final stage runs node dist/main.js directly as a non-root user", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const final = stages.at(-1)!
    expect(final).toMatch(/^USER node$/m)
    expect(final).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m) // exec form: node is PID 1 and gets SIGTERM
    expect(final).not.toMatch(/npm (start|run)/)
  })
})
