/**
 * Process-wide cleanup: everything started registers how to stop itself, so SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT or a crash still stops servers and removes temporary folders.
 */

type Cleanup = () => Promise<void>;

/** One registered cleanup: the async way, plus an optional synchronous last resort for process exit. */
interface Entry {
  run: Cleanup;
  onExit?: () => void;
}

const pending = new Set<Entry>();
let installed = false;
let exiting = false;

/** The signals we clean up on, and the exit code each ends with (128 + its number, as a shell reports it). */
const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGQUIT: 131, SIGTERM: 143 } as const;
type HandledSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * Run every pending cleanup once, newest first, swallowing their errors, until none is
 * left: what the main flow registers while the cleanups run (it keeps going until its
 * commands are cancelled) is cleaned up too.
 */
export async function runAllCleanups(): Promise<void> {
  for (let entry = [...pending].at(-1); entry; entry = [...pending].at(-1)) {
    pending.delete(entry);
    try {
      await entry.run();
    } catch {
      // Best effort during shutdown: one failure must not keep the others from running.
    }
  }
}

/** True once a signal started the shutdown: the main flow's errors from then on are its consequence, not news. */
export function isShuttingDown(): boolean {
  return exiting;
}

const shutdown = new AbortController();

/** Aborted when a signal starts the shutdown: commands run with it are cancelled at once (run-command uses it). */
export function shutdownSignal(): AbortSignal {
  return shutdown.signal;
}

/**
 * After a signal, connections and child processes die under the main flow; their errors
 * (a pg 'error' event, a rejected query) must not crash the process before the cleanups
 * finish. They are the expected consequence of stopping, so they are only shown with DR_DEBUG.
 */
function swallowDuringShutdown(error: unknown): void {
  if (process.env.DR_DEBUG) process.stderr.write(`dr-drill: during shutdown: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
}

function onSignal(signal: HandledSignal): void {
  if (exiting) {
    process.stderr.write(`dr-drill: ${signal} received again, still stopping servers and removing temporary folders...\n`);
    return;
  }
  if (pending.size === 0) {
    // Nothing of ours to stop: behave as if no handler were installed.
    uninstallHandlers();
    process.kill(process.pid, signal);
    return;
  }
  exiting = true;
  shutdown.abort(new Error(`${signal} received`));
  process.on("uncaughtException", swallowDuringShutdown);
  process.on("unhandledRejection", swallowDuringShutdown);
  process.stderr.write(`\ndr-drill: ${signal} received, stopping servers and removing temporary folders...\n`);
  void runAllCleanups().finally(() => process.exit(SIGNAL_EXIT_CODES[signal]));
}

const listeners = new Map<HandledSignal, () => void>();

/** Last resort when the process exits with cleanups still pending (a crash, process.exit): the synchronous parts only. */
function onExit(): void {
  for (const entry of [...pending].reverse()) {
    try {
      entry.onExit?.();
    } catch {
      // The process is going away; nothing else can be done.
    }
  }
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as HandledSignal[]) {
    const listener = () => onSignal(signal);
    listeners.set(signal, listener);
    process.on(signal, listener);
  }
  process.on("exit", onExit);
}

function uninstallHandlers(): void {
  for (const [signal, listener] of listeners) process.off(signal, listener);
  listeners.clear();
  process.off("exit", onExit);
  installed = false;
}

/**
 * Register a cleanup; returns the function that unregisters it (call it after a normal
 * stop). `onExit` is a synchronous fallback run if the process exits while this is still
 * pending (kill a server, remove a folder holding plaintext): async work cannot run then.
 */
export function registerCleanup(cleanup: Cleanup, onExit?: () => void): () => void {
  installHandlers();
  const entry: Entry = { run: cleanup, onExit };
  pending.add(entry);
  return () => {
    pending.delete(entry);
  };
}

/** How many cleanups are still pending (tests assert 0 after disposal). */
export function pendingCleanups(): number {
  return pending.size;
}
