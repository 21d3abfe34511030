#!/usr/bin/env bash
# Media sync to S3 (incremental, dated snapshot), daily: 0 2 * * *
# A previous run still holding the lock after DR_LOCK_STALE_AFTER (default 6h) is an error: exit 1, logged.
exec "$(dirname "${BASH_SOURCE[0]}")/cron-backup.sh" media
