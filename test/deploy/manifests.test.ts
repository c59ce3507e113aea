// The deploy files keep the lifecycle contract: probes on the right routes, a grace period longer
// than the service's own shutdown, the admin port never exposed, a non-root image whose PID 1 is node;
// and the job store's: SQLite means one replica (Recreate) with DATA_DIR on a volume; the fleet
// (Postgres + Redis) rolls out without dropping below its replica count, has a disruption budget,
// takes its secrets from a Secret and has no volume; the image can build and ship better-sqlite3's
// native addon. Each Kubernetes check is also run against a broken copy, to prove it can fail.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { describe, expect, it } from "vitest"
import { FORCE_GRACE_MS } from "../../src/lifecycle/ShutdownRunner.js"
import { copiesFrom, installOf, readDockerfile, type Stage } from "./dockerfile.js"
import { appliedByKubectl, broken, filesIn, type Manifest, readManifests, type Variant, variantOf } from "./kubernetes.js"

const singleFiles = readManifests(["deploy/kubernetes/deployment.yaml"])
const fleetFiles = readManifests(filesIn("deploy/kubernetes/fleet"))
const single = variantOf(singleFiles)
const fleet = variantOf(fleetFiles)
const service = readManifests(["deploy/kubernetes/service.yaml"]).find(({ doc }) => doc.kind === "Service")!.doc
const hasJobs = Fs.existsSync("src/jobs")
const fleetSecrets = ["DATABASE_URL", "REDIS_URL", "ADMIN_TOKEN"]

type Check = (variant: Variant) => void

/** Checks both variants keep. */
const lifecycle = {
  "liveness is /healthz and readiness is /readyz, both on the public port": ({ container, env, portNumber }) => {
    expect(container.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "http" })
    expect(container.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "http" })
    expect(portNumber("http")).toBe(Number(env.PORT))
  },
  "the grace period exceeds DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (+ the forced exit's grace), with no preStop taking from it": ({ container, env, pod }) => {
    expect(Number(env.DRAIN_DELAY_MS)).toBeGreaterThan(0)
    expect(Number(env.SHUTDOWN_TIMEOUT_MS)).toBeGreaterThan(0)
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      Number(env.DRAIN_DELAY_MS) + Number(env.SHUTDOWN_TIMEOUT_MS) + FORCE_GRACE_MS
    )
    // DRAIN_DELAY_MS does a preStop sleep's job; a hook would spend the grace period before SIGTERM.
    expect(container.lifecycle?.preStop).toBeUndefined()
  },
  "the Service selects these pods": ({ deployment }) => {
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels)
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels)
  },
  "runs as non-root": ({ pod }) => {
    expect(pod.securityContext.runAsNonRoot).toBe(true)
  }
} satisfies Record<string, Check>

/** The single-replica SQLite variant. */
const sqlite = {
  "SQLite: no DATABASE_URL, one replica, Recreate, DATA_DIR on the claimed ReadWriteOnce volume": (variant) => {
    const { container, deployment, env, envEntries, ofKind, pod } = variant
    expect(envEntries.map((entry) => entry.name)).not.toContain("DATABASE_URL")
    expect(deployment.spec.replicas).toBe(1)
    expect(deployment.spec.strategy).toEqual({ type: "Recreate" })
    expect(env.DATA_DIR).toBeDefined()
    const mount = (container.volumeMounts ?? []).find((m: { mountPath: string }) => m.mountPath === env.DATA_DIR)
    expect(mount).toBeDefined()
    const volume = (pod.volumes ?? []).find((v: { name: string }) => v.name === mount.name)
    const claims = ofKind("PersistentVolumeClaim")
    expect(claims).toHaveLength(1)
    expect(volume?.persistentVolumeClaim?.claimName).toBe(claims[0]!.metadata.name)
    expect(claims[0]!.spec.accessModes).toEqual(["ReadWriteOnce"])
  }
} satisfies Record<string, Check>

