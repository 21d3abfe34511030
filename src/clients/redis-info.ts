/** `key:value` lines of an INFO section as a map. */
export function parseInfo(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0 && !line.startsWith("#")) map.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return map;
}

/** Keys and expires per database from INFO keyspace (`db0:keys=10,expires=2,...`). */
export function parseKeyspace(text: string): { keys: Record<string, number>; expires: Record<string, number> } {
  const keys: Record<string, number> = {};
  const expires: Record<string, number> = {};
  for (const [db, value] of parseInfo(text)) {
    if (!/^db\d+$/.test(db)) continue;
    keys[db] = Number(/keys=(\d+)/.exec(value)?.[1] ?? 0);
    expires[db] = Number(/expires=(\d+)/.exec(value)?.[1] ?? 0);
  }
  return { keys, expires };
}
