import { formatBytes, formatDuration, parseSize } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import { isSeeded, seedSource } from "../../../fixtures/seed-source.ts";
import { workspaceDir } from "../../repository/index.ts";
import { startNativeTarget } from "../../targets/native/native-target.ts";
import { addSecrets, say } from "../output.ts";
import { loadCommandConfig } from "../session.ts";

/** `dr-drill seed`: fill the embedded workspace's servers with the fixtures and print what is there. */
export async function seedCommand(options: { target?: string; size?: string }): Promise<number> {
  const bytes = options.size === undefined ? undefined : parseSize(options.size);
  if (options.size !== undefined && bytes === undefined) {
    throw new DrError("CONFIG_INVALID", `unable to parse --size '${options.size}': expected a size such as 50MB, 1GB or 10GB`, { exitCode: 2 });
  }
  const config = await loadCommandConfig(options.target);
  if (config.target !== "native") {
    throw new DrError("CONFIG_INVALID", `unable to seed target '${config.target}': only the embedded workspace (native) is seeded by this command`, {
      hint: config.target === "external" ? "dr-drill only ever reads a team's own servers" : "the drill seeds its own containers",
      exitCode: 2,
    });
  }
  if (bytes !== undefined) config.fixtures.postgresBytes = bytes;
  await using target = await startNativeTarget({ stateDir: workspaceDir(config) });
  addSecrets([target.postgres.password, target.redis.password]);
  if (await isSeeded(target)) {
    say("The source database already has tables; nothing seeded.");
  } else {
    const seeded = await seedSource(target, config);
    say(`PostgreSQL: ${Object.keys(seeded.postgres.tables).length} tables, ${formatBytes(seeded.postgres.databaseBytes)} in ${formatDuration(seeded.postgres.durationMs)}`);
    say(`Redis: ${seeded.redis.keys} keys (${Object.entries(seeded.redis.byType).map(([t, n]) => `${n} ${t}`).join(", ")}), ${seeded.redis.withTtl} with TTL`);
    say(`Media: ${seeded.media.files} files (${formatBytes(seeded.media.bytes)}) plus ${seeded.media.excluded} files to exclude`);
  }
  const d = target.describe();
  say(`Target ${d.kind}: ${d.postgres}; ${d.redis}; ${d.s3}; media ${target.mediaDir}`);
  return 0;
}