/** The fleet variant (Postgres + Redis). */
const fleetChecks = {
  "three replicas": ({ deployment }) => {
    expect(deployment.spec.replicas).toBe(3)
  },
  "RollingUpdate with maxUnavailable 0 and a surge of one pod": ({ deployment }) => {
    expect(deployment.spec.strategy.type).toBe("RollingUpdate")
    // 0 means no old pod stops before a new one is ready; a surge of 0 too would stall the rollout.
    expect(deployment.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 })
  },
  "a PodDisruptionBudget over the same pods allows one disruption at a time": ({ deployment, ofKind }) => {
    const budgets = ofKind("PodDisruptionBudget")
    expect(budgets).toHaveLength(1)
    const budget = budgets[0]!
    expect(budget.apiVersion).toBe("policy/v1")
    expect(budget.spec.selector).toEqual({ matchLabels: deployment.spec.selector.matchLabels })
    // Exactly one: zero would block every node drain, two would leave one replica of three.
    const { maxUnavailable, minAvailable } = budget.spec
    expect([maxUnavailable, minAvailable].filter((value) => value !== undefined)).toHaveLength(1)
    const allowed = maxUnavailable ?? deployment.spec.replicas - minAvailable
    expect(allowed).toBe(1)
  },
  "DATABASE_URL, REDIS_URL and ADMIN_TOKEN come from the Secret, never a literal": ({ container, envEntries, ofKind }) => {
    const secrets = ofKind("Secret")
    expect(secrets).toHaveLength(1)
    const secret = secrets[0]!
    const keys = Object.keys({ ...secret.stringData, ...secret.data })
    for (const name of fleetSecrets) {
      const entries = envEntries.filter((entry) => entry.name === name)
      expect(entries, name).toHaveLength(1)
      expect(entries[0]!.value, name).toBeUndefined()
      const ref = entries[0]!.valueFrom?.secretKeyRef
      expect(ref?.name, name).toBe(secret.metadata.name)
      expect(keys, name).toContain(ref?.key)
      expect(ref?.optional, name).not.toBe(true)
    }
    expect(container.envFrom).toBeUndefined()
    // No env value anywhere looks like a URL with credentials.
    for (const entry of envEntries) expect(entry.value ?? "", entry.name).not.toMatch(/:\/\/[^/\s]*@/)
  },
  "the Secret is a template: placeholders only, in a file `kubectl apply -f` on the directory skips": ({ manifests }) => {
    const secret = manifests.find(({ doc }) => doc.kind === "Secret")!
    expect(appliedByKubectl(secret.file), secret.file).toBe(false)
    expect(secret.doc.data).toBeUndefined()
    const values = Object.values(secret.doc.stringData ?? {})
    expect(values.length).toBeGreaterThan(0)
    for (const value of values) expect(value).toMatch(/^<[^>]*>$/)
  },
  "no volume, no mount, no claim (Postgres holds the jobs), and no DATA_DIR": ({ container, env, ofKind, pod }) => {
    expect(pod.volumes ?? []).toEqual([])
    expect(container.volumeMounts ?? []).toEqual([])
    expect(ofKind("PersistentVolumeClaim")).toEqual([])
    expect(env.DATA_DIR).toBeUndefined()
  },
  "the admin listener, when it leaves loopback, has its token": ({ env, envEntries }) => {
    if (["127.0.0.1", "::1", "localhost", undefined].includes(env.ADMIN_HOST)) return
    expect(envEntries.map((entry) => entry.name)).toContain("ADMIN_TOKEN")
  }
} satisfies Record<string, Check>

const envEntry = (copy: Array<Manifest>, name: string) =>
  copy.find(({ doc }) => doc.kind === "Deployment")!.doc.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === name)
