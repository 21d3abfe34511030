import { setTimeout as sleep } from "node:timers/promises";

/** True while a process with this id exists (signal 0 only checks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The processes of `pids` still running after a grace period for the kernel to reap them. */
export async function findLivePids(pids: readonly number[], graceMs = 5_000): Promise<number[]> {
  const deadline = performance.now() + graceMs;
  let live = pids.filter(isAlive);
  while (live.length > 0 && performance.now() < deadline) {
    await sleep(100);
    live = live.filter(isAlive);
  }
  return live;
}
