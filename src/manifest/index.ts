export * from "./backup-id.ts";
export * from "./backup-manifest.ts";
export * from "./manifest-store.ts";
export * from "./manifest-checks.ts";
