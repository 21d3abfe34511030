// The line a dr-drill CLI prints at exit when the bench loads peak-rss-preload.ts into it.

/** Start of the line; the process's own peak RSS in KiB follows. */
export const PEAK_RSS_PREFIX = "dr-drill-bench peak-rss-kib ";

/** The peak RSS in bytes from a process's stderr lines, or undefined when it printed none. */
export function parsePeakRss(lines: readonly string[]): number | undefined {
  const line = lines.findLast((l) => l.startsWith(PEAK_RSS_PREFIX));
  const kib = line === undefined ? Number.NaN : Number(line.slice(PEAK_RSS_PREFIX.length).trim());
  return Number.isFinite(kib) && kib > 0 ? kib * 1024 : undefined;
}
