// Types for bench/profile/cpuProfile.mjs (tested by test/bench/profile.test.ts).
import type { SourceMap } from "node:module"
export interface CallFrame {
  readonly functionName: string
  readonly scriptId?: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
export interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly hitCount?: number
  readonly children?: ReadonlyArray<number>
}
export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}
export interface Frame {
  readonly functionName: string
  readonly source: string
  readonly line: number
  readonly pseudo?: boolean
}
export interface Entry {
  readonly ms: number
  readonly frame: Frame
  readonly native?: string
  readonly stack: ReadonlyArray<Frame>
}
export interface Bucket {
  readonly bucket: string
  readonly ms: number
  readonly share: number
  readonly top: ReadonlyArray<{ readonly name: string; readonly ms: number }>
}
export type Rule = readonly [string, (entry: Entry) => boolean]
export declare const selfTimes: (profile: CpuProfile) => Map<number, number>
export declare const normalizeSource: (source: string) => string
export declare const sourceMapOf: (json: string | object) => SourceMap
export declare const frameOf: (callFrame: CallFrame, maps: ReadonlyMap<string, SourceMap>) => Frame
export declare const entriesOf: (profile: CpuProfile, maps?: ReadonlyMap<string, SourceMap>) => Array<Entry>
export declare const withinWindow: (profile: CpuProfile, from: number, to: number) => CpuProfile | undefined
export declare const monotonicMicros: () => number
export declare const profiledMs: (profile: CpuProfile) => number
export declare const bucketize: (entries: ReadonlyArray<Entry>, rules: ReadonlyArray<Rule>, totalMs?: number) => Array<Bucket>
export declare const functionLabel: (entry: Pick<Entry, "frame" | "native">) => string
export declare const topFunctions: (entries: ReadonlyArray<Entry>, count: number, totalMs: number) => Array<{ readonly name: string; readonly ms: number; readonly share: number }>
