#!/usr/bin/env bash
# `make bench` / `make bench-quick`: the benchmark suite (bench/suite.py) against a temporary
# PostgreSQL 15, directly and through PgBouncer, Pgpool-II and Sluice. Arguments go to
# bench/suite.py (see bench/README.md); results land in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLUICE_BIN="${SLUICE_BIN:-build/sluice}"
exec /usr/bin/python3 bench/suite.py "$@"
