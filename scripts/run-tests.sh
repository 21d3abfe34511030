#!/usr/bin/env bash
# run-tests.sh: what `pnpm test` runs. Typecheck, lint, unit tests, then the ops suites on
# the native target (real PostgreSQL, Redis, S3). In CI (CI=true) or with
# DR_TEST_CONTAINERS=1, the target-dependent ops suites run again on the containers target
# (offline images, dockerd started here), so both targets are covered by one command.
# Exit status: non-zero when any stage or either lane failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
stage() { printf '\n== %s (%ss elapsed)\n' "$1" "$((SECONDS - started))"; }

# Typecheck and lint are one process each: side by side they take the time of the longer.
stage "typecheck and lint"
pnpm run -s typecheck &
typecheck=$!
pnpm run -s lint &
lint=$!
wait "$typecheck"
wait "$lint"
stage "unit tests"
pnpm exec vitest run --project unit

# The ops suites run in two lanes side by side. Within a lane, one file at a time (vitest.config.ts).
# Lane 1: every suite not named below (new suites land here), on the native target.
# Lane 2: the fault suites that mostly wait (hangs, signals, timeouts) and two short native
# suites that even the lanes out (lane 1 took 845 s against lane 2's 776 s without them), then, in CI (CI=true)
# or with DR_TEST_CONTAINERS=1, the target-dependent suites again on the containers target
# (offline images, dockerd started here), so both targets are covered by one command.
# The containers suite runs in lane 2 only: its fail-fast tests count every dr-drill container.
waiting_suites=(suites/hang-faults.test.ts suites/signal-faults.test.ts suites/restore-faults.test.ts
  suites/integrity-faults.test.ts suites/ops-faults.test.ts suites/backup-faults.test.ts
  suites/media-prune.test.ts suites/native-target.test.ts)
excluded=(--exclude suites/containers-target.test.ts)
for suite in "${waiting_suites[@]}"; do excluded+=(--exclude "$suite"); done

lane1() {
  pnpm exec vitest run --project ops "${excluded[@]}"
}
lane2() {
  local failed=0
  # The containers leg runs even when a native fault suite failed: one run shows every failure.
  pnpm exec vitest run --project ops "${waiting_suites[@]}" || failed=1
  if [ "${CI:-}" = "true" ] || [ "${DR_TEST_CONTAINERS:-}" = "1" ]; then
    # Only the suites whose servers come from DR_TARGET; the others start their own native
    # servers whatever the target is, and already ran. Its report goes beside lane 1's.
    DR_REPORT_DIR=reports/containers bash scripts/ci-containers.sh pnpm exec vitest run --project ops \
      suites/ops-tests.test.ts suites/ops-faults.test.ts suites/drill-faults.test.ts suites/containers-target.test.ts || failed=1
  fi
  return "$failed"
}

stage "ops tests: lane 1 (native) beside lane 2 (waiting fault suites, then the containers target)"
# Each line carries its lane; a lane's status is its own (pipefail), and both are awaited.
( set -o pipefail; lane1 2>&1 | sed -u 's/^/[lane 1] /' ) &
pid1=$!
( set -o pipefail; lane2 2>&1 | sed -u 's/^/[lane 2] /' ) &
pid2=$!
status1=0
status2=0
wait "$pid1" || status1=$?
wait "$pid2" || status2=$?
stage "done (lane 1 exit $status1, lane 2 exit $status2)"
[ "$status1" = 0 ] && [ "$status2" = 0 ]
