#!/usr/bin/env bash
# Kiln benchmarks. Figures are printed, never asserted; run on an otherwise idle machine
# (bench/README.md describes each one and how to read it).
#
#   bench/run.sh matmul  [--threads 1,2] [--min-time S] [--filter TEXT] [--tokens 1,64,128]
#                        [--no-lm-head] [--layout kn|nk|both] [--no-pin] [--realtime]
#   bench/run.sh compile [--examples gpt2,bert,t5,llama] [--targets cpu,spec,none] [--set K=V]...
#                        [--timeout S] [--jobs N]
#   bench/run.sh gpt2    [--threads 1,2] [--tokens 1,64,128] [--min-time S] [--min-runs N]
#                        [--prefill N] [--decode N] [--set K=V]... [--specialize SPEC]
#                        [--weight-dtype f32|bf16|int8]
#
# BUILD=<dir> picks the build folder (default build-cpu); it needs kilnc, kiln and
# kiln-model-bench (compile, gpt2) or kiln-cpu-compile (matmul), which the script builds.
# KILNC=<path> makes `gpt2` compile with another kilnc (for example another build's).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${BUILD:-$ROOT/build-cpu}"
JOBS="${KILN_JOBS:-2}"
what="${1:-}"; shift || true

machine() {
  echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
       "$(grep -qw avx512f /proc/cpuinfo && echo AVX-512 || echo AVX2)); load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

build() { cmake --build "$BUILD" --target "$@" -j"$JOBS" >/dev/null; }

case "$what" in
matmul)
  gen_args=(); bench_args=(); runner=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --realtime) runner=(chrt -f 10) ;;
      --no-lm-head) gen_args+=(--no-lm-head) ;;
      --tokens) gen_args+=(--tokens "$2"); shift ;;
      --layout) gen_args+=(--layout "$2"); shift ;;
      *) bench_args+=("$1") ;;
    esac
    shift
  done
  out="$BUILD/bench/matmul"; mkdir -p "$out"
  build kiln-cpu-compile
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
  machine
  [ ${#runner[@]} -gt 0 ] && echo "running at SCHED_FIFO priority 10 (other work gets the CPUs' idle time only)"
  "${runner[@]}" "$out/kiln-matmul-bench" "$out/dispatches.so" "${bench_args[@]}"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  ;;

compile)
  examples="gpt2,bert,t5,llama"; targets="cpu,spec,none"; sets=(); limit=0; jobs=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --examples) examples="$2"; shift ;;
      --targets) targets="$2"; shift ;;
      --set) sets+=(--set "$2"); shift ;;
      --timeout) limit="$2"; shift ;;
      --jobs) jobs=(--jobs "$2"); shift ;;
      *) echo "bench/run.sh compile: unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  build kilnc
  out="$BUILD/bench/compile"; mkdir -p "$out"
  machine
  echo "kilnc ${sets[*]:-(full size)} ${jobs[*]:-(one thread per CPU)}; spec = cpu with --specialize batch=1,seq=64 (t5: target=16)"
  printf "%-8s %-6s %9s %9s %9s %10s %12s  %s\n" example target "wall s" "user s" "sys s" \
    "peak MiB" "artifact" status
  for ex in ${examples//,/ }; do
    src="$ROOT/examples/$ex.kiln"
    [ -f "$src" ] || { echo "bench/run.sh compile: no example $src" >&2; exit 2; }
    for target in ${targets//,/ }; do
      kc="$out/$ex-$target.kc"; rm -f "$kc"
      case "$target" in
        spec) spec="batch=1,seq=64"; [ "$ex" = t5 ] && spec="$spec,target=16"
              cmd=("$BUILD/bin/kilnc" "$src" -o "$kc" --target=cpu --specialize "$spec") ;;
        *) cmd=("$BUILD/bin/kilnc" "$src" -o "$kc" "--target=$target") ;;
      esac
      cmd+=("${sets[@]}" "${jobs[@]}" --quiet)
      [ "$limit" != 0 ] && cmd=(timeout "$limit" "${cmd[@]}")
      set +e
      /usr/bin/time -f "%e %U %S %M" -o "$out/time.txt" "${cmd[@]}" > "$out/log.txt" 2>&1
      rc=$?
      set -e
      read -r wall user sys rss < <(tail -1 "$out/time.txt")
      case $rc in
        0) status=ok ;;
        124) status="timed out after ${limit} s" ;;
        *) status="failed (exit $rc): $(head -1 "$out/log.txt")" ;;
      esac
      size=$([ -f "$kc" ] && stat -c %s "$kc" || echo -)
      printf "%-8s %-6s %9s %9s %9s %10.0f %12s  %s\n" "$ex" "$target" "$wall" "$user" "$sys" \
        "$(echo "$rss / 1024" | bc -l)" "$size" "$status"
    done
  done
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  ;;

gpt2)
  sets=(); bench_args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --set|--specialize|--weight-dtype) sets+=("$1" "$2"); shift ;;
      --threads|--tokens|--min-time|--min-runs|--batch|--prefill|--decode) bench_args+=("$1" "$2"); shift ;;
      *) echo "bench/run.sh gpt2: unknown option $1" >&2; exit 2 ;;
    esac
    shift
  done
  build kiln kiln-model-bench
  kilnc="${KILNC:-}"
  [ -n "$kilnc" ] || { build kilnc; kilnc="$BUILD/bin/kilnc"; }
  out="$BUILD/bench/gpt2"; mkdir -p "$out"
  key="$(printf '%s' "${sets[*]:-}" | sed 's/--set //g; s/--//g; s/ /,/g' | tr -c 'A-Za-z0-9=_,.' _)"
  key="${key:+-$key}"
  kc="$out/gpt2$key.kc"; weights="$out/gpt2$key.safetensors"
  # Recompile only when the model file, kilnc or the overrides changed.
  if [ ! -f "$kc" ] || [ "$kc" -ot "$ROOT/examples/gpt2.kiln" ] || [ "$kc" -ot "$kilnc" ]; then
    echo "compiling examples/gpt2.kiln ${sets[*]:-(full size)} ..."
    /usr/bin/time -f "kilnc: %e s wall, %U s user, %M KiB peak" \
      "$kilnc" "$ROOT/examples/gpt2.kiln" -o "$kc" "${sets[@]}"
    rm -f "$weights"
  fi
  if [ ! -f "$weights" ] || [ "$weights" -ot "$kc" ]; then
    "$BUILD/bin/kiln" init "$kc" --seed 0 -o "$weights"
  fi
  machine
  "$BUILD/bin/kiln-model-bench" "$kc" "$weights" "${bench_args[@]}"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  ;;

*)
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
