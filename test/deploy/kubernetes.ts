// Reads the Kubernetes manifests of one deploy variant into the parts the deploy tests check. A
// variant is built from plain documents, so a test can break a copy and prove a check notices.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parseAllDocuments } from "yaml"

export interface EnvEntry {
  readonly name: string
  readonly value?: string
  readonly valueFrom?: { readonly secretKeyRef?: { readonly name: string; readonly key: string; readonly optional?: boolean } }
}

/** One YAML document and the file it came from. */
export interface Manifest {
  readonly file: string
  readonly doc: Record<string, any>
}

export interface Variant {
  readonly manifests: ReadonlyArray<Manifest>
  readonly deployment: Record<string, any>
  readonly pod: Record<string, any>
  readonly container: Record<string, any>
  readonly envEntries: ReadonlyArray<EnvEntry>
  /** Literal env values by name (entries taken from a Secret have none). */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly ofKind: (kind: string) => ReadonlyArray<Record<string, any>>
  readonly portNumber: (name: string) => number | undefined
}

export const readManifests = (files: ReadonlyArray<string>): Array<Manifest> =>
  files.flatMap((file) =>
    parseAllDocuments(Fs.readFileSync(file, "utf8")).map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map(String).join("; ")}`)
      return { file, doc: document.toJS() as Record<string, any> }
    })
  )

/** Every file of a directory (not its subdirectories), templates such as *.yaml.example included. */
export const filesIn = (dir: string): Array<string> =>
  Fs.readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => Path.join(dir, entry.name)).sort()

export const variantOf = (manifests: ReadonlyArray<Manifest>): Variant => {
  const ofKind = (kind: string) => manifests.filter(({ doc }) => doc?.kind === kind).map(({ doc }) => doc)
  const deployments = ofKind("Deployment")
  if (deployments.length !== 1) throw new Error(`expected one Deployment, found ${deployments.length}`)
  const deployment = deployments[0]!
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]
  const envEntries: ReadonlyArray<EnvEntry> = container.env ?? []
  return {
    manifests,
    deployment,
    pod,
    container,
    envEntries,
    env: Object.fromEntries(envEntries.map((entry) => [entry.name, entry.value])),
    ofKind,
    portNumber: (name) => container.ports?.find((port: { name: string }) => port.name === name)?.containerPort
  }
}

/** A deep copy of `manifests` with `change` applied to it: for proving that a check can fail. */
export const broken = (manifests: ReadonlyArray<Manifest>, change: (copy: Array<Manifest>) => void): Variant => {
  const copy = structuredClone([...manifests])
  change(copy)
  return variantOf(copy)
}

/** What `kubectl apply -f <dir>` picks up from a directory. */
export const appliedByKubectl = (file: string) => /\.(ya?ml|json)$/.test(file)
