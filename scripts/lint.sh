#!/usr/bin/env bash
# Style and static checks: clang-format on every C++ file, clang-tidy on the components
# that need no event loop (the rest pulls in asio: ~15 s a file, too slow for every CI run;
# run `scripts/lint.sh BUILD_DIR --all` for everything).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

files=$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc')
clang-format --dry-run --Werror $files
echo "clang-format: $(echo "$files" | wc -w) files clean"

if [ "${2:-}" = "--all" ]; then
  tidy_files=$(git ls-files 'src/*.cc')
else
  tidy_files=$(git ls-files 'src/protocol/*.cc' 'src/config/*.cc' 'src/stats/*.cc' 'src/router/*.cc')
fi
if ! out=$(clang-tidy -p "$BUILD_DIR" --quiet --extra-arg=-DASIO_HAS_CO_AWAIT --extra-arg=-DASIO_HAS_STD_COROUTINE --warnings-as-errors='*' $tidy_files 2>&1); then
  echo "$out" | grep -E "warning:|error:" -A 3
  echo "clang-tidy: failed"
  exit 1
fi
echo "clang-tidy: $(echo "$tidy_files" | wc -w) files clean"
