#!/usr/bin/env bash
# start-dockerd.sh: make a Docker engine answer on /var/run/docker.sock. Idempotent.
#
#   bash scripts/start-dockerd.sh          # no-op (exit 0) when `docker info` already works
#
# Otherwise it installs docker.io (Debian) if dockerd is missing, starts dockerd detached
# (setsid, so it outlives the calling shell), and waits until `docker info` answers.
#
# Environment:
#   DR_DRILL_DOCKERD_LOG      dockerd log file        (default /var/log/dr-drill-dockerd.log)
#   DR_DRILL_DOCKERD_TIMEOUT  seconds to wait         (default 60)
#   DR_DRILL_DOCKERD_FLAGS    extra dockerd flags     (default none; e.g. "--storage-driver=vfs")
#
# Needs root (dockerd does). On this project's Debian 12 VMs the engine's defaults work:
# overlay2 on ext4, iptables via nf_tables, the docker0 bridge, and docker-proxy for
# published ports (reachable on 127.0.0.1, ::1 and the bridge gateway 172.17.0.1).
set -euo pipefail

log_file="${DR_DRILL_DOCKERD_LOG:-/var/log/dr-drill-dockerd.log}"
timeout_s="${DR_DRILL_DOCKERD_TIMEOUT:-60}"
read -r -a extra_flags <<<"${DR_DRILL_DOCKERD_FLAGS:-}"

say() { printf 'start-dockerd: %s\n' "$*"; }
die() { printf 'start-dockerd: %s\n' "$*" >&2; exit 1; }
engine_up() { docker info >/dev/null 2>&1; }

command -v docker >/dev/null 2>&1 || die "no docker CLI on PATH
HINT: apt-get install -y docker.io (it ships both the CLI and dockerd)"

if engine_up; then
  say "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "docker info fails and starting dockerd needs root
HINT: run this script as root (sudo), or point DOCKER_HOST at a running engine"

if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "dockerd is missing and there is no apt-get to install docker.io"
  say "installing docker.io (dockerd, containerd, runc, docker-proxy)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
fi

# A dockerd may already be starting (another caller, or a slow boot): wait for it
# instead of launching a second one, which would refuse to start over its pid file.
pid_file=/var/run/docker.pid
running_pid=""
log_from=1  # first byte of this attempt's output in the log, for error reports
if [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  running_pid="$(cat "$pid_file")"
  say "dockerd (pid $running_pid) is running but not answering yet: waiting for it"
else
  mkdir -p "$(dirname "$log_file")"
  log_from=$(( $(stat -c %s "$log_file" 2>/dev/null || echo 0) + 1 ))
  say "starting dockerd${extra_flags[*]:+ ${extra_flags[*]}} (log: $log_file)"
  printf '\n===== %s start-dockerd: dockerd %s\n' "$(date -u +%FT%TZ)" "${extra_flags[*]:-}" >>"$log_file"
  # setsid -f: own session, so it survives the caller's process group being killed.
  setsid -f dockerd "${extra_flags[@]}" >>"$log_file" 2>&1 </dev/null
fi

deadline=$((SECONDS + timeout_s))
while ! engine_up; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    die "dockerd did not answer within ${timeout_s}s. Last lines of $log_file:
$(tail -c "+$log_from" "$log_file" 2>/dev/null | tail -n 25 | sed 's/^/  | /')
HINT: common causes in sandboxes: no overlay support (try DR_DRILL_DOCKERD_FLAGS=--storage-driver=vfs),
      no iptables/bridge (DR_DRILL_DOCKERD_FLAGS='--iptables=false --bridge=none', but then published
      ports do not work and testcontainers cannot reach containers)"
  fi
  # Fail fast if the daemon we launched died (bad flags, stale state, ...).
  if [ -z "$running_pid" ] && [ "$SECONDS" -gt 3 ] && ! pgrep -x dockerd >/dev/null 2>&1; then
    die "dockerd exited during start-up. Last lines of $log_file:
$(tail -c "+$log_from" "$log_file" 2>/dev/null | tail -n 25 | sed 's/^/  | /')"
  fi
  sleep 0.5
done

say "engine ready: server $(docker version --format '{{.Server.Version}}'), storage $(docker info --format '{{.Driver}}'), pid $(cat "$pid_file" 2>/dev/null || echo '?')"
