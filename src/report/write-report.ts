import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { redactText } from "../config/index.ts";
import type { DrillResult } from "../drill/drill-result.ts";
import type { OpsTestResult } from "../ops/ops-check.ts";
import { buildReport } from "./build-report.ts";
import { appendHistory, readHistory } from "./history.ts";
import type { DrStatusReport } from "./report-model.ts";
import { renderMarkdown } from "./render-markdown.ts";

/** Write a file atomically (a reader never sees half a report). */
async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

/**
 * Write reports/DR_STATUS.md, reports/dr-status.json and append the run to
 * reports/history.jsonl. Known secrets are masked in everything written.
 */
export async function writeReport(options: {
  dir: string;
  job: string;
  drill: DrillResult;
  opsTests: OpsTestResult[];
  opsSource: string;
  secrets: readonly (string | undefined)[];
}): Promise<{ report: DrStatusReport; markdownPath: string }> {
  await mkdir(options.dir, { recursive: true });
  const historyPath = join(options.dir, "history.jsonl");
  const pg = options.drill.backups.filter((b) => b.component === "postgres").at(-1);
  await appendHistory(historyPath, {
    at: options.drill.finishedAt,
    job: options.job,
    target: options.drill.target.kind,
    dumpBytes: pg?.storedBytes,
    restoreGbPerMin: options.drill.rates?.databaseGbPerMin,
    rtoMs: options.drill.recoveries.postgres.rtoMs,
    lossMs: options.drill.rpo.measuredLossMs,
  });
  const report = buildReport(options.job, options.drill, options.opsTests, options.opsSource, await readHistory(historyPath));
  const mask = (text: string) => redactText(text, options.secrets);
  const markdownPath = join(options.dir, "DR_STATUS.md");
  await writeAtomic(markdownPath, mask(renderMarkdown(report)));
  await writeAtomic(join(options.dir, "dr-status.json"), mask(`${JSON.stringify(report, null, 2)}\n`));
  return { report, markdownPath };
}
