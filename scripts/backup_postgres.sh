#!/usr/bin/env bash
# PostgreSQL backup, hourly: 0 * * * *
# A previous run still holding the lock after DR_LOCK_STALE_AFTER (default 2h) is an error: exit 1, logged.
exec "$(dirname "${BASH_SOURCE[0]}")/cron-backup.sh" postgres
