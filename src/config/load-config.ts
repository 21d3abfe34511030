import { bech32 } from "@scure/base";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { DrError, messageOf } from "../errors/index.ts";
import {
  COMPONENTS,
  SCENARIO_IDS,
  type Objective,
  type ScenarioId,
  type ComponentName,
  type DrConfig,
  type DrConfigInput,
  type SandboxKind,
  type SchedulePolicy,
  type SmokeCommand,
  type TargetKind,
} from "./config-types.ts";
import { parseDuration, parseSize } from "./units.ts";

/** Pinned default images: tags a registry-connected machine pulls without a token. */
export const DEFAULT_IMAGES = {
  postgres: "postgres:15-bookworm",
  // 7.0: the host's redis-check-rdb (Debian 12: 7.0) cannot read RDB v11 files of Redis 7.2.
  redis: "redis:7.0-bookworm",
  s3: "localstack/localstack:4.14.0",
} as const;

const DEFAULT_SCHEDULE: Record<ComponentName, SchedulePolicy> = {
  postgres: { intervalMs: 3_600_000, retentionMs: 7 * 86_400_000, label: "Hourly" },
  redis: { intervalMs: 15 * 60_000, retentionMs: 86_400_000, label: "Every 15 min" },
  media: { intervalMs: 86_400_000, retentionMs: 30 * 86_400_000, label: "Daily" },
};

/** The default excludes of the reference media sync. */
export const DEFAULT_MEDIA_EXCLUDES = ["*.pyc", "__pycache__/", ".DS_Store"];

function invalid(name: string, value: unknown, expected: string): DrError {
  const shown = typeof value === "string" ? `'${value}'` : JSON.stringify(value);
  return new DrError("CONFIG_INVALID", `unable to load configuration '${name}': got ${shown}, expected ${expected}`, {
    hint: name.startsWith("DR_") ? `set ${name} to ${expected}, or unset it` : `fix '${name}' in dr.config.ts`,
  });
}

function missing(name: string, why: string): DrError {
  return new DrError("CONFIG_MISSING", `unable to load configuration '${name}': not set (${why})`, {
    hint: `set ${name}`,
  });
}

/** One value from the environment (wins) or the file, with the name to blame. */
interface Source {
  value: unknown;
  name: string;
}

function pick(env: NodeJS.ProcessEnv, envName: string | undefined, file: Record<string, unknown> | undefined, path: string): Source {
  const envValue = envName ? env[envName] : undefined;
  if (envValue !== undefined && envValue !== "") return { value: envValue, name: envName! };
  const parts = path.split(".");
  let current: unknown = file;
  for (const part of parts) {
    current = current && typeof current === "object" ? (current as Record<string, unknown>)[part] : undefined;
  }
  return { value: current, name: path };
}

function asDuration(src: Source, fallback: number): number {
  if (src.value === undefined) return fallback;
  const ms = typeof src.value === "number" ? src.value : typeof src.value === "string" ? parseDuration(src.value) : undefined;
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) throw invalid(src.name, src.value, "a duration such as 1h, 15m, 30s or 1ms");
  return ms;
}

function asSize(src: Source, fallback: number | undefined): number | undefined {
  if (src.value === undefined) return fallback;
  const bytes = typeof src.value === "number" ? src.value : typeof src.value === "string" ? parseSize(src.value) : undefined;
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) throw invalid(src.name, src.value, "a size such as 50MB, 1GB or 512MiB");
  return bytes;
}

