#!/usr/bin/env bash
# Redis RDB backup, every 15 minutes: */15 * * * *
exec "$(dirname "${BASH_SOURCE[0]}")/cron-backup.sh" redis
