#!/usr/bin/env bash
# Builds the wire-protocol decoder fuzz target (tests/fuzz/decoder_fuzz.cc) with clang's
# libFuzzer + ASan + UBSan, straight from the protocol sources, and runs it for a bounded
# time on a small generated seed corpus.
#
#   scripts/fuzz.sh                  # fuzz for $FUZZ_SECONDS (default 60) seconds
#   FUZZ_SECONDS=600 scripts/fuzz.sh
#   scripts/fuzz.sh crash-<sha1>     # replay inputs: extra arguments go to libFuzzer
#
# Environment: FUZZ_SECONDS, FUZZ_DIR (work dir; default: a fresh temp dir, removed after a
# clean run), CXX (default clang++). Exits non-zero when the fuzzer finds a crash; the
# reproducer is left in the work dir, whose path is printed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
CXX="${CXX:-clang++}"

keep=1
if [ -z "${FUZZ_DIR:-}" ]; then
  FUZZ_DIR="$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")"
  keep=0
fi
mkdir -p "$FUZZ_DIR/corpus" "$FUZZ_DIR/seeds"

probe='extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }'
if ! echo "$probe" | "$CXX" -x c++ -fsanitize=fuzzer - -o "$FUZZ_DIR/probe" 2>/dev/null; then
  echo "fuzz.sh: $CXX cannot build libFuzzer targets; run scripts/install-deps.sh" \
       "(needs clang and libclang-rt-14-dev)" >&2
  exit 2
fi

bin="$FUZZ_DIR/decoder_fuzz"
echo "fuzz.sh: building $bin"
"$CXX" -std=c++20 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I "$ROOT/src" \
  "$ROOT/tests/fuzz/decoder_fuzz.cc" \
  "$ROOT/src/protocol/frame.cc" "$ROOT/src/protocol/startup.cc" \
  "$ROOT/src/protocol/builder.cc" "$ROOT/src/protocol/reader.cc" \
  -lfmt -o "$bin"

# Replaying reproducers: scripts/fuzz.sh FILE...
if [ $# -gt 0 ] && [ -f "$1" ]; then
  exec "$bin" "$@"
fi

# --- Seed corpus -------------------------------------------------------------------------
# Big-endian int32.
be32() {
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((($1 >> 24) & 255)) $((($1 >> 16) & 255)) \
    $((($1 >> 8) & 255)) $(($1 & 255)))"
}
# A typed message around the body on stdin: typed TYPE < body.
typed() {
  local body
  body="$(mktemp "$FUZZ_DIR/body.XXXXXX")"
  cat >"$body"
  printf '%s' "$1"
  be32 $(($(wc -c <"$body") + 4))
  cat "$body"
  rm -f "$body"
}
# A startup-phase packet around the body on stdin.
untyped() {
  local body
  body="$(mktemp "$FUZZ_DIR/body.XXXXXX")"
  cat >"$body"
  be32 $(($(wc -c <"$body") + 4))
  cat "$body"
  rm -f "$body"
}

s="$FUZZ_DIR/seeds"
{
  { be32 196608; printf 'user\0alice\0database\0app\0application_name\0psql\0\0'; } | untyped
  printf 'SELECT 1\0' | typed Q
  { printf 's1\0SELECT $1\0'; printf '\0\1\0\0\0\27'; } | typed P
  printf '' | typed S
  printf '' | typed X
} >"$s/client_session"
{
  { be32 196608; printf 'user\0bob\0\0'; } | untyped
  { printf 'SCRAM-SHA-256\0'; be32 20; printf 'n,,n=,r=abcdefghijkl'; } | typed p
  printf 'c=biws,r=abcdefghijklmnop,p=cHJvb2Y=' | typed p
} >"$s/client_scram"
be32 80877103 | untyped >"$s/ssl_request"
be32 80877104 | untyped >"$s/gssenc_request"
{ be32 80877102; be32 4242; be32 -559038737; } | untyped >"$s/cancel_request"
{
  { be32 10; printf 'SCRAM-SHA-256\0\0'; } | typed R
  { be32 12; printf 'v=c2lnbmF0dXJl'; } | typed R
  be32 0 | typed R
  printf 'server_version\00015.4\0' | typed S
  { be32 31337; be32 12345; } | typed K
  printf 'SERROR\0VERROR\0C42P01\0Mrelation does not exist\0DDetail\0\0' | typed E
  printf 'SNOTICE\0VNOTICE\0C00000\0Mhello\0\0' | typed N
  printf 'I' | typed Z
} >"$s/server_auth"
{
  { be32 196608; printf 'user\0u\0\0'; } | untyped
  printf 'md5a3556571e93b0d20722ba62be61e8c2d\0' | typed p
  printf '\0\3\0\0\0\1x\377\377\377\377\0\0\0\0' | typed D
  printf 'd' | typed 'x'
  printf '\0\0\0\10' | head -c 5
} >"$s/mixed_and_truncated"

# Dictionary of protocol tokens.
cat >"$FUZZ_DIR/wire.dict" <<'EOF'
"user\x00"
"database\x00"
"options\x00"
"application_name\x00"
"SCRAM-SHA-256\x00"
"\x00\x03\x00\x00"
"\x04\xd2\x16\x2f"
"\x04\xd2\x16\x30"
"\x04\xd2\x16\x2e"
"\x00\x02\x00\x00"
"\xff\xff\xff\xff"
"\x00\x00\x00\x04"
"\x00\x00\x00\x08"
EOF

echo "fuzz.sh: fuzzing for ${FUZZ_SECONDS}s in $FUZZ_DIR"
status=0
(cd "$FUZZ_DIR" &&
  "$bin" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -dict=wire.dict -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/" \
    "$@" corpus seeds) || status=$?

if [ "$status" -ne 0 ]; then
  echo "fuzz.sh: FAILED (exit $status); reproducers and corpus kept in $FUZZ_DIR" >&2
  ls -1 "$FUZZ_DIR" | grep -E '^(crash|leak|timeout|oom)-' >&2 || true
  exit "$status"
fi
echo "fuzz.sh: no failures"
if [ "$keep" -eq 0 ]; then rm -rf "$FUZZ_DIR"; fi
