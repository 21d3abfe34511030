/** Placeholder replaced by the drill. */
export async function drillCommand(_opts: { target?: string; keep?: boolean }): Promise<number> {
  return 1;
}
