import { stat } from "node:fs/promises";
import { connectPostgres, connectRedis, parsePostgresUrl, parseRedisUrl } from "../../clients/index.ts";
import { COMPONENT_VARIABLE, type ComponentName, type DrConfig } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import type { Source } from "../source.ts";

/**
 * A team's own servers as configured (DR_DATABASE_URL, DR_REDIS_URL, DR_MEDIA_DIR, any
 * subset). Nothing is connected here: a source that is down must not stop a command that
 * does not read it.
 */
export function externalSource(config: DrConfig): Source {
  const ext = config.external;
  return {
    kind: "external",
    postgres: ext?.databaseUrl ? parsePostgresUrl(ext.databaseUrl, "DR_DATABASE_URL") : undefined,
    redis: ext?.redisUrl ? parseRedisUrl(ext.redisUrl, "DR_REDIS_URL") : undefined,
    mediaDir: ext?.mediaDir,
    writable: false,
  };
}

/** A component named explicitly but not configured is a usage error naming the variable to set. */
export function assertConfigured(source: Source, component: ComponentName, action: string): void {
  const present = component === "postgres" ? source.postgres : component === "redis" ? source.redis : source.mediaDir;
  if (present !== undefined) return;
  throw new DrError("CONFIG_MISSING", `unable to ${action} ${component}: it is not configured (${COMPONENT_VARIABLE[component]} is not set)`, {
    hint: `set ${COMPONENT_VARIABLE[component]} (or its dr.config.ts key) to protect ${component}, or name only the configured components`,
  });
}

/** Check the given components of the source answer, each failure naming its variable (exit 2). */
export async function assertSourceReachable(source: Source, components: readonly ComponentName[]): Promise<void> {
  for (const component of components) {
    if (component === "postgres" && source.postgres) {
      const client = await connectPostgres(source.postgres, source.postgres.database, COMPONENT_VARIABLE.postgres);
      await client.end();
    } else if (component === "redis" && source.redis) {
      const client = await connectRedis(source.redis, COMPONENT_VARIABLE.redis);
      client.disconnect();
    } else if (component === "media" && source.mediaDir) {
      const info = await stat(source.mediaDir).catch(() => undefined);
      if (!info?.isDirectory()) {
        throw new DrError("CONFIG_INVALID", `unable to open media folder '${source.mediaDir}': not a directory (from ${COMPONENT_VARIABLE.media})`, {
          hint: `point ${COMPONENT_VARIABLE.media} at the folder your application stores uploads in`,
        });
      }
    }
  }
}
