/** Throughput in GB per minute (decimal GB, as the reference's "1.22 GB/min"). */
export function gbPerMinute(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e9 / (ms / 60_000) : Number.NaN;
}
