import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";

/** One run's headline figures, appended to the history file so reports can show trends. */
export interface HistoryPoint {
  /** When the run finished, ISO. */
  at: string;
  /** Which job wrote it: `drill` or `test:ops`. */
  job: string;
  target: string;
  /** Newest PostgreSQL dump as stored, bytes. */
  dumpBytes: number | undefined;
  /** Database restore rate, GB/min. */
  restoreGbPerMin: number | undefined;
  /** Measured PostgreSQL RTO, ms. */
  rtoMs: number | undefined;
  /** Measured data loss, ms. */
  lossMs: number | undefined;
}

/** Read the history (JSON lines); a missing file is an empty history, bad lines are skipped. */
export async function readHistory(path: string): Promise<HistoryPoint[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  const points: HistoryPoint[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      points.push(JSON.parse(line) as HistoryPoint);
    } catch {
      // A torn line from an interrupted write: skip it.
    }
  }
  return points;
}

/** Append one point. */
export async function appendHistory(path: string, point: HistoryPoint): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, `${JSON.stringify(point)}\n`);
}
