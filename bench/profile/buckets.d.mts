// Types for bench/profile/buckets.mjs (tested by test/bench/profile.test.ts).
import type { Rule } from "./cpuProfile.mjs"
export declare const requestBuckets: ReadonlyArray<Rule>
export declare const startupBuckets: ReadonlyArray<Rule>
