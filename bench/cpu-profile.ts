/** The parts of a V8 .cpuprofile (node --cpu-prof) the analysis reads. */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  /** µs. */
  startTime: number;
  endTime: number;
  samples: number[];
  /** µs between samples. */
  timeDeltas: number[];
}

/** What one profiled process did with its wall time. */
export interface ProfileSummary {
  /** From the profile's start to its end, ms. */
  durationMs: number;
  /** Sampled time per category (idle, module loading, GC, src/, SDK, other dependencies, Node internals), ms. */
  byCategory: Record<string, number>;
  /** ms after the profile's start when a function first appeared on a sampled stack (absent: never sampled). */
  firstSeenMs: Record<string, number>;
  /** ms after the profile's start when it was last seen. */
  lastSeenMs: Record<string, number>;
  /** Sampled time per category before the first watched function first ran (the start-up), ms. */
  startupByCategory: Record<string, number>;
}

/** The category of a sampled leaf frame, by its function name and file. */
export function categorize(frame: { functionName: string; url: string }): string {
  if (frame.functionName === "(idle)") return "idle (waiting for I/O, children, the network)";
  if (frame.functionName === "(garbage collector)") return "garbage collector";
  if (frame.functionName === "(program)") return "V8/native (program)";
  const url = frame.url;
  if (url === "") return "native functions (hashing, ciphers, I/O bindings)";
  if (url.includes("/node_modules/@aws-sdk/") || url.includes("/node_modules/@smithy/")) return "AWS SDK (JS)";
  if (url.includes("/node_modules/")) return "other dependencies (JS)";
  if (url.includes("/src/")) return "dr-drill src/ (JS)";
  if (url.startsWith("node:internal/modules") || /compileFunction|compileSourceTextModule|wrapSafe|stripTypeScript/i.test(frame.functionName)) return "module loading (Node)";
  if (url.startsWith("node:")) return "Node internals (JS)";
  return "other";
}

/**
 * Summarize a CPU profile: time per category of the sampled leaf frames, and when each
 * watched function (by name) was first and last on a sampled stack, which places the
 * phases of an async command on its timeline. The first watched function (`main`) ends the
 * start-up, whose categories are also kept apart.
 */
export function summarizeProfile(profile: CpuProfile, watched: readonly string[]): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byCategory: Record<string, number> = {};
  const firstSeenMs: Record<string, number> = {};
  const lastSeenMs: Record<string, number> = {};
  const want = new Set(watched);
  const startupByCategory: Record<string, number> = {};
  const first = watched[0];
  let at = 0;
  for (const [i, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    const node = byId.get(id);
    if (!node) continue;
    const category = categorize(node.callFrame);
    // A sample stands for the time until the next one.
    const next = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    byCategory[category] = (byCategory[category] ?? 0) + next;
    const inStartup = first !== undefined && firstSeenMs[first] === undefined;
    for (let cursor: number | undefined = id; cursor !== undefined; cursor = parent.get(cursor)) {
      const name = byId.get(cursor)?.callFrame.functionName ?? "";
      if (want.has(name)) {
        const ms = at / 1000;
        if (firstSeenMs[name] === undefined) firstSeenMs[name] = ms;
        lastSeenMs[name] = ms;
      }
    }
    if (inStartup && firstSeenMs[first!] === undefined) startupByCategory[category] = (startupByCategory[category] ?? 0) + next;
  }
  return { durationMs: (profile.endTime - profile.startTime) / 1000, byCategory, firstSeenMs, lastSeenMs, startupByCategory };
}