function asInt(src: Source, fallback: number, min: number, max: number): number {
  if (src.value === undefined) return fallback;
  const n = typeof src.value === "number" ? src.value : typeof src.value === "string" && /^-?\d+$/.test(src.value) ? Number(src.value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(src.name, src.value, `a whole number from ${min} to ${max}`);
  return n;
}

function asNumber(src: Source, fallback: number): number {
  if (src.value === undefined) return fallback;
  const n = typeof src.value === "number" ? src.value : typeof src.value === "string" ? Number(src.value) : NaN;
  if (!Number.isFinite(n) || n < 0) throw invalid(src.name, src.value, "a non-negative number");
  return n;
}

function asString(src: Source, fallback: string): string;
function asString(src: Source, fallback: undefined): string | undefined;
function asString(src: Source, fallback: string | undefined): string | undefined {
  if (src.value === undefined) return fallback;
  if (typeof src.value !== "string" || src.value.length === 0) throw invalid(src.name, src.value, "a non-empty string");
  return src.value;
}

function asBoolean(src: Source, fallback: boolean): boolean {
  if (src.value === undefined) return fallback;
  if (typeof src.value === "boolean") return src.value;
  if (typeof src.value === "string" && /^(1|true|yes)$/i.test(src.value)) return true;
  if (typeof src.value === "string" && /^(0|false|no)$/i.test(src.value)) return false;
  throw invalid(src.name, src.value, "true or false");
}

function asOneOf<T extends string>(src: Source, fallback: T, allowed: readonly T[]): T {
  if (src.value === undefined) return fallback;
  if (typeof src.value !== "string" || !(allowed as readonly string[]).includes(src.value)) throw invalid(src.name, src.value, allowed.map((a) => `'${a}'`).join(" or "));
  return src.value as T;
}

function asStringList(src: Source): string[] {
  if (src.value === undefined) return [];
  if (typeof src.value === "string") return src.value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(src.value) && src.value.every((v) => typeof v === "string")) return src.value as string[];
  throw invalid(src.name, src.value, "a list of strings (comma or space separated in the environment)");
}

/** A URL with one of the given schemes; malformed input names the variable. */
export function asUrl(src: Source, protocols: readonly string[]): string {
  const text = asString(src, undefined);
  if (text === undefined) throw missing(src.name, "required by this target");
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw invalid(src.name, redactForError(text), `a URL such as ${protocols[0]}//host:port/...`);
  }
  if (!protocols.includes(parsed.protocol) || !parsed.hostname) {
    throw invalid(src.name, redactForError(text), `a URL with scheme ${protocols.join(" or ")} and a host`);
  }
  // A '%' in a password must be written %25: a stray escape would fail much later, unnamed.
  for (const [part, value] of [["user name", parsed.username], ["password", parsed.password], ["path", parsed.pathname]] as const) {
    try {
      decodeURIComponent(value);
    } catch {
      throw new DrError("CONFIG_INVALID", `unable to load configuration '${src.name}': its ${part} holds a malformed %-escape (URL ${redactForError(text)})`, {
        hint: `percent-encode special characters in ${src.name}: '%' is %25, '@' is %40, ':' is %3A, '/' is %2F`,
      });
    }
  }
  return text;
}

function redactForError(text: string): string {
  return text.replace(/(\/\/[^:/@]*:)[^@]*@/, "$1***@");
}

const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/**
 * An age X25519 recipient, checksum included (a typo would otherwise pass start-up and
 * fail mid-backup). Key material is never repeated in the message: a secret key pasted
 * here by mistake must not reach stderr or a cron log.
 */
export function validateRecipient(value: string, name: string): void {
  if (/^AGE-SECRET-KEY-/i.test(value)) {
    throw new DrError("CONFIG_INVALID", `unable to load configuration '${name}': it holds an age SECRET key (AGE-SECRET-KEY-…, not shown), expected public keys (age1…)`, {
      hint: `put public keys in ${name} (age-keygen -y KEYFILE prints one); keep the secret key in a 0600 file named by DR_AGE_IDENTITY_FILE, and rotate it if this value reached a log`,
    });
  }
  const shown = value.length > 12 ? `${value.slice(0, 8)}…${value.slice(-4)}` : value;
  if (!AGE_RECIPIENT.test(value)) throw invalid(name, shown, "age X25519 recipients (age1... from age-keygen -y)");
  try {
    bech32.decode(value as `${string}1${string}`, 90);
  } catch {
    throw new DrError("CONFIG_INVALID", `unable to load configuration '${name}': recipient '${shown}' fails its bech32 checksum (a character is wrong or missing)`, {
      hint: `copy the recipient again from 'age-keygen -y KEYFILE' into ${name}`,
    });
  }
}

function parseSandbox(src: Source): SandboxKind {
  const value = src.value ?? "native";
  if (value === "native" || value === "containers") return value;
  throw invalid(src.name, value, "one of native, containers");
}

function parseTarget(src: Source): TargetKind {
  const value = src.value ?? "native";
  if (value === "native" || value === "external" || value === "containers") return value;
  throw invalid(src.name, value, "one of native, external, containers");
}

