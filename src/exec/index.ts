export * from "./binaries.ts";
export * from "./run-command.ts";
