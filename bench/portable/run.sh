#!/usr/bin/env bash
# Runs on the machine being measured, from a folder bench/portable/pack.sh wrote. Needs bash,
# coreutils, util-linux (lscpu, taskset), gzip and python3 with numpy (PYTHON=... picks another
# interpreter). Prints every table.
set -u
D="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$D/lib"
W="${TMPDIR:-/tmp}/kiln-portable"; mkdir -p "$W"
gzip -dc "$D/lib/libopenblas.so.0.gz" > "$D/lib/libopenblas.so.0"
gzip -dc "$D/ref.npy.gz" > "$W/ref.npy"
cpu=$(cat "$D/cpu.txt")
echo "== machine"; nproc; uname -r
lscpu | grep -E 'Model name|Vendor|Socket|Core|Thread|L1d|L2|L3|NUMA node\(|MHz'
grep -o -w 'avx512[a-z_0-9]*\|avx2\|fma\|amx[a-z_0-9]*\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
free -g | head -2
# Two CPUs on distinct physical cores: every benchmark runs there.
CPUS=$(lscpu -p=CPU,CORE | grep -v '^#' | awk -F, '!seen[$2]++ {print $1}' | head -2 | paste -sd,)
echo "benchmarks run on CPUs $CPUS (distinct cores)"
T=(taskset -c "$CPUS")
blas=SkylakeX; grep -qw avx512f /proc/cpuinfo || blas=Haswell
echo "== matmul: code for $cpu beside OpenBLAS ($blas kernels), same threads, same run"
OPENBLAS_CORETYPE=$blas timeout 300 "${T[@]}" "$D/kiln-matmul-bench" "$D/matmul-target.so" \
  --threads 1,2 --min-time 0.3
echo "== matmul: AVX2 code (x86-64-v3), M = 64 and 128"
OPENBLAS_CORETYPE=$blas timeout 120 "${T[@]}" "$D/kiln-matmul-bench" "$D/matmul-avx2.so" \
  --threads 1,2 --min-time 0.3 --filter _K768_N2304
echo "== GPT-2 124M: numerics of the $cpu code against transformers"
timeout 120 "$D/kiln" init "$D/gpt2-f32-target.kc" --seed 1 -o "$W/w.safetensors" >/dev/null
echo "weights sha256 $(sha256sum "$W/w.safetensors" | cut -c1-64), packed $(cat "$D/weights.sha256")"
for a in gpt2-f32-target gpt2-f32-whole-target; do
  timeout 120 "${T[@]}" "$D/kiln" run "$D/$a.kc" --weights "$W/w.safetensors" \
    --ids "$(cat "$D/ids.txt")" --output-dir "$W/out-$a" --threads 2
  "${PYTHON:-python3}" -c "
import numpy as np
d = float(np.abs(np.load('$W/out-$a/logits.npy') - np.load('$W/ref.npy')).max())
print('$a logits: max abs difference from transformers %.3g (%s)' % (d, 'ok' if d <= 1e-4 else 'ABOVE 1e-4'))
"
done
for a in gpt2-f32-target gpt2-bf16-target gpt2-f32-avx2; do
  echo "== kiln-model-bench $a"
  timeout 300 "${T[@]}" "$D/kiln-model-bench" "$D/$a.kc" "$W/w.safetensors" --threads 1,2 \
    --tokens 64 --prefill 128 --decode 64 --min-runs 3
done
echo "== kiln-model-bench gpt2-f32-whole-target (no --specialize: whole entry points)"
timeout 300 "${T[@]}" "$D/kiln-model-bench" "$D/gpt2-f32-whole-target.kc" "$W/w.safetensors" \
  --threads 1,2 --tokens 0 --prefill 128 --decode 64 --min-runs 3
timeout 300 "${T[@]}" "$D/kiln-model-bench" "$D/gpt2-f32-whole-target.kc" "$W/w.safetensors" \
  --threads 2 --tokens 0 --prefill 512 --decode 0 --min-runs 3
rm -rf "$W"