function parseSmokeCommands(value: unknown): SmokeCommand[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid("smoke.commands", value, "a list of { name, command: string[] }");
  return value.map((entry, i) => {
    const name = `smoke.commands[${i}]`;
    if (!entry || typeof entry !== "object") throw invalid(name, entry, "{ name, command: string[] }");
    const { name: label, command, timeout } = entry as Record<string, unknown>;
    if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === "string")) {
      throw invalid(`${name}.command`, command, "a non-empty list of strings (argv, no shell)");
    }
    return {
      name: typeof label === "string" && label ? label : (command as string[]).join(" "),
      command: command as string[],
      timeoutMs: asDuration({ value: timeout, name: `${name}.timeout` }, 5 * 60_000),
    };
  });
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

/**
 * The objectives: DR_RPO_TARGET / DR_RTO_TARGET (the database's, 1 h / 15 min), then one
 * per scenario with the reference's defaults: a complete server failure gets twice the
 * database's RTO, Redis 15 min / 5 min, media 1 day / 1 hour, a region outage 24 h / 2 h.
 */
function buildObjectives(get: (envName: string | undefined, path: string) => Source, file: Record<string, unknown> | undefined): DrConfig["objectives"] {
  const rpoMs = asDuration(get("DR_RPO_TARGET", "objectives.rpo"), HOUR);
  const rtoMs = asDuration(get("DR_RTO_TARGET", "objectives.rto"), 15 * MINUTE);
  const defaults: Record<ScenarioId, Objective> = {
    "database-corruption": { rpoMs, rtoMs },
    "server-failure": { rpoMs, rtoMs: 2 * rtoMs },
    "redis-failure": { rpoMs: 15 * MINUTE, rtoMs: 5 * MINUTE },
    "media-loss": { rpoMs: 24 * HOUR, rtoMs: HOUR },
    "region-outage": { rpoMs: 24 * HOUR, rtoMs: 2 * HOUR },
  };
  const given = (file?.objectives as { scenarios?: Record<string, unknown> } | undefined)?.scenarios ?? {};
  for (const id of Object.keys(given)) {
    if (!(SCENARIO_IDS as readonly string[]).includes(id)) throw invalid(`objectives.scenarios.${id}`, id, `one of ${SCENARIO_IDS.join(", ")}`);
  }
  const scenarios = Object.fromEntries(SCENARIO_IDS.map((id) => [id, {
    rpoMs: asDuration(get(undefined, `objectives.scenarios.${id}.rpo`), defaults[id].rpoMs),
    rtoMs: asDuration(get(undefined, `objectives.scenarios.${id}.rto`), defaults[id].rtoMs),
  }])) as Record<ScenarioId, Objective>;
  return { rpoMs, rtoMs, scenarios };
}

/**
 * Build the configuration from a config-file object and the environment. Pure: the same
 * inputs give the same result; the first invalid value throws a DrError naming it.
 */
