/** Whether a dump's size is plausible, and against what. */
export interface SizeRangeResult {
  /** Size checked, bytes. */
  size: number;
  /** Median of the recent backups compared with, bytes (undefined without history). */
  median: number | undefined;
  /** size / median. */
  ratio: number | undefined;
  /** Backups the median came from. */
  samples: number;
  /** Configured bounds, bytes. */
  min: number | undefined;
  max: number | undefined;
  ok: boolean;
  /** Why it failed, or what it was compared with. */
  reasons: string[];
}

/** Median of numbers (undefined for none). */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * A dump that shrank by more than half or doubled against the median of recent backups is
 * suspicious (a truncated table, a runaway log table), as is one outside configured bounds.
 */
export function checkSizeRange(size: number, history: readonly number[], bounds: { min?: number | undefined; max?: number | undefined } = {}): SizeRangeResult {
  const m = median(history);
  const ratio = m ? size / m : undefined;
  const reasons: string[] = [];
  if (bounds.min !== undefined && size < bounds.min) reasons.push(`below the configured minimum (${bounds.min} bytes)`);
  if (bounds.max !== undefined && size > bounds.max) reasons.push(`above the configured maximum (${bounds.max} bytes)`);
  if (ratio !== undefined && ratio < 0.5) reasons.push(`shrank to ${(ratio * 100).toFixed(0)}% of the median of the last ${history.length} backups`);
  if (ratio !== undefined && ratio > 2) reasons.push(`grew to ${(ratio * 100).toFixed(0)}% of the median of the last ${history.length} backups`);
  return { size, median: m, ratio, samples: history.length, min: bounds.min, max: bounds.max, ok: reasons.length === 0, reasons };
}
