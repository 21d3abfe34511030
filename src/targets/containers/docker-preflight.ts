import { existsSync } from "node:fs";
import { type ContainerRuntimeClient, getContainerRuntimeClient, getReaper, ImageName } from "testcontainers";
import type { ContainerImages } from "../../config/index.ts";
import { DrError, messageOf } from "../../errors/index.ts";

/** How long the engine has to answer before the target gives up (a hung socket must not hang us). */
export const ENGINE_TIMEOUT_MS = 15_000;

/** What the engine said about itself, for the report. */
export interface DockerEngine {
  client: ContainerRuntimeClient;
  /** Engine version, e.g. `20.10.24+dfsg1` (testcontainers types it as a number; it is a string). */
  serverVersion: string;
  /** Host the containers' published ports are reached on (TESTCONTAINERS_HOST_OVERRIDE wins). */
  host: string;
}

/** One image as found on the engine. */
export interface ImageFacts {
  name: string;
  /** Image id, `sha256:...`: names the exact bits that ran, whatever the tag points at later. */
  id: string;
}

/** Which setting names each image, for messages. */
const IMAGE_SETTINGS: Record<keyof ContainerImages, string> = {
  postgres: "DR_POSTGRES_IMAGE / images.postgres",
  redis: "DR_REDIS_IMAGE / images.redis",
  s3: "DR_S3_IMAGE / images.s3",
};

/** Where testcontainers looked for an engine, so "no engine" says which doors were knocked on. */
function describeEngineSearch(env: NodeJS.ProcessEnv): string {
  const dockerHost = env.DOCKER_HOST ? `DOCKER_HOST=${env.DOCKER_HOST}` : "DOCKER_HOST unset";
  const socket = existsSync("/var/run/docker.sock") ? "/var/run/docker.sock present" : "/var/run/docker.sock absent";
  return `${dockerHost}, ${socket}`;
}

/** Reject after `ms` with a message saying so; the timer never keeps the process alive. */
async function rejectAfter(ms: number): Promise<never> {
  return await new Promise((_, reject) => {
    setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref();
  });
}

/**
 * Make sure a Docker engine answers before anything is started. `connect` is
 * testcontainers' own discovery (DOCKER_HOST, ~/.testcontainers.properties, the usual
 * sockets), so the check and the containers use the same engine; tests pass a stand-in.
 */
export async function checkDockerEngine(
  connect: () => Promise<ContainerRuntimeClient> = getContainerRuntimeClient,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<DockerEngine> {
  const env = options.env ?? process.env;
  try {
    const client = await Promise.race([connect(), rejectAfter(options.timeoutMs ?? ENGINE_TIMEOUT_MS)]);
    return { client, serverVersion: String(client.info.containerRuntime.serverVersion), host: client.info.containerRuntime.host };
  } catch (error) {
    throw new DrError("TARGET_START_FAILED", `unable to start target 'containers': no Docker engine answered (${messageOf(error).trim()}; ${describeEngineSearch(env)})`, {
      hint: "run 'bash scripts/start-dockerd.sh' (installs docker.io and starts dockerd)",
      cause: error,
    });
  }
}

/**
 * Start testcontainers' Ryuk reaper now, when it is on (TESTCONTAINERS_RYUK_DISABLED is not
 * "true"): its image is pulled on first use, which fails where no registry answers, and
 * without this check that failure would surface as an unexplained pull error of whichever
 * server container started first. `start` is testcontainers' getReaper; tests pass a stand-in.
 */
export async function checkReaper(
  client: ContainerRuntimeClient,
  start: (client: ContainerRuntimeClient) => Promise<unknown> = getReaper,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  try {
    await start(client);
  } catch (error) {
    const image = env.RYUK_CONTAINER_IMAGE ?? "testcontainers/ryuk";
    throw new DrError("TARGET_START_FAILED", `unable to start target 'containers': testcontainers' Ryuk reaper (${image}) did not start (${messageOf(error).trim()})`, {
      hint: `set TESTCONTAINERS_RYUK_DISABLED=true where no registry is reachable (dr-drill removes its own containers, on SIGINT/SIGTERM too), or 'docker pull ${image}' on a machine with registry access`,
      cause: error,
    });
  }
}

/**
 * Make sure every image is already on the engine: the containers target never pulls (a
 * machine without a registry must fail here, naming the image, not deep inside a start).
 */
export async function checkImagesPresent(client: ContainerRuntimeClient, images: ContainerImages): Promise<Record<keyof ContainerImages, ImageFacts>> {
  const kinds = Object.keys(images) as (keyof ContainerImages)[];
  const found = await Promise.all(kinds.map(async (kind) => {
    const name = images[kind];
    const imageName = ImageName.fromString(name);
    if (!(await client.image.exists(imageName))) return { kind, name, id: undefined };
    const info = await client.image.inspect(imageName);
    return { kind, name, id: info.Id };
  }));
  const missing = found.filter((image) => image.id === undefined);
  if (missing.length > 0) {
    const listed = missing.map((image) => `'${image.name}' (${IMAGE_SETTINGS[image.kind]})`).join(", ");
    throw new DrError("TARGET_START_FAILED", `unable to find image${missing.length > 1 ? "s" : ""} ${listed}: not on the Docker engine, and the containers target never pulls`, {
      hint: `run 'bash scripts/build-offline-images.sh', or ${missing.map((image) => `'docker pull ${image.name}'`).join(" and ")} on a machine with registry access`,
    });
  }
  return Object.fromEntries(found.map((image) => [image.kind, { name: image.name, id: image.id! }])) as Record<keyof ContainerImages, ImageFacts>;
}
