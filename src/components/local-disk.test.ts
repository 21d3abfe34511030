import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { DrError } from "../errors/index.ts";
import { brokenPipe, flushFileSystem, flushWhile } from "./local-disk.ts";

const made: string[] = [];
afterAll(async () => {
  await Promise.all(made.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Command lines of the running processes that mention `text`. */
async function processesWith(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ").trim();
    if (cmdline.includes(text)) found.push(cmdline);
  }
  return found;
}

describe("local disk", () => {
  it("flushWhile: the sync -f loop runs on the folder while the work runs, and is gone when it settles", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flush-while-"));
    made.push(dir);
    let during: string[] = [];
    const value = await flushWhile(dir, (async () => {
      await sleep(300);
      during = await processesWith(dir);
      return 42;
    })());
    expect(value).toBe(42);
    expect(during.some((line) => /\bsh -c while sync -f "\$1"; do sleep [0-9.]+ <\/dev\/null >\/dev\/null 2>&1; done dr-drill-flush /.test(line) && line.endsWith(dir))).toBe(true);
    expect(await processesWith(`dr-drill-flush ${dir}`)).toEqual([]);
  });

  it("flushWhile: stopping the loop does not wait for its pause to end", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flush-while-"));
    made.push(dir);
    // The work ends while the loop sleeps (its first sync takes milliseconds): flushWhile must
    // return then, not once the 0.5 s pause is over.
    const started = performance.now();
    await flushWhile(dir, sleep(150));
    expect(performance.now() - started).toBeLessThan(450);
  });

  it("flushWhile: a failed work is rethrown as it is, and the loop is stopped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "flush-while-"));
    made.push(dir);
    const error = new Error("tar exited with code 2");
    await expect(flushWhile(dir, sleep(100).then(() => Promise.reject(error)))).rejects.toBe(error);
    expect(await processesWith(`dr-drill-flush ${dir}`)).toEqual([]);
  });

  it("flushFileSystem: a folder it cannot flush fails naming the folder", async () => {
    const missing = join(tmpdir(), "dr-drill-no-such-folder-to-flush");
    const failure = await flushFileSystem(missing).then(() => undefined, (e: unknown) => e);
    expect(failure).toBeInstanceOf(DrError);
    expect((failure as DrError).code).toBe("RESTORE_FAILED");
    expect((failure as DrError).message).toMatch(new RegExp(`^unable to flush the restored files in '${missing}' to disk: .*No such file or directory`, "s"));
  });

  it("brokenPipe: only the error's own EPIPE or ECONNRESET, never one in its causes (a reset connection to S3)", () => {
    expect(brokenPipe(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))).toBe(true);
    expect(brokenPipe(Object.assign(new Error("zstd: Connection reset by peer"), { code: "ECONNRESET" }))).toBe(true);
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(brokenPipe(new DrError("STORAGE_FAILED", "unable to read object", { cause: reset }))).toBe(false);
    expect(brokenPipe(undefined)).toBe(false);
  });
});
