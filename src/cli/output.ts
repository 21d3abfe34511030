import { isDrError, messageOf } from "../errors/index.ts";
import { isShuttingDown } from "../lifecycle/index.ts";
import { redactText } from "../config/index.ts";

/** Secrets known to this process, masked in anything printed. */
const knownSecrets = new Set<string>();

/** Remember values that must never be printed. */
export function addSecrets(values: readonly (string | undefined)[]): void {
  for (const value of values) if (value) knownSecrets.add(value);
}

/** Print a line to stdout, secrets masked. */
export function say(line = ""): void {
  process.stdout.write(`${redactText(line, [...knownSecrets])}\n`);
}

/** Print a line to stderr, secrets masked. */
export function warn(line: string): void {
  process.stderr.write(`${redactText(line, [...knownSecrets])}\n`);
}

/** Print an error the way every command does (message, HINT) and return its exit code. */
export function reportError(error: unknown): number {
  // After SIGINT/SIGTERM the interrupted steps fail as a consequence: the signal line said why.
  if (isShuttingDown()) return isDrError(error) ? error.exitCode : 1;
  if (isDrError(error)) {
    warn(`dr-drill: ${error.format()}`);
    return error.exitCode;
  }
  warn(`dr-drill: unexpected error: ${messageOf(error)}`);
  if (process.env.DR_DEBUG && error instanceof Error && error.stack) warn(error.stack);
  return 1;
}

/** A plain aligned text table. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
