// Types for scripts/build-inputs.mjs (imported by test/support/globalSetup.ts and its test).
export declare const BUILD_INPUTS: ReadonlyArray<string>
export declare const STAMP: string
export declare const inputsHash: (root: string) => string
export declare const buildDecision: (root: string) => { readonly rebuild: boolean; readonly reason: string }
export declare const removeStamp: (root: string) => void
export declare const writeStamp: (root: string, hash: string) => void
