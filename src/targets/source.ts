import type { TargetKind } from "../config/index.ts";
import type { PostgresEndpoint, RedisEndpoint, StartedTarget } from "./target.ts";

/**
 * What is protected: any subset of a PostgreSQL database, a Redis server and a media
 * folder (at least one). It may be down: only commands that read it (backup, the drill's
 * comparisons with the live data) ever connect, and only to the components they touch.
 */
export interface Source {
  kind: TargetKind;
  /** The database backed up, when the source has one. */
  postgres: PostgresEndpoint | undefined;
  /** The Redis server backed up, when the source has one. */
  redis: RedisEndpoint | undefined;
  /** The media folder backed up, when the source has one. */
  mediaDir: string | undefined;
  /** False for a team's own servers: dr-drill only ever reads them. */
  writable: boolean;
}

/** A rehearsal target seen as a source: all three components, writable unless external. */
export function sourceOfTarget(target: StartedTarget): Source {
  return { kind: target.kind, postgres: target.postgres, redis: target.redis, mediaDir: target.mediaDir, writable: !target.readOnlySource };
}
