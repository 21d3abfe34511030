#!/usr/bin/env bash
# Media sync to S3 (incremental, dated snapshot), daily: 0 2 * * *
exec "$(dirname "${BASH_SOURCE[0]}")/cron-backup.sh" media
