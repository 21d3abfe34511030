/**
 * Process-wide cleanup: everything started registers how to stop itself, so SIGINT,
 * SIGTERM or a crash still stops servers and removes temporary folders.
 */

type Cleanup = () => Promise<void>;

const pending = new Set<Cleanup>();
let installed = false;
let exiting = false;

/** Run every pending cleanup once, newest first, swallowing their errors. */
export async function runAllCleanups(): Promise<void> {
  const all = [...pending].reverse();
  pending.clear();
  for (const cleanup of all) {
    try {
      await cleanup();
    } catch {
      // Best effort during shutdown: one failure must not keep the others from running.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (exiting) return;
  if (pending.size === 0) {
    // Nothing of ours to stop: behave as if no handler were installed.
    process.kill(process.pid, signal);
    return;
  }
  exiting = true;
  const code = signal === "SIGINT" ? 130 : 143;
  process.stderr.write(`\ndr-drill: ${signal} received, stopping servers and removing temporary folders...\n`);
  void runAllCleanups().finally(() => process.exit(code));
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => onSignal(signal));
  }
}

/** Register a cleanup; returns the function that unregisters it (call it after a normal stop). */
export function registerCleanup(cleanup: Cleanup): () => void {
  installHandlers();
  pending.add(cleanup);
  return () => {
    pending.delete(cleanup);
  };
}

/** How many cleanups are still pending (tests assert 0 after disposal). */
export function pendingCleanups(): number {
  return pending.size;
}
