#!/usr/bin/env bash
# Container end-to-end test of the compose deployment (part of `make test`; docs/deploy.md,
# "What the container test proves"). Skip it locally with CLEARCAP_SKIP_CONTAINERS=1.
#
#  1. installs docker.io, docker-compose and debootstrap from Debian when missing (needs root);
#  2. starts dockerd (--iptables=false --bridge=none) when no engine answers, and stops it at the end;
#  3. images: the official python/postgres/redis ones when a registry answers, else stand-ins
#     built from a debootstrapped Debian (tests/containers/*.Dockerfile);
#  4. builds the project and Superset images with their locks, pip reading a wheel directory
#     served on the host's loopback;
#  5. runs tests/test_containers.py (the scenario: nights, scale-out, killed writer, readers,
#     Superset).
# Logs: tests/output/containers/ (compose logs are written there when the scenario fails).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
if [ "${CLEARCAP_SKIP_CONTAINERS:-0}" = 1 ]; then
  echo "container e2e: skipped (CLEARCAP_SKIP_CONTAINERS=1)"
  exit 0
fi
PY=${PY:-$REPO/.venv/bin/python}
OUT=$REPO/tests/output/containers
rm -rf "$OUT" && mkdir -p "$OUT"
WORK=$(mktemp -d /var/tmp/clearcap-e2e.XXXXXX)
T0=$SECONDS
log() { echo "container e2e [$((SECONDS - T0))s] $*"; }

DOCKERD_PID= WHEELS_PID=
cleanup() {
  local rc=$?
  [ -n "$WHEELS_PID" ] && { kill "$WHEELS_PID" 2>/dev/null; wait "$WHEELS_PID" 2>/dev/null; }
  if [ -n "$DOCKERD_PID" ]; then
    log "stopping the dockerd it started (pid $DOCKERD_PID)"
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$DOCKERD_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  log "done (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT

# -- 1. packages ------------------------------------------------------------------------------
if [ "$(id -u)" != 0 ] && ! docker info >/dev/null 2>&1; then
  log "needs root (to install and start a container engine) or a running engine; skip with CLEARCAP_SKIP_CONTAINERS=1"
  exit 1
fi
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$OUT/apt.log" 2>&1
fi

# -- 2. engine --------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd --iptables=false --bridge=none"
  dockerd --iptables=false --bridge=none >"$OUT/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see $OUT/dockerd.log"; exit 1; }
fi

# -- 3. base images ---------------------------------------------------------------------------
build() {  # quiet: the build's output goes to $OUT/images.log, shown when it fails
  docker build --network host "$@" >>"$OUT/images.log" 2>&1 || { log "docker build $* failed:"; tail -n 40 "$OUT/images.log"; exit 1; }
}
if timeout 60 docker pull -q python:3.11-slim-bookworm >/dev/null 2>&1; then
  log "registry reachable: official images"
  BASE=python:3.11-slim-bookworm PG=postgres:16 REDIS=redis:7.2-bookworm
  docker pull -q "$PG" >/dev/null && docker pull -q "$REDIS" >/dev/null
else
  log "no registry: stand-in images from Debian"
  if ! docker image inspect clearcap-ci/debian:bookworm >/dev/null 2>&1; then
    mirror=$(grep -rhoE '^URIs: *http[^ ]*/debian/?$' /etc/apt/sources.list.d/ 2>/dev/null | head -n1 | awk '{print $2}')
    mirror=${mirror:-http://deb.debian.org/debian}
    rootfs=$WORK/rootfs
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$OUT/debootstrap.log" 2>&1
    { echo "deb $mirror bookworm main"; echo "deb $mirror bookworm-updates main"
      echo "deb ${mirror%/debian*}/debian-security bookworm-security main"; } >"$rootfs/etc/apt/sources.list"
    tar -C "$rootfs" -c . | docker import -c 'CMD ["bash"]' - clearcap-ci/debian:bookworm >/dev/null
    rm -rf "$rootfs"
  fi
  BASE=clearcap-ci/python:3.11-bookworm PG=clearcap-ci/postgres:15 REDIS=clearcap-ci/redis:7
  build -t "$BASE" -f tests/containers/python.Dockerfile tests/containers
  build -t "$PG" -f tests/containers/postgres.Dockerfile tests/containers
  build -t "$REDIS" -f tests/containers/redis.Dockerfile tests/containers
fi
log "base images ready: $BASE $PG $REDIS"

# -- 4. project image: the lock, wheels from a directory served on loopback --------------------
# (async-timeout: the images' Python may be older than 3.11.3, where redis needs it)
fetch() { "$PY" -m pip download -q -d "$WORK/wheels" setuptools wheel pip async-timeout "$@" >>"$OUT/pip-download.log" 2>&1 \
  || { log "pip download failed: $OUT/pip-download.log"; exit 1; }; }
fetch -c requirements.lock '.[postgres]'
fetch -c deploy/superset/requirements.lock apache-superset duckdb-engine duckdb gunicorn rich cachetools
# a fixed port when free: the index URL is a build argument, part of the layer cache key
PORT=$("$PY" -c "
import socket
s = socket.socket()
try:
    s.bind(('127.0.0.1', 38765))
except OSError:
    s.bind(('127.0.0.1', 0))
print(s.getsockname()[1])")
"$PY" -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/wheels" >"$OUT/wheels-http.log" 2>&1 &
WHEELS_PID=$!
IMAGE=clearcap-airflow:e2e
build -t "$IMAGE" --build-arg BASE_IMAGE="$BASE" --build-arg PIP_NO_INDEX=1 \
  --build-arg PIP_FIND_LINKS="http://127.0.0.1:$PORT/" .
SUPERSET_IMAGE=clearcap-superset:e2e
build -t "$SUPERSET_IMAGE" --build-arg BASE_IMAGE="$BASE" --build-arg PIP_NO_INDEX=1 \
  --build-arg PIP_FIND_LINKS="http://127.0.0.1:$PORT/" deploy/superset
kill "$WHEELS_PID"; wait "$WHEELS_PID" 2>/dev/null || true; WHEELS_PID=
log "images built: $IMAGE, $SUPERSET_IMAGE"

# -- 5. the scenario --------------------------------------------------------------------------
CLEARCAP_CONTAINER_E2E=1 CLEARCAP_E2E_IMAGE=$IMAGE CLEARCAP_E2E_SUPERSET_IMAGE=$SUPERSET_IMAGE \
CLEARCAP_E2E_POSTGRES_IMAGE=$PG CLEARCAP_E2E_REDIS_IMAGE=$REDIS \
CLEARCAP_E2E_WORK=$WORK CLEARCAP_E2E_OUT=$OUT \
  "$PY" -m pytest -q -p no:cacheprovider -s -o timeout=1500 tests/test_containers.py
