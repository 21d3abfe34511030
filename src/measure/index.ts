export * from "./rate.ts";
export * from "./rpo.ts";
export * from "./rto.ts";
export * from "./size-range.ts";
export * from "./step-recorder.ts";
export * from "./verdict.ts";
