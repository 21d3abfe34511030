import type { SandboxKind } from "../config/index.ts";
import type { ScratchServers, StartedPostgres, StartedRedis } from "./target.ts";

/**
 * Where restores are proven: scratch servers started for one command (native processes
 * or containers), never the source. Disposing it stops every scratch server still running.
 */
export interface Sandbox extends ScratchServers, AsyncDisposable {
  kind: SandboxKind;
  /** One line for the report: what the scratch servers are. */
  describe(): string;
  stop(): Promise<void>;
}

/**
 * Remember scratch servers so a sandbox's stop() also stops them; a server stopped on its
 * own is forgotten. Shared by every sandbox implementation.
 */
export function createScratchTracker(): { track<T extends StartedPostgres | StartedRedis>(server: T): T; stopAll(): Promise<void>; running(): (StartedPostgres | StartedRedis)[] } {
  const scratch = new Set<StartedPostgres | StartedRedis>();
  return {
    track: (server) => {
      scratch.add(server);
      const original = server.stop;
      const stopOnce = async () => {
        scratch.delete(server);
        await original();
      };
      server.stop = stopOnce;
      server[Symbol.asyncDispose] = stopOnce;
      return server;
    },
    stopAll: async () => {
      await Promise.allSettled([...scratch].map((server) => server.stop()));
    },
    running: () => [...scratch],
  };
}