export function buildConfig(fileInput: DrConfigInput | undefined, env: NodeJS.ProcessEnv = process.env): DrConfig {
  const file = fileInput as unknown as Record<string, unknown> | undefined;
  const get = (envName: string | undefined, path: string) => pick(env, envName, file, path);

  const target = parseTarget(get("DR_TARGET", "target"));

  const recipients = asStringList(get("DR_AGE_RECIPIENTS", "encryption.recipients"));
  for (const r of recipients) validateRecipient(r, env.DR_AGE_RECIPIENTS ? "DR_AGE_RECIPIENTS" : "encryption.recipients");

  const schedule = Object.fromEntries(
    COMPONENTS.map((c) => {
      const upper = c.toUpperCase();
      const base = DEFAULT_SCHEDULE[c];
      return [
        c,
        {
          intervalMs: asDuration(get(`DR_${upper}_INTERVAL`, `schedule.${c}.interval`), base.intervalMs),
          retentionMs: asDuration(get(`DR_${upper}_RETENTION`, `schedule.${c}.retention`), base.retentionMs),
          label: asString(get(undefined, `schedule.${c}.label`), base.label),
        },
      ];
    }),
  ) as Record<ComponentName, SchedulePolicy>;

  const config: DrConfig = {
    target,
    stateDir: resolve(asString(get("DR_STATE_DIR", "stateDir"), ".dr-drill")),
    external: undefined,
    replica: undefined,
    sandbox: parseSandbox(get("DR_SANDBOX", "sandbox")),
    images: {
      postgres: asString(get("DR_POSTGRES_IMAGE", "images.postgres"), DEFAULT_IMAGES.postgres),
      redis: asString(get("DR_REDIS_IMAGE", "images.redis"), DEFAULT_IMAGES.redis),
      s3: asString(get("DR_S3_IMAGE", "images.s3"), DEFAULT_IMAGES.s3),
    },
    encryption: {
      recipients,
      identityFile: asString(get("DR_AGE_IDENTITY_FILE", "encryption.identityFile"), undefined),
      allowUnencrypted: asBoolean(get("DR_ALLOW_UNENCRYPTED", "encryption.allowUnencrypted"), false),
    },
    schedule,
    objectives: buildObjectives(get, file),
    postgres: {
      // Level 1 by default (node bench/compression-levels.ts, 293 MB fixture): -Z1 ran 2.2x
      // faster than -Z6 and 3.3x faster than -Z9 for 13% / 14% more bytes. Dump time widens
      // the RPO window and loads the database host; a few extra stored bytes cost cents.
      compressionLevel: asInt(get("DR_PG_COMPRESSION", "postgres.compressionLevel"), 1, 0, 9),
      // zstd over pg_dump -Z0 (dr-drill compresses, on its worker threads): backups 1.23-1.58x
      // faster than pg_dump's own gzip -Z1 at 1 GB, 3 % smaller, restores as fast
      // (node bench/dump-compression.ts). "pg_dump" keeps pg_dump's own gzip.
      compressionMethod: asOneOf(get("DR_PG_COMPRESSION_METHOD", "postgres.compressionMethod"), "zstd", ["zstd", "pg_dump"] as const),
      // pg_restore --jobs from the cores this machine has (2 at least, 8 at most): on 2 cores
      // -j4 gained nothing over -j2 (issue measurements), more cores restore indexes in parallel.
      restoreJobs: asInt(get("DR_PG_RESTORE_JOBS", "postgres.restoreJobs"), Math.min(8, Math.max(2, availableParallelism())), 1, 64),
      expectedSizeMin: asSize(get("DR_PG_EXPECTED_SIZE_MIN", "postgres.expectedSizeMin"), undefined),
      expectedSizeMax: asSize(get("DR_PG_EXPECTED_SIZE_MAX", "postgres.expectedSizeMax"), undefined),
    },
    media: {
      excludes: file && (file.media as Record<string, unknown> | undefined)?.excludes !== undefined
        ? asStringList(get(undefined, "media.excludes"))
        : [...DEFAULT_MEDIA_EXCLUDES],
    },
    smoke: { commands: parseSmokeCommands((file?.smoke as Record<string, unknown> | undefined)?.commands) },
    report: {
      dir: asString(get("DR_REPORT_DIR", "report.dir"), "reports"),
      pricePerGbMonth: asNumber(get("DR_PRICE_PER_GB_MONTH", "report.pricePerGbMonth"), 0.023),
      productionDbBytes: asSize(get("DR_PRODUCTION_DB_SIZE", "report.productionDbSize"), undefined),
    },
    fixtures: {
      postgresBytes: asSize(get("DR_FIXTURE_SIZE", "fixtures.postgresSize"), 50e6)!,
      seed: asInt(get("DR_FIXTURE_SEED", "fixtures.seed"), 42, 0, 2 ** 31 - 1),
    },
  };

  if (config.postgres.expectedSizeMin !== undefined && config.postgres.expectedSizeMax !== undefined &&
      config.postgres.expectedSizeMin > config.postgres.expectedSizeMax) {
    throw invalid("postgres.expectedSizeMin", config.postgres.expectedSizeMin, `at most postgres.expectedSizeMax (${config.postgres.expectedSizeMax})`);
  }

  const replicaBucket = asString(get("DR_REPLICA_S3_BUCKET", "replica.bucket"), undefined);
  if (replicaBucket) {
    const endpoint = asString(get("DR_REPLICA_S3_ENDPOINT", "replica.endpoint"), undefined);
    config.replica = {
      bucket: replicaBucket,
      prefix: normalizePrefix(asString(get("DR_REPLICA_S3_PREFIX", "replica.prefix"), "")),
      endpoint: endpoint === undefined ? undefined : asUrl({ value: endpoint, name: env.DR_REPLICA_S3_ENDPOINT ? "DR_REPLICA_S3_ENDPOINT" : "replica.endpoint" }, ["http:", "https:"]),
      region: asString(get("DR_REPLICA_S3_REGION", "replica.region"), env.AWS_REGION ?? "us-east-1"),
    };
  }

  if (target === "external") {
    const bucket = asString(get("DR_S3_BUCKET", "external.s3.bucket"), undefined);
    if (!bucket) throw missing("DR_S3_BUCKET", "the external target stores backups in this bucket");
    const mediaDir = asString(get("DR_MEDIA_DIR", "external.mediaDir"), undefined);
    const endpoint = asString(get("DR_S3_ENDPOINT", "external.s3.endpoint"), undefined);
    const optionalUrl = (envName: string, path: string, protocols: readonly string[]) => {
      const src = get(envName, path);
      return src.value === undefined ? undefined : asUrl(src, protocols);
    };
    config.external = {
      databaseUrl: optionalUrl("DR_DATABASE_URL", "external.databaseUrl", ["postgres:", "postgresql:"]),
      redisUrl: optionalUrl("DR_REDIS_URL", "external.redisUrl", ["redis:", "rediss:"]),
      mediaDir: mediaDir === undefined ? undefined : resolve(mediaDir),
      s3: {
        bucket,
        prefix: normalizePrefix(asString(get("DR_S3_PREFIX", "external.s3.prefix"), "")),
        endpoint: endpoint === undefined ? undefined : asUrl({ value: endpoint, name: env.DR_S3_ENDPOINT ? "DR_S3_ENDPOINT" : "external.s3.endpoint" }, ["http:", "https:"]),
        region: asString(get("DR_S3_REGION", "external.s3.region"), env.AWS_REGION ?? "us-east-1"),
      },
    };
  }
  return config;
}

