import type { Writable } from "node:stream";
import { DrError } from "../errors/index.ts";
import { commandError, describeCommand, findOptionalBinary, startCommand } from "../exec/index.ts";
import { childWriteErrorCode } from "./local-disk.ts";

/** Bounds an age child that stopped making progress; a 10 GB restore's takes minutes. */
const AGE_TIMEOUT_MS = 12 * 3_600_000;

/**
 * Start `age -d -i /dev/fd/3` with its identities on descriptor 3: this process hands them to
 * the shell on descriptor 3 (fd3Input, a socket), and the shell's here-document reads them
 * from there and puts them back on descriptor 3 as a pipe, so the key is in no argv, no file
 * and no environment. (A Node child's stdio "pipe" is a socket, which age cannot open as
 * /dev/fd/3; a here-document is a pipe, or a deleted temp file in shells that write large
 * ones out, which age can.) `$0` is age's path.
 */
const AGE_SCRIPT = 'exec "$0" -d -i /dev/fd/3 3<<EOF\n$(cat <&3)\nEOF\n';

/** The stock `age`, or undefined when it is not installed (decryption then stays in this process). */
export function findAge(): string | undefined {
  return findOptionalBinary("age");
}

/** An `age -d` at work: its stdin takes the stored bytes; `exited` settles when it is done. */
export interface AgeDecryptor {
  stdin: Writable;
  /** Resolves once age exited 0 (every chunk authenticated, the end of the stream seen); rejects with why not. */
  exited: Promise<void>;
  stop(): void;
}

/** age's own reason, without its "age: error: " prefix and its bug-report line. */
function ageReason(stderr: string): string | undefined {
  const lines = stderr.split("\n").filter((line) => line.startsWith("age: error: "));
  return lines.length ? lines.map((line) => line.slice("age: error: ".length)).join("; ") : undefined;
}

/**
 * Decrypt in the stock `age -d`, a process of its own, writing the plain bytes into `outFd`
 * (another child's stdin, an open file) itself: the decryption runs on another core and its
 * output never passes through this process. A wrong key or a damaged file is a
 * DECRYPTION_FAILED naming `what` (age's reason); a write that failed carries its errno code
 * (EPIPE when the reader went away first, ENOSPC for a full disk), as the stock zstd's does.
 */
export function startAgeDecrypt(age: string, identities: readonly string[], outFd: number, what: string, signal?: AbortSignal): AgeDecryptor {
  const child = startCommand("sh", ["-c", AGE_SCRIPT, age], { fd3Input: new TextEncoder().encode(`${identities.join("\n")}\n`), stdout: outFd, timeoutMs: AGE_TIMEOUT_MS, signal });
  const stdin = child.stdin!;
  stdin.on("error", () => undefined);
  const exited = child.then((result) => {
    if (!result.failed) return;
    const stderr = String(result.stderr ?? "");
    const code = childWriteErrorCode(result, stderr);
    const error = commandError(describeCommand(age, ["-d", "-i", "/dev/fd/3"]), result, stderr);
    if (code) throw Object.assign(new Error(error.message, { cause: error }), { code });
    const reason = ageReason(stderr);
    if (!reason || result.isCanceled || result.timedOut) throw error;
    throw new DrError("DECRYPTION_FAILED", `unable to decrypt backup '${what}': ${reason} (age -d)`, {
      cause: error,
      hint: "check DR_AGE_IDENTITY_FILE holds the secret key matching a recipient the backup was encrypted to",
    });
  });
  return {
    stdin,
    exited,
    stop: () => {
      child.kill("SIGTERM");
      stdin.destroy();
    },
  };
}
