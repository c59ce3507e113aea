// The deploy files keep the lifecycle contract: probes on the right routes, a grace period longer
// than the service's own shutdown, the admin port never exposed, a non-root image whose PID 1 is node;
// and the job store's: SQLite means one replica (Recreate) with DATA_DIR on a volume, Postgres's URL
// comes from a Secret, and the image can build and ship better-sqlite3's native addon.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { parseAllDocuments } from "yaml"
import { copiesFrom, readDockerfile, type Stage } from "./dockerfile.js"

const documents = (file: string) =>
  parseAllDocuments(Fs.readFileSync(file, "utf8")).map((document) => {
    expect(document.errors).toEqual([])
    return document.toJS() as Record<string, any>
  })

interface EnvEntry {
  readonly name: string
  readonly value?: string
  readonly valueFrom?: { readonly secretKeyRef?: { readonly name: string; readonly key: string } }
}

const deploymentDocuments = documents("deploy/kubernetes/deployment.yaml")
const deployment = deploymentDocuments.find((doc) => doc.kind === "Deployment")!
const service = documents("deploy/kubernetes/service.yaml").find((doc) => doc.kind === "Service")!
const pod = deployment.spec.template.spec
const container = pod.containers[0]
const envEntries: ReadonlyArray<EnvEntry> = container.env
const env = Object.fromEntries(envEntries.map((entry) => [entry.name, entry.value]))
const portNumber = (name: string) => container.ports.find((port: { name: string }) => port.name === name).containerPort
const hasJobs = Fs.existsSync("src/jobs")

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

  it("runs as non-root", () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true)
  })

  it("DATABASE_URL, when set, comes from a Secret, never a literal in the manifest", () => {
    const databaseUrl = envEntries.find((entry) => entry.name === "DATABASE_URL")
    if (databaseUrl === undefined) return
    expect(databaseUrl.value).toBeUndefined()
    expect(databaseUrl.valueFrom?.secretKeyRef).toMatchObject({ name: expect.any(String), key: expect.any(String) })
  })

  it.skipIf(!hasJobs)("with SQLite (no DATABASE_URL): one replica, Recreate, DATA_DIR on the claimed volume", () => {
    // Postgres-backed manifests have no such constraints; this one is the SQLite variant.
    if (envEntries.some((entry) => entry.name === "DATABASE_URL")) return
    expect(deployment.spec.replicas).toBe(1)
    expect(deployment.spec.strategy).toEqual({ type: "Recreate" })
    expect(env.DATA_DIR).toBeDefined()
    const mount = (container.volumeMounts ?? []).find((m: { mountPath: string }) => m.mountPath === env.DATA_DIR)
    expect(mount).toBeDefined()
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name)
    const claim = deploymentDocuments.find((doc) => doc.kind === "PersistentVolumeClaim")
    expect(volume.persistentVolumeClaim.claimName).toBe(claim?.metadata.name)
    expect(claim?.spec.accessModes).toEqual(["ReadWriteOnce"])
  })
})

describe("Dockerfile", () => {
  const stages = readDockerfile()
  const [build, final] = [stages[0]!, stages.at(-1)!]
  const run = (stage: Stage) => stage.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args)

  it("is multi-stage, and the final stage runs node dist/main.js directly as a non-root user", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    expect(final.instructions).toContainEqual({ keyword: "USER", args: "node" })
    // exec form: node is PID 1 and gets SIGTERM
    expect(final.instructions.at(-1)).toEqual({ keyword: "CMD", args: `["node", "dist/main.js"]` })
    expect(run(final).join("\n")).not.toMatch(/npm (start|run)/)
  })

  it("the build stage can compile better-sqlite3 from source: python3, make and g++ before the install", () => {
    const install = build.instructions.findIndex((i) => i.keyword === "RUN" && /npm (ci|install)\b/.test(i.args))
    expect(install).toBeGreaterThan(-1)
    const before = build.instructions.slice(0, install).filter((i) => i.keyword === "RUN").map((i) => i.args).join("\n")
    for (const tool of ["python3", "make", "g++"]) expect(before).toMatch(new RegExp(`apt-get install[^\\n]*\\s${tool.replaceAll("+", "\\+")}(\\s|$)`))
  })

  it("build and runtime share one base image (the addon is compiled for its Node ABI and glibc)", () => {
    expect(build.from.replace(/\s+AS\s+\S+$/i, "")).toBe(final.from.replace(/\s+AS\s+\S+$/i, ""))
  })

  it("the runtime stage ships better-sqlite3's addon and everything it requires at runtime", () => {
    const copied = copiesFrom(final, "build").map(({ destination }) => Path.posix.normalize(destination))
    expect(copied).toContain("node_modules/better-sqlite3/build/Release/")
    expect(copied).toContain("node_modules/better-sqlite3/lib")
    // Its dependencies, transitively, except prebuild-install: its `install` script, never required at runtime.
    const installOnly = new Set(["prebuild-install"])
    const needed = new Set<string>()
    const visit = (name: string) => {
      const manifest = JSON.parse(Fs.readFileSync(`node_modules/${name}/package.json`, "utf8"))
      for (const dependency of Object.keys(manifest.dependencies ?? {})) {
        if (installOnly.has(dependency) || needed.has(dependency)) continue
        needed.add(dependency)
        visit(dependency)
      }
    }
    visit("better-sqlite3")
    expect([...needed].sort()).toEqual(["bindings", "file-uri-to-path"])
    for (const name of needed) expect(copied).toContain(`node_modules/${name}`)
  })

  it("DATA_DIR exists and is writable by node for the SQLite default, with no VOLUME forced on Postgres users", () => {
    const envLine = final.instructions.filter((i) => i.keyword === "ENV").map((i) => i.args).join(" ")
    const dataDir = /\bDATA_DIR=(\S+)/.exec(envLine)?.[1] ?? "DATA_DIR is not set"
    expect(run(final).join("\n")).toMatch(new RegExp(`mkdir -p ${dataDir} && chown node:node ${dataDir}`))
    expect(final.instructions.map((i) => i.keyword)).not.toContain("VOLUME")
  })
})
