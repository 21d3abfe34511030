import { readFileSync } from "node:fs";

/**
 * CPU seconds spent by each side of a measurement. On a 2-core machine the S3 emulator and
 * PostgreSQL compete with the tool being timed, so a time alone does not say who was slow.
 */
export interface CpuSeconds {
  /** This Node process: the dr-drill pipeline when it runs in-process (hashing, age, SDK). */
  bench: number;
  /** Finished children of this process: pg_dump, rclone, sync. */
  tools: number;
  /** The fauxqs S3 emulator (a Node child process of the target). */
  s3: number;
  /** PostgreSQL: the postmaster and its finished backends (the one serving pg_dump included). */
  postgres: number;
}

/** Processes whose CPU is read from /proc. */
export interface CpuWatch {
  s3Pid: number | undefined;
  postgresPid: number | undefined;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** utime+stime and cutime+cstime of a process, seconds; zeros when it cannot be read. */
function readProcTimes(pid: number | "self"): { own: number; children: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name (which may contain spaces): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const at = (field: number) => Number(fields[field - 3] ?? 0);
    return { own: (at(14) + at(15)) / TICKS_PER_SECOND, children: (at(16) + at(17)) / TICKS_PER_SECOND };
  } catch {
    return { own: 0, children: 0 };
  }
}

/** Find the target's processes by their command lines among the given pids. */
export function findCpuWatch(pids: readonly number[]): CpuWatch {
  const cmdline = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      return "";
    }
  };
  return {
    s3Pid: pids.find((pid) => cmdline(pid).includes("fauxqs-server")),
    postgresPid: pids.find((pid) => /(^|\/)postgres /.test(cmdline(pid))),
  };
}

/** Cumulative CPU seconds now; subtract two readings to get one iteration's share. */
export function readCpuSeconds(watch: CpuWatch): CpuSeconds {
  const usage = process.cpuUsage();
  const self = readProcTimes("self");
  const s3 = watch.s3Pid ? readProcTimes(watch.s3Pid) : { own: 0, children: 0 };
  const pg = watch.postgresPid ? readProcTimes(watch.postgresPid) : { own: 0, children: 0 };
  return {
    bench: (usage.user + usage.system) / 1e6,
    tools: self.children,
    s3: s3.own + s3.children,
    postgres: pg.own + pg.children,
  };
}

/** `after - before`, field by field. */
export function subtractCpuSeconds(after: CpuSeconds, before: CpuSeconds): CpuSeconds {
  return {
    bench: after.bench - before.bench,
    tools: after.tools - before.tools,
    s3: after.s3 - before.s3,
    postgres: after.postgres - before.postgres,
  };
}
