export * from "./repository.ts";
export * from "./repository-keys.ts";
export * from "./open-repository.ts";
export * from "./replicate-backup.ts";
export * from "./incomplete-uploads.ts";
