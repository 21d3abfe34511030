export * from "./backup-attempts.ts";
export * from "./freshness.ts";
export * from "./prometheus-textfile.ts";
export * from "./status-metrics.ts";
