// Types for bench/levers.mjs (tested by test/bench/profile.test.ts).
export declare const levers: Readonly<Record<string, string>>
export declare const leverFor: (bucket: string) => string
export declare const memoryLevers: Readonly<Record<"heapUsed" | "external" | "rest", string>>