/** The variable (or dr.config.ts key) that configures a component of the external source. */
export const COMPONENT_VARIABLE: Record<ComponentName, string> = {
  postgres: "DR_DATABASE_URL",
  redis: "DR_REDIS_URL",
  media: "DR_MEDIA_DIR",
};

/**
 * The components this configuration protects: all three on the rehearsal targets (they
 * bring their own servers), the configured subset on the external target.
 */
export function configuredComponents(config: DrConfig): ComponentName[] {
  if (config.target !== "external") return [...COMPONENTS];
  const ext = config.external;
  return COMPONENTS.filter((c) => (c === "postgres" ? ext?.databaseUrl : c === "redis" ? ext?.redisUrl : ext?.mediaDir) !== undefined);
}

/** `backups` -> `backups/`; `` stays ``; no leading slash. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  return trimmed ? `${trimmed}/` : "";
}

/** Import a dr.config.ts (or .js/.mjs) file; its default export is the input. */
export async function readConfigFile(path: string): Promise<DrConfigInput> {
  try {
    const mod = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
    if (!mod.default || typeof mod.default !== "object") {
      throw new Error("it has no default export object (export default defineConfig({...}))");
    }
    return mod.default as DrConfigInput;
  } catch (error) {
    throw new DrError("CONFIG_INVALID", `unable to load configuration file '${path}': ${messageOf(error)}`, {
      hint: "check the file compiles and ends with `export default defineConfig({ ... })`",
      cause: error,
    });
  }
}

/**
 * Load the configuration once at start-up: DR_CONFIG or ./dr.config.ts when present, then
 * the DR_* environment on top, validated.
 */
export async function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<DrConfig> {
  let path = env.DR_CONFIG;
  if (path && !existsSync(resolve(cwd, path))) {
    throw new DrError("CONFIG_INVALID", `unable to load configuration file '${path}': no such file (from DR_CONFIG)`, {
      hint: "point DR_CONFIG at an existing dr.config.ts, or unset it",
    });
  }
  if (!path) {
    path = ["dr.config.ts", "dr.config.js", "dr.config.mjs"].find((name) => existsSync(resolve(cwd, name)));
  }
  const input = path ? await readConfigFile(resolve(cwd, path)) : undefined;
  return buildConfig(input, env);
}
