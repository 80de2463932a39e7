#!/usr/bin/env bash
# Kiln benchmarks. Figures are printed, never asserted; run on an otherwise idle machine.
#
#   bench/run.sh matmul [--threads 1,2] [--min-time S] [--filter TEXT] [--no-lm-head]
#
# matmul: GPT-2 124M's matmul shapes compiled by kiln-cpu-compile, run through the HAL's CPU
# driver beside OpenBLAS sgemm in the same process (OPENBLAS_CORETYPE defaults to SkylakeX when
# the CPU has AVX-512, else the library's own choice). Needs build-cpu (or BUILD=<dir>) with
# kiln-cpu-compile, and libopenblas-dev (scripts/setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build-cpu}"
what="${1:-matmul}"; shift || true

case "$what" in
matmul)
  gen_args=(); bench_args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --no-lm-head) gen_args+=(--no-lm-head) ;;
      --tokens) gen_args+=(--tokens "$2"); shift ;;
      *) bench_args+=("$1") ;;
    esac
    shift
  done
  out="$BUILD/bench/matmul"; mkdir -p "$out"
  cmake --build "$BUILD" --target kiln-cpu-compile >/dev/null
  python3 "$ROOT/bench/matmul/gen_dispatches.py" "${gen_args[@]}" > "$out/dispatches.mlir"
  start=$(date +%s.%N)
  "$BUILD/bin/kiln-cpu-compile" "$out/dispatches.mlir" -o "$out/dispatches.so"
  echo "compiled $(grep -c '^func.func' "$out/dispatches.mlir") dispatches in $(echo "$(date +%s.%N) - $start" | bc) s"
  c++ -O2 -std=c++17 -I"$ROOT/runtime/include" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
    "$ROOT/bench/matmul/MatmulBench.cpp" "$ROOT"/runtime/src/cpu/*.cpp "$ROOT"/runtime/src/hal/*.cpp \
    -o "$out/kiln-matmul-bench" -lopenblas -lpthread -ldl
  if [ -z "${OPENBLAS_CORETYPE:-}" ] || [ "${OPENBLAS_CORETYPE}" = Haswell ]; then
    if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; else unset OPENBLAS_CORETYPE; fi
  fi
  "$out/kiln-matmul-bench" "$out/dispatches.so" "${bench_args[@]}"
  ;;
*)
  echo "usage: bench/run.sh matmul [options]" >&2; exit 2 ;;
esac
