#!/usr/bin/env bash
# PostgreSQL backup, hourly: 0 * * * *
exec "$(dirname "${BASH_SOURCE[0]}")/cron-backup.sh" postgres
