import type { Redis } from "ioredis";
import { setTimeout as sleep } from "node:timers/promises";
import { DrError } from "../../errors/index.ts";
import { parseInfo } from "../../clients/redis-info.ts";

interface SaveState {
  lastSave: number;
  saves: number | undefined;
  inProgress: boolean;
  lastStatus: string;
}

async function readSaveState(client: Redis): Promise<SaveState> {
  const info = parseInfo(await client.info("persistence"));
  return {
    lastSave: Number(await client.lastsave()),
    saves: info.has("rdb_saves") ? Number(info.get("rdb_saves")) : undefined,
    inProgress: info.get("rdb_bgsave_in_progress") === "1",
    lastStatus: info.get("rdb_last_bgsave_status") ?? "unknown",
  };
}

/** Wait for any save already running to end. */
async function waitForIdle(client: Redis, deadline: number): Promise<SaveState> {
  for (;;) {
    const state = await readSaveState(client);
    if (!state.inProgress) return state;
    if (Date.now() > deadline) throw new DrError("BACKUP_FAILED", "unable to snapshot Redis: a background save is still running after the timeout");
    await sleep(100);
  }
}

/**
 * BGSAVE done right (unlike `while [ $(LASTSAVE) -eq $(LASTSAVE) ]`): record the save
 * counter and LASTSAVE before, start a save (waiting out one already in progress, which may
 * predate our request), poll until a NEW save has finished, and check it succeeded.
 * Returns LASTSAVE of our snapshot (unix seconds).
 */
export async function runBgsave(client: Redis, timeoutMs = 30 * 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let before = await waitForIdle(client, deadline);
  // LASTSAVE has one-second resolution: if the last save was this very second, a new one
  // could finish with the same value. Step into the next second when the counter is absent.
  if (before.saves === undefined && before.lastSave >= Math.floor(Date.now() / 1000)) {
    await sleep(1000 - (Date.now() % 1000) + 10);
  }
  for (;;) {
    try {
      await client.bgsave();
      break;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!/in progress/i.test(message)) {
        throw new DrError("BACKUP_FAILED", `unable to snapshot Redis: BGSAVE refused: ${message}`, { cause: error });
      }
      before = await waitForIdle(client, deadline);
    }
  }
  for (;;) {
    const state = await readSaveState(client);
    const newSave = before.saves !== undefined && state.saves !== undefined ? state.saves > before.saves : state.lastSave !== before.lastSave;
    if (!state.inProgress && newSave) {
      if (state.lastStatus !== "ok") {
        throw new DrError("BACKUP_FAILED", `unable to snapshot Redis: BGSAVE finished with status '${state.lastStatus}'`, {
          hint: "check the Redis log: disk full, permissions on its dir, or fork failing (vm.overcommit_memory)",
        });
      }
      return state.lastSave;
    }
    if (!state.inProgress && state.lastStatus === "err") {
      throw new DrError("BACKUP_FAILED", "unable to snapshot Redis: BGSAVE finished with status 'err'", {
        hint: "check the Redis log: disk full, permissions on its dir, or fork failing (vm.overcommit_memory)",
      });
    }
    if (Date.now() > deadline) throw new DrError("BACKUP_FAILED", `unable to snapshot Redis: BGSAVE did not finish within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Walk the keyspace with SCAN, one batch of key names at a time, up to about `limit` keys
 * (the whole keyspace by default). Names come as bytes: a key that is not valid UTF-8 is
 * still the same key when it is sent back in a command.
 */
export async function* scanKeyBatches(client: Redis, limit = Number.POSITIVE_INFINITY, count = 500): AsyncGenerator<Buffer[]> {
  let cursor = "0";
  let seen = 0;
  do {
    const [next, keys] = await client.scanBuffer(cursor, "COUNT", count);
    cursor = String(next);
    seen += keys.length;
    if (keys.length) yield keys;
  } while (cursor !== "0" && seen < limit);
}

/**
 * Count keys by type over the whole keyspace, for comparing a restore with its source. A
 * keyspace larger than `limit` gets no census ({}): a partial SCAN sample depends on the
 * server's hash layout, so two servers' samples would not be comparable.
 */
export async function sampleTypes(client: Redis, limit = 100_000): Promise<Record<string, number>> {
  const types: Record<string, number> = {};
  let total = 0;
  for await (const keys of scanKeyBatches(client, limit + 1)) {
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.type(key);
    for (const [, type] of (await pipeline.exec()) ?? []) {
      const name = String(type);
      types[name] = (types[name] ?? 0) + 1;
    }
    total += keys.length;
  }
  return total > limit ? {} : types;
}
