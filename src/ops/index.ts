export * from "./ops-check.ts";
export * from "./ops-checks.ts";
export * from "./run-ops-checks.ts";
