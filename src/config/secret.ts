/** Redaction: secrets never reach argv, logs or reports. */

export const REDACTED = "***";

/** A URL with its password (and any `password`/`token` query value) replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = REDACTED;
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) parsed.searchParams.set(key, REDACTED);
    }
    return parsed.toString();
  } catch {
    // Not a URL: redact anything after "://user:" as a best effort.
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, `$1${REDACTED}@`);
  }
}

const SECRET_KEY = /pass(word)?|secret|token|credential|identity|private/i;

/** A deep copy of a config-like value with secrets masked, for printing. */
export function redactDeep<T>(value: T, key = ""): T {
  if (typeof value === "string") {
    if (SECRET_KEY.test(key) && !/file$/i.test(key)) return REDACTED as T;
    return (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? redactUrl(value) : value) as T;
  }
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, key)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, k)])) as T;
  }
  return value;
}

/** Replace every occurrence of the given secret values in free text (command output, errors). */
export function redactText(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out;
}
