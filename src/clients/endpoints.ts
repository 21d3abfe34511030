/** How to reach a PostgreSQL server. The password travels only in env (PGPASSWORD). */
export interface PostgresEndpoint {
  host: string;
  port: number;
  user: string;
  /** Kept out of argv, logs and reports; passed to tools as PGPASSWORD. */
  password: string | undefined;
  /** The database backups are taken from (the source) or connected to by default. */
  database: string;
}

/** How to reach a Redis server. */
export interface RedisEndpoint {
  host: string;
  port: number;
  /** ACL user name (Redis 6+), when not the default user. */
  username?: string;
  /** Passed to redis-cli as REDISCLI_AUTH, never argv. */
  password: string | undefined;
  /** The server's working directory when it is on this machine (dump.rdb lives there). */
  localDataDir: string | undefined;
}
