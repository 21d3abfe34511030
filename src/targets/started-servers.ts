import type { PostgresEndpoint, RedisEndpoint } from "../clients/endpoints.ts";

/** A PostgreSQL server this process started and will stop. */
export interface StartedPostgres extends AsyncDisposable {
  endpoint: PostgresEndpoint;
  /** `15.18` style version string reported by the server. */
  version: string;
  /** Process id when it runs on this machine (tests check it is gone after stop). */
  pid?: number;
  /** Its temporary folder when it has one (tests check it is gone after stop). */
  dir?: string;
  stop(): Promise<void>;
}

/** A Redis server this process started and will stop. */
export interface StartedRedis extends AsyncDisposable {
  endpoint: RedisEndpoint;
  version: string;
  pid?: number;
  dir?: string;
  stop(): Promise<void>;
}
