#!/usr/bin/env bash
# run-tests.sh: what `pnpm test` runs. Typecheck, lint, unit tests, then the ops suites on
# the native target (real PostgreSQL, Redis, S3). In CI (CI=true) or with
# DR_TEST_CONTAINERS=1, the target-dependent ops suites run again on the containers target
# (offline images, dockerd started here), so both targets are covered by one command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
stage() { printf '\n== %s (%ss elapsed)\n' "$1" "$((SECONDS - started))"; }

stage "typecheck"
pnpm run -s typecheck
stage "lint"
pnpm run -s lint
stage "unit tests"
pnpm exec vitest run --project unit
stage "ops tests (native target)"
pnpm exec vitest run --project ops

if [ "${CI:-}" = "true" ] || [ "${DR_TEST_CONTAINERS:-}" = "1" ]; then
  if [ -f scripts/ci-containers.sh ]; then
    stage "ops tests (containers target)"
    # Only the suites whose servers come from DR_TARGET; the others start their own native
    # servers whatever the target is, and already ran above.
    bash scripts/ci-containers.sh pnpm exec vitest run --project ops \
      suites/ops-tests.test.ts suites/ops-faults.test.ts suites/drill-faults.test.ts suites/containers-target.test.ts
  fi
fi
stage "done"
