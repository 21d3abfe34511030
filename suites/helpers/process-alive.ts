import { existsSync } from "node:fs";

/** True while a process with this pid exists (signal 0 probes without killing). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Pids and folders of a stopped target that still exist: both lists must be empty. */
export function leftovers(pids: number[], dirs: string[]): { pids: number[]; dirs: string[] } {
  return { pids: pids.filter(isProcessAlive), dirs: dirs.filter((dir) => existsSync(dir)) };
}
