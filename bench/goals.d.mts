// Types for bench/goals.mjs (tested by test/bench/report.test.ts).
export type Values = Readonly<Record<string, number | null | undefined>>
export interface Goal {
  readonly text: string
  readonly check: (values: Values) => boolean | null
}
export declare const atLeast: (text: string, ...bounds: ReadonlyArray<readonly [number, string]>) => Goal
export declare const atMost: (text: string, factor: number, key: string) => Goal
export declare const atMostAbsolute: (text: string, limit: number) => Goal
