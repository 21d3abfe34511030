#!/usr/bin/env bash
# build-offline-images.sh: build the containers target's three images without any
# container registry (docker pull never runs). Idempotent: an image whose recipe label
# matches is reused, so a second run takes a couple of seconds.
#
#   bash scripts/build-offline-images.sh            # build what is missing or stale
#   DR_DRILL_REBUILD=1 bash scripts/build-offline-images.sh   # rebuild the three images
#
# Images (names overridable; the same variables dr-drill's config reads):
#   DR_POSTGRES_IMAGE  default dr-drill/postgres:15-offline  Debian 12 + postgresql-15 (pg_dump/pg_restore 15),
#                      entrypoint compatible with the official postgres image
#                      (POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB, PGDATA, /docker-entrypoint-initdb.d)
#   DR_REDIS_IMAGE     default dr-drill/redis:7-offline       Debian 12 + redis-server/redis-tools 7.0
#   DR_S3_IMAGE        default dr-drill/s3:offline            Debian 12 + Ceph 16.2 RADOS Gateway (one mon, one
#                      memstore OSD, scripts/rgw/run-rgw.sh): a real S3 with versioning and
#                      Object Lock, on port 4566, key test/test, prints "Ready." (what
#                      LocalstackContainer waits for) -- what LocalStack would give online
#
# How: one debootstrap --variant=minbase rootfs holding every Debian package the three need
# is cached as a tarball (keyed by suite, mirror, package list and clean-up recipe), imported
# once as a base image, and the three images are thin layers over it (legacy builder,
# FROM a local image, so no registry is contacted). The shared base layer is stored once.
#
# Other environment:
#   DR_DRILL_IMAGE_CACHE    cache folder           (default /var/cache/dr-drill)
#   DR_DRILL_DEBIAN_MIRROR  debootstrap mirror     (default http://deb.debian.org/debian)
#   DR_DRILL_REBUILD=1      rebuild images even when their recipe label matches
#   DR_DRILL_REBOOTSTRAP=1  also redo the debootstrap base rootfs
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf 'build-offline-images: %s\n' "$*"; }
die() { printf 'build-offline-images: %s\n' "$*" >&2; exit 1; }
t0=$SECONDS

PG_IMAGE="${DR_POSTGRES_IMAGE:-dr-drill/postgres:15-offline}"
REDIS_IMAGE="${DR_REDIS_IMAGE:-dr-drill/redis:7-offline}"
S3_IMAGE="${DR_S3_IMAGE:-dr-drill/s3:offline}"
cache_dir="${DR_DRILL_IMAGE_CACHE:-/var/cache/dr-drill}"
mirror="${DR_DRILL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rebuild="${DR_DRILL_REBUILD:-0}"
rebootstrap="${DR_DRILL_REBOOTSTRAP:-0}"
suite=bookworm
pg_major=15
base_packages="postgresql-$pg_major,redis-server,redis-tools,radosgw,ceph-mon,ceph-osd,ceph-common"
# Legacy builder on purpose: FROM a local image never touches a registry, and it needs
# no buildx plugin (the CLI warns that it is deprecated; the warning is filtered below).
export DOCKER_BUILDKIT=0

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, docker)"

# --- engine -------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  bash "$root_dir/scripts/start-dockerd.sh"
fi

sha() { sha256sum | cut -c1-16; }
# unmount_under DIR: lazily unmount anything (proc, sys, dev/pts) a failed debootstrap
# left mounted below DIR, deepest first, so rm -rf never walks into a live mount.
unmount_under() {
  local m
  awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}
label_of() { docker image inspect --format '{{ index .Config.Labels "dr-drill.recipe" }}' "$1" 2>/dev/null || true; }

