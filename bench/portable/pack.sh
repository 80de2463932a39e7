#!/usr/bin/env bash
# Packs a folder that benchmarks Kiln's code for another x86-64 Linux machine, one that has
# neither MLIR nor a compiler nor Kiln's dependencies (a lent or remote machine):
#
#   bench/portable/pack.sh OUT_DIR [--cpu NAME]      (default NAME: x86-64-v4, AVX-512)
#   ... copy OUT_DIR there ...;  OUT_DIR/run.sh       (prints every table)
#
# OUT_DIR holds kiln, kiln-model-bench and kiln-matmul-bench (this machine's builds), the shared
# libraries a bare machine may lack (OpenBLAS gzipped, libgfortran, libquadmath,
# libsentencepiece), GPT-2 124M artifacts compiled by `kilnc --cpu NAME` (f32 and bf16
# weights, `--specialize batch=1,seq=64`, and f32 without it: whole entry points, the default)
# and `--cpu x86-64-v3` (AVX2, for comparison on the same machine), GPT-2's matmul
# dispatches compiled for both, and transformers' logits for the weights `kiln init --seed 1`
# writes (the numerics check of NAME's code on the machine that can run it). About 31 MB.
#
# BUILD=<dir> is the build folder (default build); it needs kilnc, kiln, kiln-model-bench and
# kiln-cpu-compile. The reference needs .venv-hf (torch, transformers), as the tests do.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
out="${1:?usage: bench/portable/pack.sh OUT_DIR [--cpu NAME]}"; shift
cpu=x86-64-v4
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) cpu="$2"; shift ;;
    *) echo "pack.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
py="$ROOT/.venv-hf/bin/python"
[ -x "$py" ] || { echo "pack.sh: $py is missing (the test command installs it)" >&2; exit 1; }
cmake --build "$BUILD" --target kilnc kiln kiln-model-bench kiln-cpu-compile -j2 >/dev/null
mkdir -p "$out/lib"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo "binaries and libraries"
cp "$BUILD/bin/kiln" "$BUILD/bin/kiln-model-bench" "$out/"
c++ -O2 -std=c++17 -I"$ROOT/runtime/include" -I/usr/include/x86_64-linux-gnu/openblas-pthread \
  "$ROOT/bench/matmul/MatmulBench.cpp" "$ROOT"/runtime/src/cpu/*.cpp "$ROOT"/runtime/src/hal/*.cpp \
  -o "$out/kiln-matmul-bench" -lopenblas -lpthread -ldl
for l in libopenblas.so.0 libgfortran.so.5 libquadmath.so.0 libsentencepiece.so.0; do
  cp -L "/usr/lib/x86_64-linux-gnu/$l" "$out/lib/"
done
gzip -9f "$out/lib/libopenblas.so.0"

echo "GPT-2 124M artifacts for $cpu (f32, bf16) and x86-64-v3"
spec=(--specialize batch=1,seq=64 --quiet)
"$BUILD/bin/kilnc" "$ROOT/examples/gpt2.kiln" "${spec[@]}" --cpu="$cpu" -o "$out/gpt2-f32-target.kc"
"$BUILD/bin/kilnc" "$ROOT/examples/gpt2.kiln" "${spec[@]}" --cpu="$cpu" --weight-dtype=bf16 \
  -o "$out/gpt2-bf16-target.kc"
"$BUILD/bin/kilnc" "$ROOT/examples/gpt2.kiln" "${spec[@]}" --cpu=x86-64-v3 -o "$out/gpt2-f32-avx2.kc"
"$BUILD/bin/kilnc" "$ROOT/examples/gpt2.kiln" --quiet --cpu="$cpu" -o "$out/gpt2-f32-whole-target.kc"

echo "matmul dispatches"
python3 "$ROOT/bench/matmul/gen_dispatches.py" --layout both > "$tmp/dispatches.mlir"
"$BUILD/bin/kiln-cpu-compile" "$tmp/dispatches.mlir" --mcpu="$cpu" -o "$out/matmul-target.so"
"$BUILD/bin/kiln-cpu-compile" "$tmp/dispatches.mlir" --mcpu=x86-64-v3 -o "$out/matmul-avx2.so"

echo "reference logits (transformers) for kiln init --seed 1"
"$BUILD/bin/kiln" init "$out/gpt2-f32-target.kc" --seed 1 -o "$tmp/w.safetensors" >/dev/null
sha256sum "$tmp/w.safetensors" | cut -c1-64 > "$out/weights.sha256"
python3 -c "import random; r = random.Random(7); print(','.join(str(r.randrange(50257)) for _ in range(64)))" \
  > "$out/ids.txt"
"$py" "$ROOT/bench/portable/gpt2_hf_ref.py" "$tmp/w.safetensors" "$(cat "$out/ids.txt")" "$tmp/ref.npy"
gzip -1c "$tmp/ref.npy" > "$out/ref.npy.gz"
cp "$ROOT/bench/portable/run.sh" "$out/"
echo "$cpu" > "$out/cpu.txt"
du -sh "$out"
