export * from "./dr-error.ts";
