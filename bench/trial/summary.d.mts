// Types for bench/trial/summary.mjs (tested by test/bench/report.test.ts).
import type { RunInfo } from "../report.mjs"
export interface ReplicaExit {
  readonly name: string
  readonly code: number | string | null
  readonly exitMs: number
}
export interface RequestStats {
  readonly sent: number
  readonly ok: number
  readonly tooMany: number
  readonly failed: number
}
export interface BroadcastRow {
  readonly sent: number
  readonly received: number
  readonly expected: number
  readonly missing: number
  readonly duplicates: number
  readonly reconnects: number
}
export interface Missed {
  readonly cause: string
}
export declare const GOAL_TEXT: string
export declare const goalMet: (input: { readonly failed: number; readonly lost: number; readonly twice: number; readonly replicas: ReadonlyArray<ReplicaExit> }) => boolean
export declare const missingNote: (missed: ReadonlyArray<Missed>, edgeMs: number) => string
export declare const renderRollingSection: (input: {
  readonly run: RunInfo
  readonly version: string
  readonly tookS: string | number
  readonly goal: boolean
  readonly http: RequestStats
  readonly posts: RequestStats
  readonly jobs: { readonly acked: number; readonly lost: number; readonly twice: number }
  readonly wsRows: ReadonlyArray<BroadcastRow>
  readonly missed: ReadonlyArray<Missed>
  readonly rolled: ReadonlyArray<ReplicaExit>
  readonly finals: ReadonlyArray<ReplicaExit>
}) => string
