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
}

/**
 * Insert a row into dr_heartbeat every `intervalMs` on its own connection, like an
 * application writing throughout the drill. The newest heartbeat found in a restored copy
 * measures the real data-loss window. A failed insert (the server went away, Ctrl-C) ends
 * the writer and is recorded, never thrown: nothing awaits the loop until stop(), and a
 * rejection there would crash the process.
 */
export async function startHeartbeatWriter(endpoint: PostgresEndpoint, intervalMs = 100): Promise<HeartbeatWriter> {
  const client = await connectPostgres(endpoint);
  await client.query("CREATE TABLE IF NOT EXISTS dr_heartbeat (id bigserial PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now(), note text)");
  let rows = 0;
  let lastWrittenAt: Date | undefined;
  let error: string | undefined;
  let running = true;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      try {
        const { rows: [row] } = await client.query<{ written_at: Date }>(
          "INSERT INTO dr_heartbeat (written_at, note) VALUES (clock_timestamp(), 'drill') RETURNING written_at",
        );
        rows += 1;
        lastWrittenAt = row?.written_at;
      } catch (failure) {
        error = messageOf(failure);
        running = false;
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalMs);
      });
    }
  })();
  return {
    stop: async () => {
      running = false;
      wake?.();
      await loop;
      await client.end().catch(() => undefined);
      return { rows, lastWrittenAt, ...(error === undefined ? {} : { error }) };
    },
  };
}
