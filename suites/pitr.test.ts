import { chown, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { createZstdDecompress } from "node:zlib";
import { generateIdentity, identityToRecipient } from "age-encryption";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres } from "../src/clients/index.ts";
import type { BackupContext } from "../src/components/index.ts";
import { backupPostgresPhysical } from "../src/components/postgres/physical-backup.ts";
import { RESTORE_WAL_DIR, restorePostgresPhysical } from "../src/components/postgres/physical-restore.ts";
import { uploadPart } from "../src/components/upload-part.ts";
import { decryptStream } from "../src/crypto/age.ts";
import { fetchWalFile } from "../src/components/wal/wal-fetch.ts";
import { pushWalFile } from "../src/components/wal/wal-push.ts";
import { parseWalFileName, segmentFileName, startSegmentOf } from "../src/components/wal/wal-names.ts";
import { checkBaseBackupWal, checkPhysicalBackup } from "../src/components/postgres/physical-verify.ts";
import { startRestoredPostgres } from "../src/components/postgres/restored-postgres.ts";
import { verifyWalArchive } from "../src/components/wal/wal-verify.ts";
import { listWalArchive } from "../src/components/wal/wal-archive.ts";
import { SPOOL_MARKER, startWalStream } from "../src/components/wal/wal-stream.ts";
import { buildConfig } from "../src/config/index.ts";
import { postgresOsUser, runCommand, startCommand } from "../src/exec/index.ts";
import { makeTempDir, removeTempDir, waitUntil } from "../src/lifecycle/index.ts";
import { type BackupManifest, writeManifest } from "../src/manifest/index.ts";
import { S3Storage } from "../src/storage/index.ts";
import { startNativeS3 } from "../src/targets/index.ts";
import type { StartedS3 } from "../src/targets/native/native-s3.ts";
import type { PostgresEndpoint } from "../src/targets/target.ts";
import { startPitrPostgres, type PitrPostgres } from "./helpers/pitr-postgres.ts";
import { letPostgresTraverse } from "./helpers/let-postgres-traverse.ts";
import { drErrorOf } from "../src/errors/dr-error-of.ts";

// Point-in-time recovery on real servers: WAL archived by archive_command (wal push) and by
// the streamer (pg_receivewal), physical base backups, restores to a moment through
// dr-drill and through stock tools (rclone, age, tar), and the faults the issue names.

const ENTRY = fileURLToPath(new URL("./helpers/wal-entry.ts", import.meta.url));
const osUser = postgresOsUser();

let s3: StartedS3;
let storage: S3Storage;
let identity: string;
let recipient: string;
let keyDir: string;
let identityFile: string;
const cleanups: (() => Promise<void>)[] = [];

/** Environment of the WAL commands (archive_command, restore_command, the streamer). */
function walEnv(endpoint = s3.endpoint): Record<string, string> {
  return { PITR_S3: JSON.stringify(endpoint), PITR_RECIPIENT: recipient, PITR_IDENTITY_FILE: identityFile };
}

/** Run the wal entry like PostgreSQL would (as the postgres user), keeping the exit code. */
async function runWal(args: string[], env = walEnv()): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const child = startCommand(process.execPath, [ENTRY, ...args], { env, asUser: osUser, timeoutMs: 120_000 });
  const result = await child;
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout ?? ""), stderr: String(result.stderr ?? "") };
}

function backupContext(endpoint: PostgresEndpoint, store: S3Storage = storage): BackupContext {
  return { storage: store, config: buildConfig(undefined, {}), postgres: endpoint, redis: { host: "127.0.0.1", port: 1, password: undefined, localDataDir: undefined }, mediaDir: "", recipients: [recipient] };
}

/** A folder the postgres user can use, removed after the suite. */
async function scratchDir(label: string): Promise<string> {
  const dir = await makeTempDir(label, osUser);
  cleanups.push(() => removeTempDir(dir));
  return dir;
}

