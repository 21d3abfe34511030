#!/usr/bin/env bash
# ci-containers.sh: the containers leg of CI, on a machine with no container registry.
#
#   bash scripts/ci-containers.sh                 # bootstrap, engine, offline images, then pnpm test:ops
#   bash scripts/ci-containers.sh pnpm drill      # same set-up, then the given command instead
#
# Set-up (each step idempotent): bootstrap.sh --containers (Node, pnpm, PostgreSQL/Redis
# tools, age, docker.io, debootstrap, dependencies), start-dockerd.sh (an engine on
# /var/run/docker.sock), build-offline-images.sh (the three images, built without a registry).
#
# Then the command runs with the containers target on those images:
#   DR_TARGET=containers, DR_POSTGRES_IMAGE / DR_REDIS_IMAGE / DR_S3_IMAGE (the offline
#   images unless already set: the build uses the same names), TESTCONTAINERS_RYUK_DISABLED=true
#   (Ryuk's image cannot be pulled here; dr-drill removes its own containers),
#   TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 (published ports are reached on loopback), and
#   DR_REQUIRE_CONTAINERS=1 (the containers suite fails instead of skipping).
#
# Needs root (dockerd, debootstrap).
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root_dir"

export DR_TARGET=containers
export DR_POSTGRES_IMAGE="${DR_POSTGRES_IMAGE:-dr-drill/postgres:15-offline}"
export DR_REDIS_IMAGE="${DR_REDIS_IMAGE:-dr-drill/redis:7-offline}"
export DR_S3_IMAGE="${DR_S3_IMAGE:-dr-drill/s3:offline}"
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_HOST_OVERRIDE="${TESTCONTAINERS_HOST_OVERRIDE:-127.0.0.1}"
export DR_REQUIRE_CONTAINERS=1
# The offline S3 image is Ceph RGW, with versioning and Object Lock: every check can run,
# so a "not verified" (say, the immutability check) fails the run instead of skipping.
export DR_REQUIRE_VERIFIED="${DR_REQUIRE_VERIFIED:-1}"

bash scripts/bootstrap.sh --containers
bash scripts/start-dockerd.sh
bash scripts/build-offline-images.sh

# bootstrap.sh may have put Node or pnpm in the tools folder; make sure this shell sees them.
if [ "$(id -u)" = 0 ]; then tools_bin=/usr/local/bin; else tools_bin="$HOME/.local/bin"; fi
case ":$PATH:" in *":$tools_bin:"*) ;; *) export PATH="$tools_bin:$PATH" ;; esac

printf 'ci-containers: images %s, %s, %s\n' "$DR_POSTGRES_IMAGE" "$DR_REDIS_IMAGE" "$DR_S3_IMAGE"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
exec pnpm test:ops
