import type pg from "pg";
import { connectPostgres } from "../clients/index.ts";
import { messageOf } from "../errors/index.ts";
import type { PostgresEndpoint } from "../clients/endpoints.ts";

/** What the heartbeat writer did. */
export interface HeartbeatSummary {
  /** Rows written. */
  rows: number;
  /** Time of the last committed row (the source's newest data at the declared failure). */
  lastWrittenAt: Date | undefined;
  /** Why the writer stopped before stop() was called (its connection died), if it did. */
  error?: string;
}

/** A running writer; stop() ends it and says what it wrote. */
export interface HeartbeatWriter {
  stop(): Promise<HeartbeatSummary>;
  /** Commit times of the rows it wrote (and of the rows it was told about), oldest first: the application's own log. */
  readonly committed: readonly Date[];
  /** Point the application at another server (the swapped database, a new server, a promoted replica). */
  pointAt(endpoint: PostgresEndpoint): void;
  /** The first commit after `since`, waited for up to timeoutMs: the application writes again. */
  waitForWrite(since: Date, timeoutMs?: number): Promise<Date>;
  /** The last errors seen while it could not write (the detection of a failure), oldest first. */
  readonly errors: readonly string[];
  /** How many writes have failed so far. */
  failures(): number;
}

export interface HeartbeatOptions {
  intervalMs?: number;
  /**
   * Keep going when a write fails: reconnect (to the endpoint last given to pointAt) every
   * interval until it writes again, like an application behind a connection pool.
   */
  reconnect?: boolean;
  /** Commit times already in the database that count as the application's (a copy of the source). */
  known?: readonly Date[];
}

/**
 * Insert a row into dr_heartbeat every `intervalMs` on its own connection, like an
 * application writing throughout the drill. The newest heartbeat found in a restored copy
 * measures the real data-loss window. A failed insert (the server went away, Ctrl-C) ends
 * the writer and is recorded, never thrown: nothing awaits the loop until stop(), and a
 * rejection there would crash the process. With `reconnect` it retries instead.
 */
export async function startHeartbeatWriter(endpoint: PostgresEndpoint, options: HeartbeatOptions = {}): Promise<HeartbeatWriter> {
  const intervalMs = options.intervalMs ?? 100;
  let target = endpoint;
  let client: pg.Client | undefined = await connectPostgres(endpoint);
  await client.query("CREATE TABLE IF NOT EXISTS dr_heartbeat (id bigserial PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now(), note text)");
  const committed: Date[] = [...(options.known ?? [])];
  const errors: string[] = [];
  let rows = 0;
  let failures = 0;
  let error: string | undefined;
  let running = true;
  let wake: (() => void) | undefined;
  const waiters = new Set<() => void>();
  const pause = () => new Promise<void>((resolve) => {
    wake = resolve;
    setTimeout(resolve, intervalMs);
  });
  const loop = (async () => {
    while (running) {
      try {
        client ??= await connectPostgres(target);
        const { rows: [row] } = await client.query<{ written_at: Date }>(
          "INSERT INTO dr_heartbeat (written_at, note) VALUES (clock_timestamp(), 'drill') RETURNING written_at",
        );
        rows += 1;
        if (row) committed.push(row.written_at);
        for (const notify of waiters) notify();
      } catch (failure) {
        const message = messageOf(failure).split("\n")[0]!;
        failures += 1;
        errors.push(message);
        if (errors.length > 50) errors.shift();
        const broken = client;
        client = undefined;
        // A dead connection's end() can wait for a socket that never answers: do not await it.
        void broken?.end().catch(() => undefined);
        if (!options.reconnect) {
          error = message;
          running = false;
          break;
        }
      }
      await pause();
    }
  })();
  return {
    committed,
    errors,
    failures: () => failures,
    pointAt: (next) => {
      target = next;
      const old = client;
      client = undefined;
      void old?.end().catch(() => undefined);
    },
    waitForWrite: async (since, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = committed.find((at) => at.getTime() > since.getTime());
        if (hit) return hit;
        if (!running) throw new Error(`the application stopped writing (${error ?? errors.at(-1) ?? "stopped"})`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`the application did not write within ${timeoutMs} ms (last error: ${errors.at(-1) ?? "none"})`);
        await new Promise<void>((resolve) => {
          const done = () => {
            waiters.delete(done);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(done, Math.min(left, 250));
          waiters.add(done);
        });
      }
    },
    stop: async () => {
      running = false;
      wake?.();
      await loop;
      await client?.end().catch(() => undefined);
      return { rows, lastWrittenAt: committed.at(-1), ...(error === undefined ? {} : { error }) };
    },
  };
}
