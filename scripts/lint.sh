#!/usr/bin/env bash
# Style and static checks: clang-format on every C++ file, clang-tidy on the components
# that need no event loop (fast enough to run in every CI build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

files=$(git ls-files 'src/*.cc' 'src/*.h' 'tests/*.cc' 'tests/*.h' 'bench/*.cc')
clang-format --dry-run --Werror $files
echo "clang-format: $(echo "$files" | wc -l) files clean"

tidy_files=$(git ls-files 'src/protocol/*.cc' 'src/config/*.cc' 'src/stats/*.cc' 'src/common/*.cc')
clang-tidy -p "$BUILD_DIR" --quiet --warnings-as-errors='*' $tidy_files 2>&1 | grep -v "warnings generated" || true
clang-tidy -p "$BUILD_DIR" --quiet --warnings-as-errors='*' $tidy_files >/dev/null 2>&1
echo "clang-tidy: $(echo "$tidy_files" | wc -w) files clean"
