/** The parts of an AWS SDK or network error this driver looks at. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

// Node/undici codes meaning the server could not be reached at all.
const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "EPIPE"]);

/** Read the fields of an unknown throw without trusting its type. */
function toShape(error: unknown): SdkErrorShape {
  return typeof error === "object" && error !== null ? (error as SdkErrorShape) : {};
}

/** HTTP status of an SDK error, when the server answered. */
export function getStatusCode(error: unknown): number | undefined {
  return toShape(error).$metadata?.httpStatusCode;
}

/** The object or bucket does not exist (HEAD answers a bare 404 named NotFound). */
export function isNotFound(error: unknown): boolean {
  const { name } = toShape(error);
  return name === "NotFound" || name === "NoSuchKey" || name === "NoSuchBucket" || getStatusCode(error) === 404;
}

/** The server refused the credentials or the permission. */
export function isAccessDenied(error: unknown): boolean {
  const { name } = toShape(error);
  const status = getStatusCode(error);
  return status === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch";
}

/** No answer from the server: refused, unresolvable, timed out. */
export function isUnreachable(error: unknown): boolean {
  const { name, code } = toShape(error);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  return name === "TimeoutError" || (getStatusCode(error) === undefined && name !== undefined && NETWORK_CODES.has(name));
}

/** The server does not implement the operation (emulators, some S3-compatible stores). */
export function isNotImplemented(error: unknown): boolean {
  const { name } = toShape(error);
  const status = getStatusCode(error);
  return name === "NotImplemented" || status === 501 || status === 405;
}

/** An SDK error as a short phrase for reports: `AccessDenied (HTTP 403)`, or the network error. */
export function describeSdkError(error: unknown): string {
  const { name, code } = toShape(error);
  const status = getStatusCode(error);
  const what = name && name !== "Error" ? name : code ?? (error instanceof Error ? error.message.split("\n")[0]! : String(error));
  return status === undefined ? what : `${what} (HTTP ${status})`;
}
