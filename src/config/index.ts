export * from "./config-types.ts";
export * from "./load-config.ts";
export * from "./secret.ts";
export * from "./units.ts";
