export * from "./target.ts";
export * from "./select-target.ts";
export { startNativeTarget, NATIVE_SOURCE_DATABASE, type NativeTarget } from "./native/native-target.ts";
export { startNativePostgres, postgresOsUser } from "./native/native-postgres.ts";
export { startNativeRedis } from "./native/native-redis.ts";
export { startNativeS3 } from "./native/native-s3.ts";
export { startExternalTarget } from "./external/external-target.ts";
