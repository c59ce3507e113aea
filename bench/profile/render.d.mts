// Types for bench/profile/render.mjs (tested by test/bench/profile.test.ts).
import type { Result } from "../report.mjs"
import type { Bucket } from "./cpuProfile.mjs"
type Top = ReadonlyArray<{ readonly name: string; readonly ms: number; readonly share: number }>
export interface LoadRun {
  readonly requests: number
  readonly reqPerSec: number
  readonly totalMs: number
  readonly buckets: ReadonlyArray<Bucket>
  readonly top: Top
}
export interface CpuPerRequest {
  readonly requests: number
  readonly process: number
  readonly system: number
  readonly mainThread: number
  readonly mainThreadWaiting: number
  readonly reads: number
  readonly writes: number
  readonly sleeps: number
  readonly preemptions: number
}
export type Profile =
  | { readonly kind: "throughput"; readonly path: string; readonly service: LoadRun; readonly raw: LoadRun; readonly rawSeconds: number; readonly cpu?: Readonly<Record<string, CpuPerRequest>> | undefined; readonly notes: ReadonlyArray<string> }
  | { readonly kind: "startup"; readonly starts: number; readonly phases: ReadonlyArray<{ readonly phase: string; readonly ms: number }>; readonly firstOkMs: number; readonly totalMs: number; readonly buckets: ReadonlyArray<Bucket>; readonly top: Top; readonly notes: ReadonlyArray<string> }
  | { readonly kind: "memory"; readonly connections: number; readonly rows: ReadonlyArray<{ readonly key: string; readonly label: string; readonly rss: number; readonly heapUsed: number; readonly external: number; readonly rest: number; readonly heapCommitted: number }> }
  | { readonly error: string }
export declare const renderWhereTheTimeGoes: (input: {
  readonly profiled: ReadonlyArray<{ readonly result: Result; readonly profile: Profile }>
  readonly mode: "missed" | "all"
  readonly tookS: number
}) => string | undefined
