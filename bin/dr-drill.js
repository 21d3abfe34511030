#!/usr/bin/env node
// dr-drill: runs the TypeScript sources directly (Node >= 22.18 strips types natively).
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  process.stderr.write(`dr-drill: unable to start on Node ${process.versions.node}: Node >= 22.22 is required\nHINT: run 'bash scripts/bootstrap.sh' (installs Node 24 LTS)\n`);
  process.exit(2);
}
// Cache the compiled sources (in the OS temp folder): `wal push` runs once per WAL segment.
const { enableCompileCache } = await import("node:module");
enableCompileCache?.();
const { main } = await import("../src/cli/main.ts");
await main(process.argv);