const deploymentOf = (copy: Array<Manifest>) => copy.find(({ doc }) => doc.kind === "Deployment")!.doc
const podOf = (copy: Array<Manifest>) => deploymentOf(copy).spec.template.spec
const containerOf = (copy: Array<Manifest>) => podOf(copy).containers[0]
const docOf = (copy: Array<Manifest>, kind: string) => copy.find(({ doc }) => doc.kind === kind)!.doc

/** For each check, breakages of what it guards that it must notice. */
type Breakage = readonly [variant: "single" | "fleet", check: string, what: string, change: (copy: Array<Manifest>) => void]
const breakages: ReadonlyArray<Breakage> = [
  ["fleet", "three replicas", "2 replicas", (c) => (deploymentOf(c).spec.replicas = 2)],
  ["fleet", "RollingUpdate with maxUnavailable 0 and a surge of one pod", "maxUnavailable 1", (c) => (deploymentOf(c).spec.strategy.rollingUpdate.maxUnavailable = 1)],
  ["fleet", "RollingUpdate with maxUnavailable 0 and a surge of one pod", "maxSurge 0", (c) => (deploymentOf(c).spec.strategy.rollingUpdate.maxSurge = 0)],
  ["fleet", "RollingUpdate with maxUnavailable 0 and a surge of one pod", "Recreate", (c) => (deploymentOf(c).spec.strategy = { type: "Recreate" })],
  ["fleet", "RollingUpdate with maxUnavailable 0 and a surge of one pod", "defaults (25%)", (c) => (deploymentOf(c).spec.strategy = { type: "RollingUpdate" })],
  ["fleet", "a PodDisruptionBudget over the same pods allows one disruption at a time", "no budget", (c) => c.splice(c.findIndex(({ doc }) => doc.kind === "PodDisruptionBudget"), 1)],
  ["fleet", "a PodDisruptionBudget over the same pods allows one disruption at a time", "other labels", (c) => (docOf(c, "PodDisruptionBudget").spec.selector = { matchLabels: { app: "other" } })],
  ["fleet", "a PodDisruptionBudget over the same pods allows one disruption at a time", "minAvailable 3", (c) => (docOf(c, "PodDisruptionBudget").spec = { ...docOf(c, "PodDisruptionBudget").spec, maxUnavailable: undefined, minAvailable: 3 })],
  ["fleet", "a PodDisruptionBudget over the same pods allows one disruption at a time", "maxUnavailable 2", (c) => (docOf(c, "PodDisruptionBudget").spec.maxUnavailable = 2)],
  ["fleet", "DATABASE_URL, REDIS_URL and ADMIN_TOKEN come from the Secret, never a literal", "a literal DATABASE_URL", (c) => Object.assign(envEntry(c, "DATABASE_URL"), { value: "postgres://u:p@db/app", valueFrom: undefined })],
  ["fleet", "DATABASE_URL, REDIS_URL and ADMIN_TOKEN come from the Secret, never a literal", "REDIS_URL missing", (c) => (containerOf(c).env = containerOf(c).env.filter((e: { name: string }) => e.name !== "REDIS_URL"))],
  ["fleet", "DATABASE_URL, REDIS_URL and ADMIN_TOKEN come from the Secret, never a literal", "ADMIN_TOKEN from a key the Secret lacks", (c) => (envEntry(c, "ADMIN_TOKEN").valueFrom.secretKeyRef.key = "token")],
  ["fleet", "DATABASE_URL, REDIS_URL and ADMIN_TOKEN come from the Secret, never a literal", "another Secret", (c) => (envEntry(c, "REDIS_URL").valueFrom.secretKeyRef.name = "elsewhere")],
  ["fleet", "DATABASE_URL, REDIS_URL and ADMIN_TOKEN come from the Secret, never a literal", "a literal URL under another name", (c) => containerOf(c).env.push({ name: "PG", value: "postgres://u:p@db/app" })],
  ["fleet", "the Secret is a template: placeholders only, in a file `kubectl apply -f` on the directory skips", "a real-looking value", (c) => (docOf(c, "Secret").stringData["admin-token"] = "s3cr3t")],
  ["fleet", "the Secret is a template: placeholders only, in a file `kubectl apply -f` on the directory skips", "secret.yaml", (c) => Object.assign(c.find(({ doc }) => doc.kind === "Secret")!, { file: "deploy/kubernetes/fleet/secret.yaml" })],
  ["fleet", "no volume, no mount, no claim (Postgres holds the jobs), and no DATA_DIR", "a volume", (c) => (podOf(c).volumes = [{ name: "data", emptyDir: {} }])],
  ["fleet", "no volume, no mount, no claim (Postgres holds the jobs), and no DATA_DIR", "a mount", (c) => (containerOf(c).volumeMounts = [{ name: "data", mountPath: "/data" }])],
  ["fleet", "no volume, no mount, no claim (Postgres holds the jobs), and no DATA_DIR", "a claim", (c) => c.push({ file: "pvc.yaml", doc: { kind: "PersistentVolumeClaim", metadata: { name: "d" } } })],
  ["fleet", "the admin listener, when it leaves loopback, has its token", "no ADMIN_TOKEN", (c) => (containerOf(c).env = containerOf(c).env.filter((e: { name: string }) => e.name !== "ADMIN_TOKEN"))],
  ...(["single", "fleet"] as const).flatMap((variant): Array<Breakage> => [
    [variant, "liveness is /healthz and readiness is /readyz, both on the public port", "readiness on /healthz", (c) => (containerOf(c).readinessProbe.httpGet.path = "/healthz")],
    [variant, "liveness is /healthz and readiness is /readyz, both on the public port", "liveness on /readyz", (c) => (containerOf(c).livenessProbe.httpGet.path = "/readyz")],
    [variant, "liveness is /healthz and readiness is /readyz, both on the public port", "probes on the admin port", (c) => (containerOf(c).livenessProbe.httpGet.port = "admin")],
    [variant, "liveness is /healthz and readiness is /readyz, both on the public port", "PORT not the http port", (c) => (envEntry(c, "PORT").value = "8081")],
    [variant, "the grace period exceeds DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (+ the forced exit's grace), with no preStop taking from it", "grace 15 s", (c) => (podOf(c).terminationGracePeriodSeconds = 15)],
    [variant, "the grace period exceeds DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (+ the forced exit's grace), with no preStop taking from it", "budget 20 s", (c) => (envEntry(c, "SHUTDOWN_TIMEOUT_MS").value = "20000")],
    [variant, "the grace period exceeds DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (+ the forced exit's grace), with no preStop taking from it", "no drain delay", (c) => (containerOf(c).env = containerOf(c).env.filter((e: { name: string }) => e.name !== "DRAIN_DELAY_MS"))],
    [variant, "the grace period exceeds DRAIN_DELAY_MS + SHUTDOWN_TIMEOUT_MS (+ the forced exit's grace), with no preStop taking from it", "a preStop sleep", (c) => (containerOf(c).lifecycle = { preStop: { sleep: { seconds: 5 } } })],
    [variant, "the Service selects these pods", "other labels", (c) => (deploymentOf(c).spec.selector.matchLabels = { app: "other" })],
    [variant, "runs as non-root", "root", (c) => (podOf(c).securityContext.runAsNonRoot = false)]
  ]),
  ["single", "SQLite: no DATABASE_URL, one replica, Recreate, DATA_DIR on the claimed ReadWriteOnce volume", "2 replicas", (c) => (deploymentOf(c).spec.replicas = 2)],
  ["single", "SQLite: no DATABASE_URL, one replica, Recreate, DATA_DIR on the claimed ReadWriteOnce volume", "RollingUpdate", (c) => (deploymentOf(c).spec.strategy = { type: "RollingUpdate" })],
  ["single", "SQLite: no DATABASE_URL, one replica, Recreate, DATA_DIR on the claimed ReadWriteOnce volume", "no volume", (c) => (podOf(c).volumes = undefined)],
  ["single", "SQLite: no DATABASE_URL, one replica, Recreate, DATA_DIR on the claimed ReadWriteOnce volume", "no claim", (c) => c.splice(c.findIndex(({ doc }) => doc.kind === "PersistentVolumeClaim"), 1)],
  ["single", "SQLite: no DATABASE_URL, one replica, Recreate, DATA_DIR on the claimed ReadWriteOnce volume", "mount elsewhere", (c) => (containerOf(c).volumeMounts[0].mountPath = "/var/data")],
  ["single", "SQLite: no DATABASE_URL, one replica, Recreate, DATA_DIR on the claimed ReadWriteOnce volume", "DATABASE_URL", (c) => containerOf(c).env.push({ name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "db", key: "url" } } })]
]

