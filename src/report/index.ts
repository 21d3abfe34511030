export * from "./build-report.ts";
export * from "./history.ts";
export * from "./render-markdown.ts";
export * from "./report-model.ts";
export * from "./write-report.ts";
export * from "./drill-metrics.ts";
