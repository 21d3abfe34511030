import { readFile } from "node:fs/promises";
import { configuredComponents, COMPONENTS, type ComponentName, type DrConfig, loadConfig } from "../config/index.ts";
import { DrError } from "../errors/index.ts";
import { openRepository } from "../repository/open-repository.ts";
import type { Repository, RepositoryName } from "../repository/repository.ts";
import { addSecrets } from "./output.ts";

/** Load config with a --target override applied. */
export async function loadCommandConfig(targetOverride?: string): Promise<DrConfig> {
  const env = targetOverride ? { ...process.env, DR_TARGET: targetOverride } : process.env;
  return await loadConfig(env);
}

/** Every secret a repository holds (identities, the identity file's keys), for masking output. */
export async function repositorySecrets(repository: Repository): Promise<string[]> {
  const secrets = [...repository.identities];
  if (repository.identityFile) {
    secrets.push(...(await readFile(repository.identityFile, "utf8").catch(() => "")).split("\n").filter((l) => l.startsWith("AGE-SECRET-KEY-")));
  }
  return secrets;
}

/** A command that reads only the repository (list, verify, restore, status, prune). */
export interface RepositorySession extends AsyncDisposable {
  config: DrConfig;
  repository: Repository;
}

/**
 * Open the repository and nothing else: recovery commands must work while the source is
 * down, its Redis gone and its media folder deleted.
 */
export async function openRepositorySession(options: { target?: string; repo?: string }): Promise<RepositorySession> {
  const config = await loadCommandConfig(options.target);
  const repository = await openRepository(config, { name: parseRepositoryName(options.repo) });
  addSecrets(await repositorySecrets(repository));
  return { config, repository, [Symbol.asyncDispose]: () => repository.close() };
}

/** The components a recovery-side command looks at by default: the configured ones, or all when none is (a recovery host with only the bucket). */
export function componentsToRead(config: DrConfig, which: string | undefined): ComponentName[] {
  if (which !== undefined && which !== "all") return parseComponentList(which, false);
  const configured = configuredComponents(config);
  return configured.length ? configured : [...COMPONENTS];
}

/** `--repo primary|replica` (default primary). */
export function parseRepositoryName(value: string | undefined): RepositoryName {
  if (value === undefined || value === "primary") return "primary";
  if (value === "replica") return "replica";
  throw new DrError("CONFIG_INVALID", `unable to parse --repo '${value}': expected primary or replica`, { exitCode: 2 });
}

/** Parse `postgres|redis|media[|all]`. */
export function parseComponentList(value: string | undefined, allowAll = true): ComponentName[] {
  if (value === undefined || (allowAll && value === "all")) return [...COMPONENTS];
  if ((COMPONENTS as readonly string[]).includes(value)) return [value as ComponentName];
  throw new DrError("CONFIG_INVALID", `unable to parse component '${value}': expected ${COMPONENTS.join(", ")}${allowAll ? " or all" : ""}`, { exitCode: 2 });
}