const singleChecks: Record<string, Check> = { ...lifecycle, ...sqlite }
const allFleetChecks: Record<string, Check> = { ...lifecycle, ...fleetChecks }

describe("kubernetes manifests: the single-replica SQLite variant (deploy/kubernetes/deployment.yaml)", () => {
  for (const [name, check] of Object.entries(lifecycle)) it(name, () => check(single))
  for (const [name, check] of Object.entries(sqlite)) it.skipIf(!hasJobs)(name, () => check(single))
})

describe("kubernetes manifests: the fleet variant (deploy/kubernetes/fleet/)", () => {
  for (const [name, check] of Object.entries(allFleetChecks)) it(name, () => check(fleet))
})

describe("kubernetes manifests: the Service", () => {
  it("exposes the public port only, never the admin port", () => {
    const targets = service.spec.ports.map((port: { targetPort: string | number }) => port.targetPort)
    expect(targets).toEqual(["http"])
    for (const variant of [single, fleet]) expect(targets).not.toContain(variant.portNumber("admin"))
  })
})

describe("kubernetes manifests: each check fails on a copy that breaks what it checks", () => {
  it("every check has a breakage", () => {
    const covered = (variant: string) => new Set(breakages.filter(([v]) => v === variant).map(([, check]) => check))
    expect([...covered("single")].sort()).toEqual(Object.keys(singleChecks).sort())
    expect([...covered("fleet")].sort()).toEqual(Object.keys(allFleetChecks).sort())
  })

  it.each(breakages.map(([variant, check, what, change]) => ({ variant, check, what, change })))(
    "$variant, $what: '$check' fails",
    ({ variant, check, what, change }) => {
      const [checks, manifests] = variant === "single" ? [singleChecks, singleFiles] : [allFleetChecks, fleetFiles]
      const copy = broken(manifests, change)
      // An assertion of the check, not a TypeError from a shape it did not expect.
      expect(() => checks[check]!(copy), what).toThrow(expect.objectContaining({ name: "AssertionError" }))
    }
  )
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

  it("the build stage installs exactly the lockfile: npm ci, after copying only package.json and package-lock.json, before any source", () => {
    const { index, args } = installOf(build)
    // npm install may rewrite the lockfile and resolve other versions; npm ci installs what it says or fails.
    expect(args).toMatch(/^npm ci(\s|$)/)
    for (const stage of stages) for (const line of run(stage)) expect(line).not.toMatch(/\bnpm (install|i)\b/)
    const copiedBefore = build.instructions.slice(0, index).filter((i) => i.keyword === "COPY" || i.keyword === "ADD")
    expect(copiedBefore).toEqual([{ keyword: "COPY", args: "package.json package-lock.json ./" }])
    const copiesSource = build.instructions.findIndex((i) => i.keyword === "COPY" && /(^|\s)src(\s|$)/.test(i.args))
    expect(copiesSource).toBeGreaterThan(index)
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
