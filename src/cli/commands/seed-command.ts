import { formatBytes, formatDuration, parseSize } from "../../config/index.ts";
import { DrError } from "../../errors/index.ts";
import { isSeeded, seedSource } from "../../drill/seed-source.ts";
import { say } from "../output.ts";
import { openSession } from "../session.ts";

/** `dr-drill seed`: fill the workspace's servers with the fixtures and print what is there. */
export async function seedCommand(options: { target?: string; size?: string }): Promise<number> {
  const bytes = options.size === undefined ? undefined : parseSize(options.size);
  if (options.size !== undefined && bytes === undefined) {
    throw new DrError("CONFIG_INVALID", `unable to parse --size '${options.size}': expected a size such as 50MB, 1GB or 10GB`, { exitCode: 2 });
  }
  await using session = await openSession({ target: options.target, persistent: true });
  if (bytes !== undefined) session.config.fixtures.postgresBytes = bytes;
  if (await isSeeded(session.target)) {
    say("The source database already has tables; nothing seeded.");
  } else {
    const seeded = await seedSource(session.target, session.config);
    say(`PostgreSQL: ${Object.keys(seeded.postgres.tables).length} tables, ${formatBytes(seeded.postgres.databaseBytes)} in ${formatDuration(seeded.postgres.durationMs)}`);
    say(`Redis: ${seeded.redis.keys} keys (${Object.entries(seeded.redis.byType).map(([t, n]) => `${n} ${t}`).join(", ")}), ${seeded.redis.withTtl} with TTL`);
    say(`Media: ${seeded.media.files} files (${formatBytes(seeded.media.bytes)}) plus ${seeded.media.excluded} files to exclude`);
  }
  const d = session.target.describe();
  say(`Target ${d.kind}: ${d.postgres}; ${d.redis}; ${d.s3}; media ${session.target.mediaDir}`);
  return 0;
}
