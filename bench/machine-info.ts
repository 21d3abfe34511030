import { cpus, freemem, loadavg, release, totalmem, type as osType } from "node:os";
import { runCommand } from "../src/exec/index.ts";

/** The machine a bench ran on: numbers only compare between runs on alike machines. */
export interface MachineInfo {
  /** Logical CPUs (os.cpus().length). */
  cores: number;
  /** CPU model string of the first core. */
  cpuModel: string;
  /** Total memory, bytes. */
  totalMemoryBytes: number;
  /** Free memory when the bench started, bytes. */
  freeMemoryBytes: number;
  /** `Linux 6.1.0`. */
  os: string;
  /** Node.js version running the bench (and the RSS child). */
  node: string;
  /** First line of `<tool> --version` for every external tool timed. */
  tools: Record<string, string>;
  /** 1, 5 and 15 minute load averages when the bench started: above the core count, other work competed. */
  loadAverageAtStart: number[];
  /** The same when the measurements ended. */
  loadAverageAtEnd: number[];
}

/** First line of a tool's version output, or why it could not be read. */
async function readVersion(tool: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await runCommand(tool, args, { timeoutMs: 10_000 });
    return stdout.split("\n")[0]?.trim() ?? "";
  } catch (error) {
    return `unavailable (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
  }
}

/** Describe this machine and the versions of the tools the bench runs. */
export async function describeMachine(extraTools: Record<string, string> = {}): Promise<MachineInfo> {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    totalMemoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    os: `${osType()} ${release()}`,
    node: process.version,
    tools: {
      pg_dump: await readVersion("pg_dump", ["--version"]),
      rclone: await readVersion("rclone", ["version"]),
      ...extraTools,
    },
    loadAverageAtStart: loadavg(),
    loadAverageAtEnd: [],
  };
}
