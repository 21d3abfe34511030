// Measures pg_dump -Fc at levels 0/1/3/6/9 on one fixture database: dumped bytes and time.
// The default level (DR_PG_COMPRESSION, src/config/load-config.ts) was chosen from this.
//   node bench/compression-levels.ts            # 300 MB fixture (BENCH_PG_SIZE overrides)
import { postgresEnv } from "../src/clients/index.ts";
import { parseSize } from "../src/config/index.ts";
import { findBinary, startCommand } from "../src/exec/index.ts";
import { startNativeTarget } from "../src/targets/index.ts";
import { seedPostgres } from "../fixtures/index.ts";

const target = await startNativeTarget();
try {
  const { databaseBytes } = await seedPostgres(target.postgres, { targetBytes: parseSize(process.env.BENCH_PG_SIZE ?? "300MB") ?? 300e6, seed: 1 });
  console.log(`database: ${(databaseBytes / 1e6).toFixed(1)} MB`);
  for (const level of [0, 1, 3, 6, 9]) {
    const started = performance.now();
    const dump = startCommand(findBinary("pg_dump"), ["-Fc", `-Z${level}`], { env: postgresEnv(target.postgres), streamStdout: true });
    let bytes = 0;
    for await (const chunk of dump.stdout!) bytes += (chunk as Buffer).length;
    await dump;
    const seconds = (performance.now() - started) / 1000;
    console.log(`-Z${level}: ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s (${(databaseBytes / 1e6 / seconds).toFixed(1)} MB/s of database)`);
  }
} finally {
  await target.stop();
}
