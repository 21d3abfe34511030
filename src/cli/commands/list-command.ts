import { formatBytes } from "../../config/index.ts";
import { listBackups, type BackupEntry } from "../../manifest/index.ts";
import { formatTable, say } from "../output.ts";
import { openSession } from "../session.ts";
import { parseComponents } from "./backup-command.ts";

/** `dr-drill list [component] [--json]`: every backup folder with its status. */
export async function listCommand(which: string | undefined, options: { target?: string; json?: boolean }): Promise<number> {
  const components = parseComponents(which);
  await using session = await openSession({ target: options.target, persistent: true });
  await session.storage.check();
  const entries: BackupEntry[] = [];
  for (const component of components) entries.push(...(await listBackups(session.storage, component)));
  if (options.json) {
    say(JSON.stringify(entries.map((e) => ({
      id: e.id,
      component: e.component,
      status: e.status,
      startedAt: e.date.toISOString(),
      finishedAt: e.manifest?.finishedAt,
      storedBytes: e.manifest?.storedBytes ?? e.bytes,
      encrypted: e.manifest ? e.manifest.encryption.format === "age" : undefined,
      sha256: e.manifest?.parts[0]?.sha256,
    })), null, 2));
    return 0;
  }
  if (entries.length === 0) {
    say(`No backups in ${session.storage.location}.`);
    return 0;
  }
  say(formatTable(
    ["ID", "STATUS", "STORED", "ENCRYPTED", "FINISHED"],
    entries.map((e) => [e.id, e.status, formatBytes(e.manifest?.storedBytes ?? e.bytes), e.manifest ? (e.manifest.encryption.format === "age" ? "yes" : "NO") : "-", e.manifest?.finishedAt ?? "-"]),
  ));
  return 0;
}
