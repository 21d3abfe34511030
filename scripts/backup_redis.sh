#!/usr/bin/env bash
# Redis RDB backup, every 15 minutes: */15 * * * *
# A previous run still holding the lock after DR_LOCK_STALE_AFTER (default 1h) is an error: exit 1, logged.
exec "$(dirname "${BASH_SOURCE[0]}")/cron-backup.sh" redis
