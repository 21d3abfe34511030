import type { TargetKind } from "../config/index.ts";
import type { PostgresEndpoint, RedisEndpoint } from "../clients/endpoints.ts";
import type { S3Endpoint } from "../storage/s3-endpoint.ts";
import type { StageProvider } from "./stage.ts";
import type { StartedPostgres, StartedRedis } from "./started-servers.ts";

export type { StartedPostgres, StartedRedis };

// Endpoint types live with the clients and the storage; re-exported for existing callers.
export type { PostgresEndpoint, RedisEndpoint, S3Endpoint };

/** Everything the report should say about where the servers came from. */
export interface TargetDescription {
  kind: TargetKind;
  postgres: string;
  redis: string;
  s3: string;
  /** Images, for the containers target. */
  images?: Record<string, string>;
  /** Where restores were proven, when not the target's own scratch servers. */
  sandbox?: string;
}

/** What a scratch PostgreSQL must be able to restore: a dump of this server major. */
export interface ScratchPostgresOptions {
  /** The source server's major version recorded in the backup's manifest. */
  major?: number;
}

/** Where restores are proven: fresh, empty servers that are never the source. */
export interface ScratchServers {
  /** A fresh, empty PostgreSQL server to restore into (refused, naming both versions, when it cannot read a dump of `major`). */
  startScratchPostgres(options?: ScratchPostgresOptions): Promise<StartedPostgres>;
  /** A fresh Redis server loading the given RDB file. */
  startScratchRedis(rdbFile: string): Promise<StartedRedis>;
}

/**
 * A started rehearsal target (native or containers): it provides all three parts of the
 * model at once, the source servers (PostgreSQL, Redis, media folder) it seeds and breaks,
 * the S3 endpoint of the repository, and the sandbox's scratch servers. Disposing it stops
 * everything it started and removes its temporary folders. A team's own production is not
 * a StartedTarget: it is an external Source plus a Repository plus a Sandbox, opened
 * separately by each command as it needs them (see source.ts, sandbox.ts, repository/).
 */
export interface StartedTarget extends ScratchServers, AsyncDisposable {
  kind: TargetKind;
  postgres: PostgresEndpoint;
  redis: RedisEndpoint;
  /** The media folder backed up. */
  mediaDir: string;
  s3: S3Endpoint;
  /** True when the source servers belong to someone else: never written to. */
  readOnlySource: boolean;
  /** Throwaway copies of the source for the failure scenarios, or why this target has none. */
  stages: StageProvider;
  describe(): TargetDescription;
  stop(): Promise<void>;
}
