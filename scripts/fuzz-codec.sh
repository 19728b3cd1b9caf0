#!/usr/bin/env bash
# Fuzzes the codec's decoders (and the pack/unpack round trip) for a bounded
# time per target, with cargo-fuzz (libFuzzer) on the rustup stable toolchain.
# Not part of `npm test`: too slow. Every crash it finds must become a named
# file in test/corpus/codec/regressions/ (see the README there), which the
# test suites replay forever.
#
#   scripts/fuzz-codec.sh [seconds-per-target]     default 60
#   SANITIZER=none scripts/fuzz-codec.sh 30        without AddressSanitizer
#
# Needs: cargo install cargo-fuzz (from crates.io). cargo-fuzz passes nightly
# flags (-Z sanitizer, -Cpasses); RUSTC_BOOTSTRAP=1 lets the stable compiler take them.
set -euo pipefail
cd "$(dirname "$0")/../crates/edge-core/fuzz"
SECONDS_PER_TARGET="${1:-60}"
SANITIZER="${SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
# Instrument the C zstd with clang, like the Rust side (LLVM): gcc-instrumented C
# under LLVM's ASan runtime reported a stack-use-after-scope in zstd that clang
# instrumentation does not (test/corpus/codec/regressions/README.md).
if command -v clang-19 >/dev/null; then export CC="${CC:-clang-19}" CXX="${CXX:-clang++-19}"; fi
if ! command -v cargo-fuzz >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
  echo "cargo-fuzz is missing: run \`cargo install cargo-fuzz\`" >&2
  exit 2
fi
# Seed the decoder corpus with real streams and frames (prefixed by a mode byte).
mkdir -p corpus/decoders
seed() { printf "\\x$(printf %02x "$1")" | cat - "$2" > "corpus/decoders/seed-$1-$(basename "$2")"; }
CORPUS_DIR=../../../test/corpus/codec
for f in "$CORPUS_DIR"/*.medg; do seed 0 "$f"; done
for f in "$CORPUS_DIR"/*.zst; do seed 2 "$f"; done
for f in "$CORPUS_DIR"/*.lz4; do seed 4 "$f"; done
seed 5 "$CORPUS_DIR/cli.dict"

status=0
for target in decoders round_trip; do
  echo "== fuzzing $target for ${SECONDS_PER_TARGET}s (sanitizer: $SANITIZER)"
  # -rss_limit_mb: a decoder that tries to allocate past its ceiling is a finding too.
  if ! cargo fuzz run --sanitizer "$SANITIZER" "$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -max_len=262144 -timeout=10 -print_final_stats=1; then
    status=1
    echo "!! $target found a crash: see crates/edge-core/fuzz/artifacts/$target/" >&2
    echo "   copy it to test/corpus/codec/regressions/<what-broke>.bin and fix the decoder" >&2
  fi
done
exit "$status"
