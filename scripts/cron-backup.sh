#!/usr/bin/env bash
# cron-backup.sh COMPONENT: the shared body of the cron wrappers. Unlike the reference's
# scripts: pipefail (a failing pg_dump in a pipe is a failure), a lock so a slow run never
# overlaps the next, retention only after a successful backup, timestamped log lines, and
# the exit code of the backup kept for cron's mail.
#
# Overlap: a run that finds the previous one still holding the lock skips (exit 0, logged)
# while the holder is younger than DR_LOCK_STALE_AFTER (default 1h redis, 2h postgres,
# 6h media; seconds, or with an s/m/h suffix). Older than that, the holder is hung or far
# too slow and no backup has run since it started: the run logs an ERROR naming it and
# exits 1, every time, until someone looks. A hung backup never turns into silent successes.
set -euo pipefail
component="${1:?usage: cron-backup.sh postgres|redis|media}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock_dir="${DR_LOCK_DIR:-${XDG_RUNTIME_DIR:-/tmp}}"
log() { printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$component" "$*"; }

case "$component" in
  redis) default_stale=3600 ;;
  postgres) default_stale=7200 ;;
  *) default_stale=21600 ;;
esac
stale_setting="${DR_LOCK_STALE_AFTER:-$default_stale}"
case "$stale_setting" in
  *[0-9]h) stale_after=$(( ${stale_setting%h} * 3600 )) ;;
  *[0-9]m) stale_after=$(( ${stale_setting%m} * 60 )) ;;
  *[0-9]s) stale_after=${stale_setting%s} ;;
  *) stale_after=$stale_setting ;;
esac
if ! [[ "$stale_after" =~ ^[0-9]+$ ]] || (( stale_after <= 0 )); then
  log "ERROR: DR_LOCK_STALE_AFTER='$stale_setting' is not a duration (seconds, or a number with s/m/h)" >&2
  exit 2
fi

lock_file="$lock_dir/dr-drill-backup-$component.lock"
# Opened for append: a run that finds the lock held must not touch the holder's file,
# whose modification time is when the holder started.
exec 9>>"$lock_file"
if ! flock -n 9; then
  age=$(( $(date +%s) - $(stat -c %Y "$lock_file") ))
  holder="$(head -c 200 "$lock_file" | tr -d '\n')"
  if (( age >= stale_after )); then
    log "ERROR: the previous $component backup has held $lock_file for ${age}s, more than ${stale_after}s (DR_LOCK_STALE_AFTER): ${holder:-holder unknown}; it is hung or far too slow and no $component backup has run since. Check that process (kill it if it is stuck); this run did nothing" >&2
    exit 1
  fi
  log "previous $component backup still running (for ${age}s, ${holder:-holder unknown}); skipping this run"
  exit 0
fi
# We hold the lock: say who, and let the file's time be our start time.
: >"$lock_file"
printf 'pid %s, started %s\n' "$$" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >&9

cd "$root"
log "backup started"
if node bin/dr-drill.js backup "$component" --prune; then
  log "backup finished"
else
  status=$?
  log "backup FAILED (exit $status); retention not run"
  exit "$status"
fi
