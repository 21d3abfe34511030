#!/usr/bin/env bash
# cron-backup.sh COMPONENT: the shared body of the cron wrappers. Unlike the reference's
# scripts: pipefail (a failing pg_dump in a pipe is a failure), a lock so a slow run never
# overlaps the next, retention only after a successful backup, timestamped log lines, and
# the exit code of the backup kept for cron's mail.
set -euo pipefail
component="${1:?usage: cron-backup.sh postgres|redis|media}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock_dir="${DR_LOCK_DIR:-${XDG_RUNTIME_DIR:-/tmp}}"
log() { printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$component" "$*"; }

exec 9>"$lock_dir/dr-drill-backup-$component.lock"
if ! flock -n 9; then
  log "previous $component backup still running; skipping this run"
  exit 0
fi

cd "$root"
log "backup started"
if node bin/dr-drill.js backup "$component" --prune; then
  log "backup finished"
else
  status=$?
  log "backup FAILED (exit $status); retention not run"
  exit "$status"
fi
