// Types for bench/report.mjs (tested by test/bench/report.test.ts).
import type { Goal, Values } from "./goals.mjs"
export interface Result {
  readonly name: string
  readonly title: string
  readonly unit: string
  readonly better?: string
  readonly servers: ReadonlyArray<string>
  readonly values: Values
  readonly goal?: Goal
  readonly summaryKeys?: ReadonlyArray<string>
}
export interface RunInfo {
  readonly commit: string
  readonly date: string
  readonly machine: string
  readonly load: string
}
export declare const commitOf: () => string
export declare const runInfo: () => RunInfo
export declare const formatNumber: (value: number | string | null | undefined) => string
export declare const formatRatio: (value: unknown, baseline: unknown) => string
export declare const table: (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<unknown>>) => string
export declare const verdict: (goal: Goal | undefined, values: Values) => { readonly text: string; readonly met: boolean | null }
export declare const renderBench: (input: {
  readonly run: RunInfo
  readonly options: string
  readonly results: ReadonlyArray<Result>
  readonly notes: ReadonlyArray<string>
  readonly unmeasuredGoals: ReadonlyArray<string>
  readonly tookS: number
  /** The trial's section carried over from the previous bench/RESULTS.md (a placeholder without one). */
  readonly rolling?: string | undefined
  /** The "Where the time goes" section (bench/profile/render.mjs), when the run profiled a figure. */
  readonly whereTheTimeGoes?: string | undefined
}) => string
export declare const ROLLING_START: string
export declare const ROLLING_END: string
export declare const ROLLING_PLACEHOLDER: string
export declare const rollingSection: (text: string) => string | undefined
export declare const withRollingSection: (text: string, section: string) => string
export declare const rollingSectionOf: (path: string) => string | undefined
export declare const writeResults: (path: string, text: string) => void
