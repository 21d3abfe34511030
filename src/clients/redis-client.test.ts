import { describe, expect, it } from "vitest";
import { DrError } from "../errors/index.ts";
import { describeRedis, parseRedisUrl, redisCliArgs, redisEnv } from "./redis-client.ts";

/** The error a function throws (fails the test when it returns). */
function errorOf(run: () => unknown): DrError {
  try {
    run();
  } catch (error) {
    if (error instanceof DrError) return error;
    throw error;
  }
  throw new Error("expected a DrError");
}

describe("parseRedisUrl", () => {
  it("keeps the ACL user name, decoded, and the password apart from argv", () => {
    const endpoint = parseRedisUrl("redis://dr%2Dbackup:s%40cret%3Apw@cache.internal:6380/0", "DR_REDIS_URL");
    expect(endpoint).toEqual({ host: "cache.internal", port: 6380, username: "dr-backup", password: "s@cret:pw", localDataDir: undefined });
    expect(redisCliArgs(endpoint)).toEqual(["-h", "cache.internal", "-p", "6380", "--user", "dr-backup", "--no-auth-warning"]);
    expect(redisCliArgs(endpoint).join(" ")).not.toContain("s@cret");
    expect(redisEnv(endpoint)).toEqual({ REDISCLI_AUTH: "s@cret:pw" });
    expect(describeRedis(endpoint)).toBe("redis://dr-backup@cache.internal:6380");
  });

  it("a password-only URL has no user (the server's default user)", () => {
    const endpoint = parseRedisUrl("redis://:pw@127.0.0.1:6379");
    expect(endpoint.username).toBeUndefined();
    expect(redisCliArgs(endpoint)).not.toContain("--user");
  });

  it("a broken %-escape is a CONFIG_INVALID naming the variable, never quoting the password", () => {
    const error = errorOf(() => parseRedisUrl("redis://drbackup:p%de-secret@127.0.0.1:6379/0", "DR_REDIS_URL"));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toBe("unable to parse Redis URL 'DR_REDIS_URL': the password has a malformed %-escape");
    expect(error.hint).toContain("set DR_REDIS_URL to redis://");
    expect(`${error.message} ${error.hint}`).not.toContain("secret");
    expect(error.exitCode).toBe(2);
  });

  it("a string that is no URL, or another scheme, names the variable too", () => {
    expect(errorOf(() => parseRedisUrl("not a url", "DR_REDIS_URL")).message).toBe("unable to parse Redis URL 'DR_REDIS_URL': it is not a valid URL");
    expect(errorOf(() => parseRedisUrl("http://h:1", "DR_REDIS_URL")).message).toBe("unable to parse Redis URL 'DR_REDIS_URL': the scheme is 'http', expected redis");
  });
});
