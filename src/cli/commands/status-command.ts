import { configuredComponents, formatBytes, formatDuration } from "../../config/index.ts";
import { readComponentStatus, statusMetrics, writeTextfile, type ComponentStatus } from "../../status/index.ts";
import { formatTable, say, warn } from "../output.ts";
import { componentsToRead, openRepositorySession } from "../session.ts";

/**
 * `dr-drill status [component] [--json] [--prometheus FILE]`: freshness of each configured
 * component from the repository alone (newest complete backup, its age against the
 * interval plus grace, the last recorded attempt). Exit 0 when all are fresh and their
 * last attempts succeeded, 1 otherwise (each problem named), 2 on configuration errors.
 */
export async function statusCommand(which: string | undefined, options: { target?: string; json?: boolean; prometheus?: string }): Promise<number> {
  await using session = await openRepositorySession({ target: options.target });
  const { storage } = session.repository;
  await storage.check();
  const configured = configuredComponents(session.config);
  const components = which === undefined ? (["postgres", "redis", "media"] as const) : componentsToRead(session.config, which);
  const now = new Date();
  const statuses: ComponentStatus[] = [];
  for (const component of components) {
    statuses.push(await readComponentStatus(storage, session.config, component, configured.includes(component) || which !== undefined, now));
  }
  if (options.prometheus) await writeTextfile(options.prometheus, statusMetrics(statuses, now));
  if (options.json) {
    say(JSON.stringify({ at: now.toISOString(), repository: storage.location, ok: statuses.every((s) => s.ok), components: statuses }, null, 2));
  } else {
    say(`Repository ${storage.location} at ${now.toISOString()}`);
    say(formatTable(
      ["COMPONENT", "STATUS", "NEWEST", "AGE", "SIZE", "INTERVAL", "LAST ATTEMPT"],
      statuses.map((s) => [
        s.component,
        s.verdict,
        s.newest?.id ?? "-",
        s.ageMs === undefined ? "-" : formatDuration(s.ageMs),
        s.newest ? formatBytes(s.newest.storedBytes) : "-",
        s.verdict === "not configured" ? "-" : formatDuration(s.intervalMs),
        s.lastAttempt ? `${s.lastAttempt.outcome} ${s.lastAttempt.finishedAt ?? s.lastAttempt.startedAt}` : "none recorded",
      ]),
    ));
    for (const problem of statuses.flatMap((s) => s.problems)) warn(`dr-drill: ${problem}`);
  }
  return statuses.every((s) => s.ok) ? 0 : 1;
}
