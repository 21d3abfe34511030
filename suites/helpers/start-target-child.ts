// Child process for the signal test: starts the native target, prints its pids and
// folders as one JSON line, then waits to be signalled.
import { startNativeTarget } from "../../src/targets/index.ts";

const target = await startNativeTarget();
process.stdout.write(`${JSON.stringify({ pids: target.pids(), dirs: target.dirs() })}\n`);
setInterval(() => undefined, 60_000);