async function query<T extends pg.QueryResultRow>(endpoint: PostgresEndpoint, sql: string): Promise<T[]> {
  const client = await connectPostgres(endpoint);
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The WAL segments a base backup needs, start to stop. */
function baseWalFiles(backup: BackupManifest): string[] {
  const facts = backup.physical!;
  const { timeline, segment: first } = startSegmentOf(facts);
  const last = parseWalFileName(facts.stopWalFile, facts.walSegmentBytes)!.segment!;
  const names: string[] = [];
  for (let segment = first; segment <= last; segment += 1n) names.push(segmentFileName(timeline, segment, facts.walSegmentBytes));
  return names;
}

/** Switch to a new segment and wait until the one just finished is in `store`. */
async function switchAndWaitArchived(endpoint: PostgresEndpoint, store: S3Storage): Promise<string> {
  const [row] = await query<{ name: string }>(endpoint, "SELECT pg_walfile_name(pg_current_wal_lsn()) AS name, pg_switch_wal()");
  await waitUntil(async () => ((await store.stat(`wal/${row!.name}.age`)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
  return row!.name;
}

beforeAll(async () => {
  s3 = await startNativeS3();
  storage = new S3Storage(s3.endpoint);
  identity = await generateIdentity();
  recipient = await identityToRecipient(identity);
  keyDir = await scratchDir("pitr-keys");
  identityFile = join(keyDir, "age-identity.txt");
  await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
  if (osUser) await chown(identityFile, osUser.uid, osUser.gid);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  storage?.client.destroy();
  await s3?.stop();
});

describe("archive_command = wal push: physical backup, restore to a moment", () => {
  let source: PitrPostgres;
  let base: BackupManifest;
  let target: Date;
  /** The segment deleted by the gap test (holds the precious rows). */
  let dataSegment: string;

  beforeAll(async () => {
    // archive_command runs our code as the postgres OS user: it must reach this checkout.
    cleanups.push(await letPostgresTraverse(ENTRY));
    source = await startPitrPostgres({ archive_mode: "on", archive_command: `${process.execPath} ${ENTRY} push %p`, archive_timeout: "0" }, walEnv());
    cleanups.push(() => source.stop());
  });

  it("takes a base backup whose WAL is archived, then rows are deleted at T; restore --to-time T-1s brings them back and later rows are absent", async () => {
    base = await backupPostgresPhysical(backupContext(source.endpoint));
    expect(base.format).toBe("pg_basebackup tar");
    expect(base.compression).toBe("zstd");
    expect(base.parts[0]!.key).toMatch(/^postgres\/\d{8}T\d{9}Z\/base\.tar\.zst\.age$/);
    // Compressed: the stored object is well under the tar it holds.
    expect(base.parts[0]!.plainSize).toBeLessThan(base.physical!.bytes / 2);
    expect(base.physical).toMatchObject({ timeline: 1, walSegmentBytes: 16 * 1024 * 1024 });
    expect(base.physical!.startWalFile <= base.physical!.stopWalFile).toBe(true);
    expect(await storage.stat(`wal/${base.physical!.stopWalFile}.age`)).toBeDefined();
    // verify of a physical backup: hashes, age, a readable tar with a data directory's key files, its WAL present.
    const checks = await checkPhysicalBackup({ storage, manifest: base, identities: [identity] });
    expect(checks.map((c) => `${c.name}: ${c.status}`)).toEqual(["SHA-256 (stored and plain): ok", "tar -t: ok", "WAL range present: ok"]);

    await query(source.endpoint, "CREATE TABLE precious(id int PRIMARY KEY, note text); CREATE TABLE beats(id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    await query(source.endpoint, "INSERT INTO precious SELECT g, 'row ' || g FROM generate_series(1, 100) g");
    // Its own segment, so the gap test below can delete the WAL that holds these rows.
    dataSegment = await switchAndWaitArchived(source.endpoint, storage);
    const writer = await connectPostgres(source.endpoint);
    const beat = setInterval(() => void writer.query("INSERT INTO beats DEFAULT VALUES").catch(() => undefined), 100);
    try {
      await sleep(2_500);
      const [row] = await query<{ t: Date }>(source.endpoint, "SELECT clock_timestamp() AS t");
      target = row!.t;
      await query(source.endpoint, "DELETE FROM precious");
      await sleep(1_500);
    } finally {
      clearInterval(beat);
      await sleep(150);
      await writer.end();
    }
    await switchAndWaitArchived(source.endpoint, storage);
    const [later] = await query<{ n: string }>(source.endpoint, `SELECT count(*) AS n FROM beats WHERE at > '${new Date(target.getTime() - 1000).toISOString()}'`);
    expect(Number(later!.n)).toBeGreaterThan(10);

    const into = join(await scratchDir("pitr-restore"), "data");
    const restoreTo = new Date(target.getTime() - 1000);
    const restored = await restorePostgresPhysical({ storage, identities: [identity], into, target: { kind: "time", time: restoreTo } });
    expect(restored.backupId).toBe(base.id);
    expect(restored.walFiles).toBeGreaterThanOrEqual(3);
    expect(await readFile(join(into, "postgresql.auto.conf"), "utf8")).toContain("recovery_target_action = 'promote'");

    await using server = await startRestoredPostgres(into);
    const [precious] = await query<{ n: string }>(server.endpoint, "SELECT count(*) AS n FROM precious");
    expect(Number(precious!.n)).toBe(100);
    const [beats] = await query<{ n: string; newest: Date }>(server.endpoint, "SELECT count(*) AS n, max(at) AS newest FROM beats");
    expect(Number(beats!.n)).toBeGreaterThan(5);
    expect(beats!.newest.getTime()).toBeLessThanOrEqual(restoreTo.getTime());
    expect(beats!.newest.getTime()).toBeGreaterThan(restoreTo.getTime() - 1000);
    expect(new Date(server.reached.lastTransactionAt!).getTime()).toBeLessThanOrEqual(restoreTo.getTime());
    // Promoted: a new timeline, writable.
    await query(server.endpoint, "INSERT INTO precious VALUES (1000, 'after restore')");
  });

  it("restores with stock tools only: rclone + age -d + zstd -d + tar -x, restore_command fetching wal/%f.age with rclone and age -d", async () => {
    const work = await scratchDir("pitr-stock");
    const rcloneConf = join(work, "rclone.conf");
    const { endpoint, credentials, bucket } = s3.endpoint;
    await writeFile(rcloneConf, `[repo]\ntype = s3\nprovider = Other\nendpoint = ${endpoint}\naccess_key_id = ${credentials!.accessKeyId}\nsecret_access_key = ${credentials!.secretAccessKey}\nregion = us-east-1\nforce_path_style = true\n`, { mode: 0o600 });
    if (osUser) await chown(rcloneConf, osUser.uid, osUser.gid);
    const data = join(work, "data");
    await mkdir(data, { mode: 0o700 });
    if (osUser) await chown(data, osUser.uid, osUser.gid);
    // The README's commands, as a shell would run them.
    await runCommand("sh", ["-c", `rclone --config ${rcloneConf} cat repo:${bucket}/${base.parts[0]!.key} | age -d -i ${identityFile} | zstd -d | tar -x -C ${data}`], { asUser: osUser, timeoutMs: 120_000 });
    const restoreCommand = `rclone --config ${rcloneConf} copyto repo:${bucket}/wal/%f.age %p.age && age -d -i ${identityFile} -o %p %p.age; rc=$?; rm -f %p.age; exit $rc`;
    const restoreTo = new Date(target.getTime() - 1000);
    await writeFile(join(data, "postgresql.auto.conf"), `\nrestore_command = '${restoreCommand}'\nrecovery_target_time = '${restoreTo.toISOString().replace("T", " ").replace("Z", "+00")}'\nrecovery_target_action = 'promote'\narchive_mode = 'off'\n`, { flag: "a" });
    await writeFile(join(data, "recovery.signal"), "");
    if (osUser) await runCommand("chown", ["-R", `${osUser.uid}:${osUser.gid}`, data], { timeoutMs: 30_000 });

    await using server = await startRestoredPostgres(data);
    const [precious] = await query<{ n: string }>(server.endpoint, "SELECT count(*) AS n FROM precious");
    expect(Number(precious!.n)).toBe(100);
    const [beats] = await query<{ newest: Date }>(server.endpoint, "SELECT max(at) AS newest FROM beats");
    expect(beats!.newest.getTime()).toBeLessThanOrEqual(restoreTo.getTime());
  });

  it("a base backup stored before compression (base.tar.age, compression 'none') still verifies and restores", async () => {
    // The same base backup as older versions stored it: the plain tar, encrypted, under its old
    // name, its manifest saying 'none', with the WAL it needs, in a repository of its own.
    const legacy = new S3Storage({ ...s3.endpoint, prefix: "legacy/" });
    cleanups.push(async () => legacy.client.destroy());
    const oldKey = base.parts[0]!.key.replace(/base\.tar\.zst\.age$/, "base.tar.age");
    const tar = (await decryptStream(await storage.get(base.parts[0]!.key), [identity], base.id)).pipe(createZstdDecompress());
    const part = await uploadPart({ storage: legacy, key: oldKey, source: tar, recipients: [recipient] });
    expect(part.plainSize).toBe(base.physical!.bytes);
    const old: BackupManifest = { ...base, compression: "none", parts: [part], storedBytes: part.size };
    await writeManifest(legacy, old);
    const work = await scratchDir("pitr-legacy");
    for (const name of baseWalFiles(base)) {
      await fetchWalFile({ storage, identities: [identity], name, destination: join(work, name) });
      await pushWalFile({ storage: legacy, recipients: [recipient], path: join(work, name) });
    }

    const checks = await checkPhysicalBackup({ storage: legacy, manifest: old, identities: [identity] });
    expect(checks.map((c) => `${c.name}: ${c.status}`)).toEqual(["SHA-256 (stored and plain): ok", "tar -t: ok", "WAL range present: ok"]);
    const into = join(work, "data");
    const restored = await restorePostgresPhysical({ storage: legacy, identities: [identity], into, target: { kind: "latest" } });
    expect(restored.backupId).toBe(base.id);
    await using server = await startRestoredPostgres(into);
    // The state at the base backup: the tables made after it do not exist there.
    const [row] = await query<{ n: string }>(server.endpoint, "SELECT count(*) AS n FROM pg_class WHERE relname IN ('precious', 'beats')");
    expect(Number(row!.n)).toBe(0);
  });

  it("wal push: the same content again exits 0, other content under a stored name is refused naming the segment", async () => {
    const work = await scratchDir("pitr-push");
    const name = base.physical!.stopWalFile;
    const original = join(work, name);
    expect((await runWal(["fetch", name, original])).exitCode).toBe(0);
    const again = await runWal(["push", original]);
    expect([again.exitCode, again.stdout]).toEqual([0, expect.stringContaining(`already stored ${name}`)]);

    const forged = join(work, "forged", name);
    await mkdir(join(work, "forged"));
    const bytes = await readFile(original);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(forged, bytes);
    const refused = await runWal(["push", forged]);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain(`unable to push WAL file '${name}'`);
    expect(refused.stderr).toContain("different content");
    // The stored segment is still the original.
    const check = join(work, "check");
    await runWal(["fetch", name, check]);
    expect((await readFile(check)).equals(await readFile(original))).toBe(true);
  });

  it("wal fetch: exit 1 only for a file not in the archive; with S3 down a different code (126)", async () => {
    const work = await scratchDir("pitr-fetch");
    const missing = await runWal(["fetch", "0000000100000000000000FE", join(work, "x")]);
    expect(missing.exitCode).toBe(1);
    const down = await runWal(["fetch", base.physical!.stopWalFile, join(work, "y")], walEnv({ ...s3.endpoint, endpoint: "http://127.0.0.1:9" }));
    expect(down.exitCode).toBe(126);
    expect(down.stderr).toContain("unable to");
  });

  it("refuses a target outside the archive, naming the range", async () => {
    const into = join(await scratchDir("pitr-refuse"), "data");
    const before = new Date(new Date(base.physical!.consistentAt).getTime() - 3_600_000);
    const error = await drErrorOf(restorePostgresPhysical({ storage, identities: [identity], into, target: { kind: "time", time: before } }));
    expect(error.code).toBe("RESTORE_REFUSED");
    expect(error.message).toMatch(/outside the archive: the archive covers \S+ \.\. \S+ \(LSN [0-9A-F]+\/[0-9A-F]+ \.\. [0-9A-F]+\/[0-9A-F]+\)/);
    const future = await drErrorOf(restorePostgresPhysical({ storage, identities: [identity], into, target: { kind: "time", time: new Date(Date.now() + 86_400_000) } }));
    expect(future.code).toBe("RESTORE_REFUSED");
  });

  it("the wrong age key fails with a clear decryption error", async () => {
    const into = join(await scratchDir("pitr-wrongkey"), "data");
    const error = await drErrorOf(restorePostgresPhysical({ storage, identities: [await generateIdentity()], into, target: { kind: "latest" } }));
    expect(error.code).toBe("DECRYPTION_FAILED");
    expect(error.message).toMatch(/unable to decrypt backup '.*'/);
    expect(error.hint).toContain("DR_AGE_IDENTITY_FILE");
  });

  it("restore_command = wal fetch with S3 down: recovery stops instead of promoting without the archive's later WAL; with S3 back it replays to the end", async () => {
    // The base backup unpacked with only its own WAL at hand (as a standby or an on-demand
    // restore_command setup has it); every later file must come from the archive.
    const work = await scratchDir("pitr-fetch-down");
    const data = join(work, "data");
    await restorePostgresPhysical({ storage, identities: [identity], into: data, target: { kind: "latest" } });
    const local = join(data, RESTORE_WAL_DIR);
    const own = baseWalFiles(base);
    for (const name of await readdir(local)) if (!own.includes(name)) await rm(join(local, name));
    expect((await readdir(local)).sort()).toEqual(own);
    // The repository the command reaches is read from a file, so the outage can end without editing the server's settings.
    const repository = join(work, "s3.json");
    const fetch = join(work, "fetch.sh");
    await writeFile(fetch, `#!/bin/sh\n[ -f '${local}'/"$1" ] && exec cp '${local}'/"$1" "$2"\nPITR_S3="$(cat '${repository}')" PITR_IDENTITY_FILE='${identityFile}' exec '${process.execPath}' '${ENTRY}' fetch "$1" "$2"\n`, { mode: 0o755 });
    await writeFile(join(data, "postgresql.auto.conf"), `\nrestore_command = '${fetch} "%f" "%p"'\n`, { flag: "a" });
    // It holds the endpoint's credentials: readable by its owner alone.
    await writeFile(repository, JSON.stringify({ ...s3.endpoint, endpoint: "http://127.0.0.1:9" }), { mode: 0o600 });
    if (osUser) await runCommand("chown", ["-R", `${osUser.uid}:${osUser.gid}`, work], { timeoutMs: 30_000 });

    const stopped = await drErrorOf(startRestoredPostgres(data, { timeoutMs: 60_000 }));
    expect(stopped.code).toBe("RESTORE_FAILED");
    // PostgreSQL's words for an exit code above 125: a hard failure that ends the startup process.
    expect(stopped.message).toMatch(/FATAL: {2}could not restore file "[0-9A-F]+(\.history)?" from archive: command not executable/);
    expect(stopped.message).toContain("cannot reach S3 endpoint http://127.0.0.1:9");
    // Not promoted: still a data directory in recovery, on its first timeline.
    expect((await readdir(data)).includes("recovery.signal")).toBe(true);
    expect((await readdir(join(data, "pg_wal"))).filter((name) => name.endsWith(".history"))).toEqual([]);

    await writeFile(repository, JSON.stringify(s3.endpoint));
    await using server = await startRestoredPostgres(data);
    // The WAL after the base backup was replayed: the DELETE at T and the heartbeats after it.
    const [precious] = await query<{ n: string }>(server.endpoint, "SELECT count(*) AS n FROM precious");
    expect(Number(precious!.n)).toBe(0);
    const [beats] = await query<{ newest: Date }>(server.endpoint, "SELECT max(at) AS newest FROM beats");
    expect(beats!.newest.getTime()).toBeGreaterThan(target.getTime());
  });

  it("a segment deleted from the bucket: wal verify names the gap, a restore past it fails clearly", async () => {
    const clean = await verifyWalArchive({ storage, backups: [base], identities: [identity] });
    expect(clean.gaps).toEqual([]);
    expect(clean.ok).toBe(true);
    await storage.delete(`wal/${dataSegment}.age`);
    const report = await verifyWalArchive({ storage, backups: [base], identities: [identity] });
    expect(report.ok).toBe(false);
    expect(report.gaps.map((g) => g.range)).toEqual([dataSegment]);

    const into = join(await scratchDir("pitr-gap"), "data");
    const error = await drErrorOf(restorePostgresPhysical({ storage, identities: [identity], into, target: { kind: "time", time: new Date(target.getTime() - 1000) } }));
    expect(error.code).toBe("WAL_MISSING");
    expect(error.message).toContain(`WAL ${dataSegment} is missing from the archive`);

    // The base backup's own WAL gone: verify fails it, naming the segment.
    await storage.delete(`wal/${base.physical!.stopWalFile}.age`);
    const walCheck = await checkBaseBackupWal(storage, base);
    expect([walCheck.status, walCheck.detail]).toEqual(["failed", expect.stringContaining(base.physical!.stopWalFile)]);
  });
});

describe("physical base backup without WAL archiving", () => {
  it("fails naming the missing segment, and leaves neither manifest nor tar behind", async () => {
    const source = await startPitrPostgres({});
    cleanups.push(() => source.stop());
    const store = new S3Storage({ ...s3.endpoint, prefix: "no-archive/" });
    cleanups.push(async () => store.client.destroy());
    const error = await drErrorOf(backupPostgresPhysical(backupContext(source.endpoint, store), { walWaitMs: 3_000 }));
    expect(error.code).toBe("BACKUP_FAILED");
    expect(error.message).toMatch(/the WAL this base backup needs \(\S+\) did not reach \S+wal\/ within 3 s; missing [0-9A-F]{24}/);
    expect(error.hint).toContain("dr-drill wal stream");
    const left: string[] = [];
    for await (const object of store.list("")) left.push(object.key);
    expect(left).toEqual([]);
  });
});

/**
 * A PostgreSQL server to stream from and the streamer process for it (the `wal stream` entry
 * with upload rounds `intervalMs` apart) writing into a prefix of the suite's bucket; both
 * stopped by the cleanups (the streamer gracefully: it stops its pg_receivewal on SIGTERM).
 * `start()` starts a streamer (again, after one was killed).
 */
async function streamSetup(prefix: string, intervalMs: number) {
  const source = await startPitrPostgres({});
  cleanups.push(() => source.stop());
  const endpoint = { ...s3.endpoint, prefix };
  const store = new S3Storage(endpoint);
  cleanups.push(async () => store.client.destroy());
  const spool = join(await scratchDir(`pitr-spool-${prefix.replace(/\W/g, "")}`), "spool");
  const env = { ...walEnv(endpoint), PITR_PG: JSON.stringify(source.endpoint), PITR_INTERVAL_MS: String(intervalMs) };
  let streamer: ReturnType<typeof startCommand> | undefined;
  cleanups.push(async () => {
    streamer?.kill("SIGTERM");
    await streamer?.catch(() => undefined);
  });
  const start = () => (streamer = startCommand(process.execPath, [ENTRY, "stream", spool], { env, timeoutMs: 0, logFile: join(spool, "..", "streamer.log") }));
  return { source, store, start };
}

describe("wal stream: pg_receivewal with a slot, killed mid-segment and restarted", () => {
  it("resumes without a gap (wal verify clean), and a restore to the latest point includes rows only in the .partial", async () => {
    const { source, store, start } = await streamSetup("stream/", 500);
    let streamer = start();
    await query(source.endpoint, "CREATE TABLE t(id int, pad text)");
    await query(source.endpoint, "INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g");
    // Its partial segment reaches the bucket while the segment is still being written.
    await waitUntil(async () => ((await listWalArchive(store)).partials.size > 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });

    // Killed like a crashed host: the node process and its pg_receivewal, no clean-up.
    const children = (await readFile(`/proc/${streamer.pid}/task/${streamer.pid}/children`, "utf8")).trim().split(/\s+/).map(Number);
    for (const pid of [streamer.pid!, ...children]) process.kill(pid, "SIGKILL");
    await streamer.catch(() => undefined);
    await query(source.endpoint, "INSERT INTO t SELECT g, repeat('y', 200) FROM generate_series(5001, 10000) g");
    // Finish that segment while no streamer runs: the slot keeps it for the restart.
    await query(source.endpoint, "SELECT pg_switch_wal()");

    streamer = start();
    const base = await backupPostgresPhysical(backupContext(source.endpoint, store), { walWaitMs: 60_000 });
    await query(source.endpoint, "INSERT INTO t SELECT g, 'z' FROM generate_series(10001, 10010) g");
    await switchAndWaitArchived(source.endpoint, store);
    await query(source.endpoint, "INSERT INTO t VALUES (20000, 'only in the partial')");
    // The newest row lives only in the streamer's segment in progress.
    await waitUntil(async () => {
      const archive = await listWalArchive(store);
      return archive.newest?.kind === "partial" && archive.newest.lastModified > Date.now() - 1500 ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 300 });
    await sleep(1_500);

    const report = await verifyWalArchive({ storage: store, backups: [base], identities: [identity] });
    expect(report.gaps).toEqual([]);
    expect(report.ok).toBe(true);
    const archive = await listWalArchive(store);
    const segments = [...(archive.segments.get(1)?.keys() ?? [])].sort((a, b) => (a < b ? -1 : 1));
    expect(segments.length).toBeGreaterThanOrEqual(3);

    const into = join(await scratchDir("pitr-stream-restore"), "data");
    const restored = await restorePostgresPhysical({ storage: store, identities: [identity], into, target: { kind: "latest" } });
    expect(restored.walRange).toMatch(/\.\./);
    await using server = await startRestoredPostgres(into);
    const [row] = await query<{ n: string; last: string }>(server.endpoint, "SELECT count(*) AS n, max(pad) FILTER (WHERE id = 20000) AS last FROM t");
    expect(Number(row!.n)).toBe(10011);
    expect(row!.last).toBe("only in the partial");
    streamer.kill("SIGINT");
    await streamer.catch(() => undefined);
  });
});

describe("wal stream: a segment pg_receivewal finishes", () => {
  it("is uploaded at once, not at the next upload round (rounds 120 s apart here)", async () => {
    const { source, store, start } = await streamSetup("stream-finished/", 120_000);
    const streamer = start();
    // Streaming: the slot is in use by pg_receivewal (its first upload round is over by then or soon after).
    await waitUntil(async () => ((await query<{ active: boolean }>(source.endpoint, "SELECT active FROM pg_replication_slots"))[0]?.active ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
    await sleep(1_000);
    await query(source.endpoint, "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g");
    const switched = performance.now();
    const name = await switchAndWaitArchived(source.endpoint, store);
    const ms = performance.now() - switched;
    expect(name).toMatch(/^0{7}1[0-9A-F]{16}$/);
    expect(ms).toBeLessThan(15_000);
    const stopped = performance.now();
    streamer.kill("SIGINT");
    await streamer.catch(() => undefined);
    // Stopping does not wait out the round either.
    expect(performance.now() - stopped).toBeLessThan(15_000);
  });
});


describe("wal stream: a spool another cluster used", () => {
  it("is refused before pg_receivewal starts: another system identifier, or WAL past the server's position; the spool is left as it was", async () => {
    const [a, b] = [await startPitrPostgres({}), await startPitrPostgres({})];
    cleanups.push(() => a.stop(), () => b.stop());
    const store = new S3Storage({ ...s3.endpoint, prefix: "stream-spool/" });
    cleanups.push(async () => store.client.destroy());
    const spool = join(await scratchDir("pitr-spool-claimed"), "spool");
    const options = { storage: store, recipients: [recipient], spoolDir: spool, intervalMs: 500 };
    const streamer = await startWalStream({ ...options, postgres: a.endpoint });
    for (let i = 0; i < 3; i++) {
      await query(a.endpoint, `CREATE TABLE t${i} AS SELECT g AS id FROM generate_series(1, 1000) g`);
      await query(a.endpoint, "SELECT pg_switch_wal()");
    }
    await streamer.catchUp(60_000);
    await streamer.stop();
    const systemId = async (endpoint: PostgresEndpoint) => (await query<{ id: string }>(endpoint, "SELECT system_identifier::text AS id FROM pg_control_system()"))[0]!.id;
    const before = (await readdir(spool)).sort();
    expect(JSON.parse(await readFile(join(spool, SPOOL_MARKER), "utf8")).systemIdentifier).toBe(await systemId(a.endpoint));
    const other = await drErrorOf(startWalStream({ ...options, postgres: b.endpoint }));
    expect(other.code).toBe("CONFIG_INVALID");
    expect(other.message).toBe(`unable to start WAL stream 'dr_drill': spool '${spool}' belongs to another cluster (system identifier ${await systemId(a.endpoint)}; this server's is ${await systemId(b.endpoint)})`);
    expect(other.hint).toContain("its own --spool folder");
    // A spool from before the marker existed: its newest WAL lies past the other server's position.
    await rm(join(spool, SPOOL_MARKER));
    const past = await drErrorOf(startWalStream({ ...options, postgres: b.endpoint }));
    expect(past.message).toMatch(/spool '.+' holds WAL up to 0{7}1[0-9A-F]{16}(\.partial)?, past this server's current position \(segment 1\): it is another cluster's/);
    expect((await readdir(spool)).sort()).toEqual(before.filter((name) => name !== SPOOL_MARKER));
    expect(await query(b.endpoint, "SELECT slot_name FROM pg_replication_slots")).toEqual([]);
  });
});

/**
 * A TCP proxy in front of the S3 endpoint that can go down (connections refused, open
 * ones cut) and come back on the same port: a repository outage the client sees as such.
 */
async function startOutageProxy(target: URL): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const serve = () => createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  let server = serve();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const down = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    down,
    up: async () => {
      server = serve();
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("wal stream: the repository unreachable for a while", () => {
  it("keeps the WAL (slot and spool) while S3 refuses connections, retries, and catches up with no gap", async () => {
    const source = await startPitrPostgres({});
    cleanups.push(() => source.stop());
    const proxy = await startOutageProxy(new URL(s3.endpoint.endpoint!));
    cleanups.push(() => proxy.close());
    const store = new S3Storage({ ...s3.endpoint, endpoint: proxy.url, prefix: "outage/" });
    cleanups.push(async () => store.client.destroy());
    const direct = new S3Storage({ ...s3.endpoint, prefix: "outage/" });
    cleanups.push(async () => direct.client.destroy());
    const spool = join(await scratchDir("pitr-outage"), "spool");
    const streamer = await startWalStream({ storage: store, recipients: [recipient], postgres: source.endpoint, spoolDir: spool, slot: "dr_drill_outage", intervalMs: 300 });
    cleanups.push(() => streamer.stop().catch(() => undefined));
    await query(source.endpoint, "CREATE TABLE o(id int)");
    await switchAndWaitArchived(source.endpoint, direct);
    const archived = async () => [...((await listWalArchive(direct)).segments.get(1)?.keys() ?? [])].sort((a, b) => (a < b ? -1 : 1));
    const before = (await archived()).length;

    await proxy.down();
    for (let i = 0; i < 3; i += 1) {
      await query(source.endpoint, "INSERT INTO o SELECT generate_series(1, 1000)");
      await query(source.endpoint, "SELECT pg_switch_wal()");
    }
    await sleep(3_000);
    // Nothing new reached the bucket; pg_receivewal kept receiving into the spool and the slot holds the server's copy.
    expect((await archived()).length).toBe(before);
    const spooled = (await readdir(spool)).filter((n) => /^[0-9A-F]{24}$/.test(n));
    expect(spooled.length).toBeGreaterThanOrEqual(3);
    const [slot] = await query<{ active: boolean }>(source.endpoint, "SELECT active FROM pg_replication_slots WHERE slot_name = 'dr_drill_outage'");
    expect(slot?.active).toBe(true);

    // Back: the streamer retries, every segment reaches the bucket, in order, with no gap.
    await proxy.up();
    await waitUntil(async () => ((await archived()).length >= before + 3 ? true : undefined), { timeoutMs: 60_000, intervalMs: 500 });
    const segments = await archived();
    for (let i = 1; i < segments.length; i += 1) expect(segments[i]! - segments[i - 1]!).toBe(1n);
  }, 240_000);
});
