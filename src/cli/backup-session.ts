// The backup commands' session: the source servers as well as the repository. Apart from
// session.ts so that the recovery commands (restore, list, wal push and fetch) load neither
// the targets nor the database and Redis clients.
import { configuredComponents, type ComponentName, type DrConfig } from "../config/index.ts";
import { DrError } from "../errors/index.ts";
import { openRepository, type Repository, workspaceDir } from "../repository/index.ts";
import { assertConfigured, externalSource, sourceOfTarget, type Source, type StartedTarget } from "../targets/index.ts";
import { startNativeTarget } from "../targets/native/native-target.ts";
import { addSecrets } from "./output.ts";
import { loadCommandConfig, parseComponentList, repositorySecrets } from "./session.ts";

/** A backup's working set: the source components it reads and the repository it writes. */
export interface BackupSession extends AsyncDisposable {
  config: DrConfig;
  source: Source;
  repository: Repository;
  /** The components this run backs up. */
  components: ComponentName[];
  /** The embedded workspace's servers, when the target is native (seeded on first use). */
  workspace?: StartedTarget;
}

/**
 * `all` means every configured component; a component named explicitly must be
 * configured (a usage error naming its variable otherwise). Recovery-side commands accept
 * any component present in the repository instead (see componentsToRead).
 */
export function componentsToBackUp(config: DrConfig, which: string): ComponentName[] {
  const configured = configuredComponents(config);
  if (which === "all") {
    if (configured.length === 0) {
      throw new DrError("CONFIG_MISSING", "unable to back up 'all': no component is configured (DR_DATABASE_URL, DR_REDIS_URL and DR_MEDIA_DIR are all unset)", {
        hint: "set at least one of DR_DATABASE_URL, DR_REDIS_URL, DR_MEDIA_DIR",
      });
    }
    return configured;
  }
  const [component] = parseComponentList(which, true);
  if (config.target === "external") assertConfigured(externalSource(config), component!, "back up");
  return [component!];
}

/**
 * Open what a backup needs: the source components it reads (each checked reachable by
 * the backup of that component, so one server down fails only its own backup) and the
 * repository. The embedded workspace starts its own
 * servers (data kept across commands); containers cannot back up across commands.
 * `beforeStart` sees the config first, so a command can refuse before anything starts.
 */
export async function openBackupSession(options: { target?: string; which: string; beforeStart?: (config: DrConfig) => void }): Promise<BackupSession> {
  const config = await loadCommandConfig(options.target);
  const components = componentsToBackUp(config, options.which);
  options.beforeStart?.(config);
  if (config.target === "native") {
    const target = await startNativeTarget({ stateDir: workspaceDir(config) });
    try {
      const repository = await openRepository(config, { endpoint: target.s3 });
      addSecrets([target.postgres.password, target.redis.password, ...(await repositorySecrets(repository))]);
      const close = async () => {
        await repository.close();
        await target.stop();
      };
      return { config, source: sourceOfTarget(target), repository, components, workspace: target, [Symbol.asyncDispose]: close };
    } catch (error) {
      await target.stop();
      throw error;
    }
  }
  if (config.target === "containers") {
    await openRepository(config); // throws the refusal with its hint
  }
  const source = externalSource(config);
  addSecrets([source.postgres?.password, source.redis?.password]);
  const repository = await openRepository(config);
  addSecrets(await repositorySecrets(repository));
  return { config, source, repository, components, [Symbol.asyncDispose]: () => repository.close() };
}
