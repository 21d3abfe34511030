export * from "./postgres-client.ts";
export * from "./redis-client.ts";
export type * from "./endpoints.ts";
export * from "./redis-info.ts";
