#!/usr/bin/env bash
# docker.io, docker-compose and debootstrap from Debian when missing (idempotent; needs root).
# Run by `make test` before the suite starts, so that no test meets a half-installed package
# while the container test runs beside it; scripts/container_e2e.sh runs it too.
set -euo pipefail
[ "${CLEARCAP_SKIP_CONTAINERS:-0}" = 1 ] && exit 0
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
[ "${#need[@]}" = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install_container_tools: missing ${need[*]} and not root to install them" >&2
  exit 0  # container_e2e.sh says what it needs (or uses a running engine)
fi
echo "install_container_tools: installing ${need[*]} from Debian"
mkdir -p tests/output
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >tests/output/apt-container-tools.log 2>&1 \
  || { echo "install_container_tools: apt-get failed:"; tail -n 30 tests/output/apt-container-tools.log; exit 1; }
