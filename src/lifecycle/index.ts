export * from "./cleanup-registry.ts";
export * from "./free-port.ts";
export * from "./temp-dir.ts";
export * from "./wait-until.ts";
