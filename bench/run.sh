#!/usr/bin/env bash
# `make bench`: pgbench -S at 16 and 200 clients directly, via PgBouncer 1.18 and via Sluice
# (transaction mode, same pool size) against a temporary PostgreSQL 15; prints TPS ratios.
# Extra arguments go to bench/compare.py (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export SLUICE_BIN="${SLUICE_BIN:-build/sluice}"
exec /usr/bin/python3 bench/compare.py "$@"
