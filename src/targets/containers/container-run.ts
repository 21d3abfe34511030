import { randomUUID } from "node:crypto";
import type { ContainerRuntimeClient, StartedTestContainer } from "testcontainers";

/** The label every container of one target carries; its value is the run id. */
export const RUN_LABEL = "dr-drill.run";

/**
 * The containers one target started, under one run id. Every container is labelled with
 * it before it is created, so a container caught mid-start by Ctrl-C (created, not yet
 * returned to us) is still found and removed by `stopAll`.
 */
export interface ContainerRun {
  id: string;
  /** Labels to put on each container of this run. */
  labels: Record<string, string>;
  /** Remember a started container so `stopAll` stops it. */
  add(container: StartedTestContainer): void;
  /** Stop and remove one container (a scratch server), and forget it. */
  stop(container: StartedTestContainer): Promise<void>;
  /** Stop every container of this run in parallel, then remove any the label still finds. */
  stopAll(): Promise<void>;
  /** Ids of the containers started and not yet stopped. */
  containerIds(): string[];
}

/** Stop and remove every container still carrying this run's label (force: no grace period). */
async function removeLabelled(client: ContainerRuntimeClient, runId: string): Promise<void> {
  const leftovers = await client.container.dockerode.listContainers({ all: true, filters: { label: [`${RUN_LABEL}=${runId}`] } });
  await Promise.all(leftovers.map((info) => client.container.dockerode.getContainer(info.Id).remove({ force: true, v: true })));
}

/** Start a run: a fresh id and its labels; nothing is started yet. */
export function createContainerRun(client: ContainerRuntimeClient): ContainerRun {
  const id = randomUUID();
  const started = new Set<StartedTestContainer>();
  return {
    id,
    labels: { [RUN_LABEL]: id },
    add: (container) => {
      started.add(container);
    },
    stop: async (container) => {
      started.delete(container);
      await container.stop();
    },
    stopAll: async () => {
      const containers = [...started];
      started.clear();
      // A stop that fails is retried by force through the label: only a failure there is an error.
      await Promise.allSettled(containers.map((container) => container.stop()));
      await removeLabelled(client, id);
    },
    containerIds: () => [...started].map((container) => container.getId()),
  };
}
