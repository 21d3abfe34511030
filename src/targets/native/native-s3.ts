import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir } from "../../lifecycle/index.ts";
import type { S3Endpoint } from "../target.ts";
import { startServerProcess, type ServerProcess } from "./server-process.ts";

/** A started local S3 endpoint. */
export interface StartedS3 extends AsyncDisposable {
  endpoint: S3Endpoint;
  pid: number;
  dir: string;
  version: string;
  stop(): Promise<void>;
  /** SIGKILL it now (its folder stays until stop()). */
  kill(): Promise<void>;
}

const SERVER_SCRIPT = fileURLToPath(new URL("./fauxqs-server.ts", import.meta.url));

/** The port fauxqs printed on its first stdout line, once it is there. */
async function readPrintedPort(logFile: string): Promise<number | undefined> {
  const text = await readFile(logFile, "utf8").catch(() => "");
  const match = /^\{"port":(\d+)\}$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The installed fauxqs version, for the report. */
async function readFauxqsVersion(): Promise<string> {
  try {
    // The package's exports hide package.json; find it beside its entry point.
    const entry = fileURLToPath(import.meta.resolve("fauxqs"));
    const pkg = JSON.parse(await readFile(join(dirname(entry), "..", "package.json"), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/**
 * Start an S3-compatible endpoint (fauxqs, from npm) as a child process on an ephemeral
 * port with objects stored as files in its own temporary folder, and a bucket made for us.
 * fauxqs takes no listen address and binds all interfaces; we only ever talk to 127.0.0.1.
 */
export async function startNativeS3(bucket = "dr-drill-backups", stateDir?: string): Promise<StartedS3> {
  const dir = stateDir ?? (await makeTempDir("s3"));
  if (stateDir) await mkdir(stateDir, { recursive: true, mode: 0o700 });
  let port: number | undefined;
  const logFile = join(dir, "s3.log");
  const server: ServerProcess = await startServerProcess({
    name: "s3",
    file: process.execPath,
    args: [SERVER_SCRIPT, join(dir, "objects"), bucket],
    dir,
    keepDir: stateDir !== undefined,
    probe: async () => {
      port ??= await readPrintedPort(logFile);
      if (port === undefined) return false;
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      return response.ok;
    },
  });
  const version = await readFauxqsVersion();
  return {
    endpoint: {
      endpoint: `http://127.0.0.1:${port}`,
      region: "us-east-1",
      bucket,
      prefix: "",
      credentials: { accessKeyId: "dr-drill", secretAccessKey: "dr-drill-local-secret" },
      forcePathStyle: true,
      capabilities: {
        versioning: false,
        objectLock: false,
        multipart: true,
        reasons: { versioning: `fauxqs ${version} implements no bucket versioning`, objectLock: `fauxqs ${version} implements no S3 Object Lock` },
      },
    },
    pid: server.pid,
    dir,
    version: `fauxqs ${version}`,
    stop: server.stop,
    kill: server.kill,
    [Symbol.asyncDispose]: server.stop,
  };
}