# --- the base rootfs recipe -------------------------------------------------------
# Trim what a server container never reads. libLLVM (~130 MB with the bitcode) only
# serves PostgreSQL's optional JIT; without llvmjit.so the server silently runs without
# JIT. Debian's postinst cluster 15/main is dropped: the entrypoint makes its own in PGDATA.
clean_rootfs() {
  local r="$1"
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/lib/apt/lists/* \
    "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old "$r"/var/log/*.log "$r"/var/log/apt/* \
    "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* "$r"/usr/share/lintian \
    "$r"/usr/share/i18n "$r"/tmp/* "$r"/root/.bash_history
  find "$r"/usr/share/doc -mindepth 1 -depth \( -type f ! -name copyright -o -type l \) -delete
  find "$r"/usr/share/doc -mindepth 1 -type d -empty -delete
  rm -rf "$r"/etc/postgresql/$pg_major/main "$r"/var/lib/postgresql/$pg_major/main \
    "$r"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* "$r"/usr/lib/postgresql/$pg_major/lib/bitcode \
    "$r"/usr/lib/postgresql/$pg_major/lib/llvmjit*
  : >"$r"/etc/hostname
  rm -f "$r"/etc/resolv.conf "$r"/etc/machine-id
}
base_key="$(printf '%s\n' "v1" "$suite" "$mirror" "minbase" "$base_packages" "$(declare -f clean_rootfs)" | sha)"
base_image="dr-drill/base:$suite-$base_key"
base_tar="$cache_dir/base-$suite-$base_key.tar"

# --- build contexts -------------------------------------------------------------
ctx_root="$(mktemp -d "${TMPDIR:-/tmp}/dr-drill-images.XXXXXX")"
trap 'rm -rf "$ctx_root"' EXIT

write_postgres_context() {
  local c="$ctx_root/postgres"
  mkdir -p "$c"
  cat >"$c/docker-entrypoint.sh" <<'ENTRY'
#!/usr/bin/env bash
# Offline stand-in for the official postgres image's entrypoint: same env contract
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_INITDB_ARGS,
# POSTGRES_HOST_AUTH_METHOD, PGDATA, /docker-entrypoint-initdb.d) and the same log shape:
# a temporary socket-only server for initialisation, then the real one, so
# "database system is ready to accept connections" appears twice on a fresh data dir.
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA" || :
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups \
    env HOME=/var/lib/postgresql USER=postgres "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    echo 'Error: Database is uninitialized and superuser password is not specified.' >&2
    echo '       Set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust.' >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  # Local (socket, 127.0.0.1, ::1) connections are trusted, as in the official image.
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "${POSTGRES_PASSWORD:-}") '"${POSTGRES_INITDB_ARGS:-}"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  # Temporary server: unix socket only, so nothing outside sees it as ready.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  psql_init=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql_init[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db" ;'
  fi
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090
    case "$f" in
      *.sh) if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) echo "$0: running $f"; "${psql_init[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${psql_init[@]}" --dbname "$POSTGRES_DB" ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo
  echo 'PostgreSQL init process complete; ready for start up.'
  echo
fi

exec "$@"
ENTRY
  chmod 0755 "$c/docker-entrypoint.sh"
  cat >"$c/Dockerfile" <<EOF
FROM $base_image
ENV PATH=/usr/lib/postgresql/$pg_major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8 \\
    PG_MAJOR=$pg_major \\
    PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
EOF
}

write_redis_context() {
  local c="$ctx_root/redis"
  mkdir -p "$c"
  cat >"$c/docker-entrypoint.sh" <<'ENTRY'
#!/bin/sh
# Offline stand-in for the official redis image's entrypoint. `redis-server ARGS...`
# (what @testcontainers/redis sets as the command, e.g. "--requirepass X") runs as
# redis-server --bind 0.0.0.0 --protected-mode no --port 6379 --dir /data ARGS...
# so later arguments override the defaults; a leading *.conf stays first.
set -e
case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ] || [ "$1" = /usr/bin/redis-server ]; then
  shift
  conf=""
  case "${1:-}" in *.conf) conf="$1"; shift ;; esac
  set -- redis-server ${conf:+"$conf"} --bind 0.0.0.0 --protected-mode no --port 6379 --dir /data "$@"
  if [ "$(id -u)" = 0 ]; then
    mkdir -p /data
    find /data \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
ENTRY
  chmod 0755 "$c/docker-entrypoint.sh"
  cat >"$c/Dockerfile" <<EOF
FROM $base_image
ENV LANG=C.UTF-8
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
}

write_s3_context() {
  local c="$ctx_root/s3"
  mkdir -p "$c"
  cp "$root_dir/scripts/rgw/run-rgw.sh" "$c/run-rgw.sh"
  chmod 0755 "$c/run-rgw.sh"
  # memstore keeps objects in the OSD's memory (about 2.5x what is stored) and stalls, not
  # errors, when full: 8 GiB is far above what one test container stores.
  cat >"$c/Dockerfile" <<EOF
FROM $base_image
ENV LANG=C.UTF-8 \\
    RGW_BIND=0.0.0.0 \\
    RGW_MEMSTORE_BYTES=8589934592
COPY run-rgw.sh /usr/local/bin/run-rgw.sh
EXPOSE 4566
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/run-rgw.sh", "/data", "4566"]
EOF
}

write_postgres_context
write_redis_context
write_s3_context

recipe_of() { # dir extra...: hash of the context's text files plus extra strings
  local c="$1"; shift
  { cat "$c/Dockerfile"; find "$c" -maxdepth 2 -type f \( -name '*.sh' -o -name '*.mjs' \) -print0 | sort -z | xargs -0 cat; printf '%s\n' "$@"; } | sha
}
pg_recipe="$(recipe_of "$ctx_root/postgres")"
redis_recipe="$(recipe_of "$ctx_root/redis")"
s3_recipe="$(recipe_of "$ctx_root/s3")"

need_build=()
for spec in "$PG_IMAGE|$pg_recipe|postgres" "$REDIS_IMAGE|$redis_recipe|redis" "$S3_IMAGE|$s3_recipe|s3"; do
  IFS='|' read -r img recipe kind <<<"$spec"
  if [ "$rebuild" != 1 ] && [ "$(label_of "$img")" = "$recipe" ]; then
    say "reusing $img (recipe $recipe)"
  else
    need_build+=("$kind")
  fi
done

if [ "${#need_build[@]}" -gt 0 ]; then
  mkdir -p "$cache_dir"
  exec 9>"$cache_dir/.lock"
  flock 9

  # --- base image ----------------------------------------------------------------
  if [ "$rebootstrap" = 1 ] || ! docker image inspect "$base_image" >/dev/null 2>&1; then
    if [ "$rebootstrap" = 1 ] || [ ! -s "$base_tar" ]; then
      command -v debootstrap >/dev/null 2>&1 || {
        say "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
      }
      rootfs="$cache_dir/rootfs-$suite-$base_key.partial"
      unmount_under "$rootfs"
      rm -rf "$rootfs"
      mkdir -p "$cache_dir/debs"
      say "debootstrap $suite minbase + $base_packages (from $mirror; log $cache_dir/debootstrap.log)"
      t_boot=$SECONDS
      if ! debootstrap --variant=minbase --cache-dir="$cache_dir/debs" --include="$base_packages" \
        "$suite" "$rootfs" "$mirror" >"$cache_dir/debootstrap.log" 2>&1; then
        unmount_under "$rootfs"
        tail -n 20 "$cache_dir/debootstrap.log" >&2
        die "debootstrap failed (log: $cache_dir/debootstrap.log)"
      fi
      # debootstrap fakes start-stop-daemon, but be sure no daemon from a postinst lingers
      # (a process whose root is the new rootfs) and nothing stays mounted in it.
      for p in /proc/[0-9]*; do
        if [ "$(readlink "$p/root" 2>/dev/null)" = "$rootfs" ]; then kill "${p#/proc/}" 2>/dev/null || true; fi
      done
      unmount_under "$rootfs"
      clean_rootfs "$rootfs"
      say "debootstrap done in $((SECONDS - t_boot))s, rootfs $(du -sh "$rootfs" | cut -f1)"
      tar --numeric-owner -C "$rootfs" -cf "$base_tar.partial" .
      mv "$base_tar.partial" "$base_tar"
      rm -rf "$rootfs"
      # Older base tarballs are for other recipes: drop them.
      find "$cache_dir" -maxdepth 1 -name "base-*.tar" ! -name "$(basename "$base_tar")" -delete
    fi
    say "importing $base_tar as $base_image"
    docker import --message "dr-drill offline base ($suite minbase + $base_packages)" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["bash"]' \
      "$base_tar" "$base_image" >/dev/null
  fi

  build() { # kind image recipe
    local kind="$1" img="$2" recipe="$3" t=$SECONDS
    say "building $img"
    if ! docker build --label "dr-drill.recipe=$recipe" --label "dr-drill.base=$base_image" \
      -t "$img" "$ctx_root/$kind" >"$ctx_root/$kind.log" 2>&1; then
      grep -v -e 'DEPRECATED' -e 'legacy builder' -e 'BuildKit' -e 'buildx' "$ctx_root/$kind.log" | tail -n 30 >&2
      die "docker build of $img failed"
    fi
    say "built $img in $((SECONDS - t))s"
  }

  for kind in "${need_build[@]}"; do
    case "$kind" in
      postgres) build postgres "$PG_IMAGE" "$pg_recipe" ;;
      redis) build redis "$REDIS_IMAGE" "$redis_recipe" ;;
      s3) build s3 "$S3_IMAGE" "$s3_recipe" ;;
    esac
  done
  # Superseded builds leave untagged images behind, and base images of older recipes
  # stay tagged: drop ours (an image still built on an old base keeps its layers).
  docker image prune -f --filter "label=dr-drill.recipe" >/dev/null 2>&1 || true
  docker images --format '{{.Repository}}:{{.Tag}}' dr-drill/base | grep -vxF "$base_image" \
    | xargs -r docker rmi >/dev/null 2>&1 || true
fi

say "done in $((SECONDS - t0))s:"
for img in "$PG_IMAGE" "$REDIS_IMAGE" "$S3_IMAGE"; do
  printf '  %-34s %s\n' "$img" "$(docker image inspect --format '{{.Id}} {{.Size}}' "$img" | awk '{printf "%s  %d MB", substr($1,8,12), $2/1000000}')"
done
printf '  base layer: %s (shared)\n' "$base_image"
