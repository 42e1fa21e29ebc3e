#!/usr/bin/env bash
# Installs every Debian package Sluice needs to build, test and run its demo.
# Idempotent: packages already present are skipped quickly. Single source of truth
# for dependencies: make demo, make test and CI all call this script.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  clang clang-format clang-tidy libclang-rt-14-dev
  libasio-dev liburing-dev libssl-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libpg-query-dev libpq-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15 pgbouncer pgpool2
  python3 python3-pytest python3-psycopg2 python3-psycopg nodejs
  procps iproute2 util-linux openssl
  prometheus  # promtool: tests check /metrics and deploy/prometheus/alerts.yml
)
# npm for tests/integration/test_driver_node.py. NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package, so ask for Debian's only when no npm is present.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian packages start a cluster, a pgbouncer and a pgpool on install; Sluice (and
# bench/, which runs its own PgBouncer and Pgpool-II) runs its own.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now pgbouncer >/dev/null 2>&1 || true
  systemctl disable --now pgpool2 >/dev/null 2>&1 || true
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
service pgbouncer stop >/dev/null 2>&1 || true
service pgpool2 stop >/dev/null 2>&1 || true
service prometheus stop >/dev/null 2>&1 || true
