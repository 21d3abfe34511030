import type { ComponentName } from "../config/index.ts";
import type { BackupManifest } from "../manifest/index.ts";
import type { BackupContext } from "./backup-context.ts";
import { backupMedia } from "./media/media-backup.ts";
import { backupPostgres } from "./postgres/postgres-backup.ts";
import { backupRedis } from "./redis/redis-backup.ts";

/** Back up one component. */
export async function runBackup(component: ComponentName, ctx: BackupContext): Promise<BackupManifest> {
  switch (component) {
    case "postgres":
      return await backupPostgres(ctx);
    case "redis":
      return await backupRedis(ctx);
    case "media":
      return await backupMedia(ctx);
  }
}
