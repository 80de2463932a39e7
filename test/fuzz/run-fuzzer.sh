#!/usr/bin/env bash
# Runs one libFuzzer binary for a bounded time over a copy of its seed corpus.
#   run-fuzzer.sh BINARY SEED_CORPUS SECONDS
# KILN_FUZZ_SECONDS overrides SECONDS (for long runs). The suite fuzzes from a fixed seed so a
# finding reproduces with the same command; KILN_FUZZ_SEED picks another (0 = random, for long
# exploratory runs). Exits non-zero on any finding; the crashing input is kept under
# build/fuzz/findings/.
set -euo pipefail
bin=$1 seeds=$2 secs=${KILN_FUZZ_SECONDS:-$3} seed=${KILN_FUZZ_SEED:-1}
name=$(basename "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
findings="$(dirname "$bin")/findings/$name"
mkdir -p "$findings" "$work/corpus"
echo "fuzz: $name for ${secs}s over $(ls "$seeds" | wc -l) seeds, seed $seed"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -seed="$seed" \
  -print_final_stats=1 -artifact_prefix="$findings/" "$work/corpus" "$seeds"
