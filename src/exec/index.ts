export * from "./binaries.ts";
export * from "./os-user.ts";
export * from "./run-command.ts";
