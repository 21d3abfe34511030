import type { ContainerRuntimeClient } from "testcontainers";
import { describe, expect, it } from "vitest";
import { checkDockerEngine, checkImagesPresent, checkReaper } from "./docker-preflight.ts";
import { drErrorOf } from "../../errors/dr-error-of.ts";

/** A stand-in runtime client whose image store holds `present` (name -> id). */
function fakeClient(present: Record<string, string>): ContainerRuntimeClient {
  return {
    info: { containerRuntime: { serverVersion: "27.0.1", host: "127.0.0.1" } },
    image: {
      exists: async (name: { string: string }) => name.string in present,
      inspect: async (name: { string: string }) => ({ Id: present[name.string] }),
    },
  } as unknown as ContainerRuntimeClient;
}

describe("checkDockerEngine", () => {
  it("says no engine answered, why, where it looked, and how to start one", async () => {
    const error = await drErrorOf(checkDockerEngine(async () => {
      throw new Error("Could not find a working container runtime strategy");
    }, { env: { DOCKER_HOST: "unix:///nowhere.sock" } }));
    expect(error.code).toBe("TARGET_START_FAILED");
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/^unable to start target 'containers': no Docker engine answered \(Could not find a working container runtime strategy; DOCKER_HOST=unix:\/\/\/nowhere\.sock, \/var\/run\/docker\.sock (present|absent)\)$/);
    expect(error.hint).toBe("run 'bash scripts/start-dockerd.sh' (installs docker.io and starts dockerd)");
  });

  it("gives up on an engine that never answers", async () => {
    const started = performance.now();
    const error = await drErrorOf(checkDockerEngine(() => new Promise(() => undefined), { timeoutMs: 50, env: {} }));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.message).toContain("no Docker engine answered (no answer within 50 ms; DOCKER_HOST unset, ");
  });

  it("returns the engine's version and host when it answers", async () => {
    const engine = await checkDockerEngine(async () => fakeClient({}));
    expect(engine.serverVersion).toBe("27.0.1");
    expect(engine.host).toBe("127.0.0.1");
  });
});

describe("checkImagesPresent", () => {
  const images = { postgres: "dr-drill/postgres:15-offline", redis: "dr-drill/redis:7-offline", s3: "dr-drill/s3:offline" };

  it("returns each image with its id when all are present", async () => {
    const client = fakeClient({ [images.postgres]: "sha256:aa", [images.redis]: "sha256:bb", [images.s3]: "sha256:cc" });
    expect(await checkImagesPresent(client, images)).toEqual({
      postgres: { name: images.postgres, id: "sha256:aa" },
      redis: { name: images.redis, id: "sha256:bb" },
      s3: { name: images.s3, id: "sha256:cc" },
    });
  });

  it("names the missing image, the setting that chose it, and how to get it", async () => {
    const client = fakeClient({ [images.postgres]: "sha256:aa", [images.redis]: "sha256:bb" });
    const error = await drErrorOf(checkImagesPresent(client, images));
    expect(error.code).toBe("TARGET_START_FAILED");
    expect(error.message).toBe("unable to find image 'dr-drill/s3:offline' (DR_S3_IMAGE / images.s3): not on the Docker engine, and the containers target never pulls");
    expect(error.hint).toBe("run 'bash scripts/build-offline-images.sh', or 'docker pull dr-drill/s3:offline' on a machine with registry access");
  });

  it("names every missing image at once", async () => {
    const error = await drErrorOf(checkImagesPresent(fakeClient({}), { ...images, postgres: "postgres:15-bookworm" }));
    expect(error.message).toBe(
      "unable to find images 'postgres:15-bookworm' (DR_POSTGRES_IMAGE / images.postgres), 'dr-drill/redis:7-offline' (DR_REDIS_IMAGE / images.redis), " +
      "'dr-drill/s3:offline' (DR_S3_IMAGE / images.s3): not on the Docker engine, and the containers target never pulls",
    );
    expect(error.hint).toContain("'docker pull postgres:15-bookworm' and 'docker pull dr-drill/redis:7-offline' and 'docker pull dr-drill/s3:offline'");
  });
});

describe("checkReaper", () => {
  it("says the Ryuk reaper did not start, and how to do without it", async () => {
    const error = await drErrorOf(checkReaper(fakeClient({}), async () => {
      throw new Error("(HTTP code 500) server error - Get \"https://registry-1.docker.io/v2/\": no such host");
    }, {}));
    expect(error.code).toBe("TARGET_START_FAILED");
    expect(error.message).toBe(
      "unable to start target 'containers': testcontainers' Ryuk reaper (testcontainers/ryuk) did not start " +
      "((HTTP code 500) server error - Get \"https://registry-1.docker.io/v2/\": no such host)",
    );
    expect(error.hint).toBe(
      "set TESTCONTAINERS_RYUK_DISABLED=true where no registry is reachable (dr-drill removes its own containers, on SIGINT/SIGTERM too), " +
      "or 'docker pull testcontainers/ryuk' on a machine with registry access",
    );
  });

  it("passes when the reaper starts (or is disabled)", async () => {
    await expect(checkReaper(fakeClient({}), async () => ({}))).resolves.toBeUndefined();
  });
});
