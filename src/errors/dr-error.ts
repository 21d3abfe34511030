/** Exit codes every command keeps: scripts and cron jobs rely on them. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Stable error codes; tests and scripts match on these, never on message text alone. */
export type DrErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_MISSING"
  | "BINARY_MISSING"
  | "COMMAND_FAILED"
  | "TARGET_START_FAILED"
  | "TARGET_UNREACHABLE"
  | "STORAGE_FAILED"
  | "STORAGE_NOT_FOUND"
  | "BUCKET_MISSING"
  | "STORAGE_UNSUPPORTED"
  | "BACKUP_FAILED"
  | "BACKUP_NOT_FOUND"
  | "VERSION_MISMATCH"
  | "ENCRYPTION_FAILED"
  | "DECRYPTION_FAILED"
  | "INTEGRITY_FAILED"
  | "RESTORE_REFUSED"
  | "RESTORE_FAILED"
  | "SMOKE_CHECK_FAILED"
  | "WAL_CONFLICT"
  | "WAL_MISSING"
  | "TARGET_BREACHED";

export interface DrErrorOptions {
  /** What the user can do about it; printed as a `HINT:` line. */
  hint?: string;
  /** The underlying error, kept for debugging. */
  cause?: unknown;
  /** Process exit code when this error ends a command (default 1; usage/config errors 2). */
  exitCode?: number;
}

/**
 * The one error type dr-drill raises on purpose. Message shape follows pgBackRest:
 * `unable to <verb> <object> '<id>': <reason>`, with an optional HINT the user can act on.
 */
export class DrError extends Error {
  readonly code: DrErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: DrErrorCode, message: string, options: DrErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DrError";
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? (code === "CONFIG_INVALID" || code === "CONFIG_MISSING" ? EXIT_USAGE : EXIT_FAILURE);
  }

  /** The message plus its HINT line, as printed to a user. */
  format(): string {
    return this.hint ? `${this.message}\nHINT: ${this.hint}` : this.message;
  }
}

/** Build `unable to <action> '<id>': <reason>`, the shape every DrError message keeps. */
export function unable(action: string, id: string, reason: string): string {
  return `unable to ${action} '${id}': ${reason}`;
}

/** Narrow an unknown throw to a DrError with the given code. */
export function isDrError(error: unknown, code?: DrErrorCode): error is DrError {
  return error instanceof DrError && (code === undefined || error.code === code);
}

/** The message of anything thrown, for `reason` parts of error messages. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
