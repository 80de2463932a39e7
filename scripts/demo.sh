#!/usr/bin/env bash
# Kiln's main job, from a fresh Debian 12 machine: install, build, compile every example model,
# then compile a small GPT-2 to native code, initialize its weights and run a forward pass.
#   scripts/demo.sh
# KILN_BUILD_DIR (default: build) picks the build folder; everything it writes goes to out/.
# (Training on bundled text and generation join this script as the runtime grows them.)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${KILN_BUILD_DIR:-build}
bin=$build/bin

scripts/setup.sh
cmake -S . -B "$build" -G Ninja > /dev/null
cmake --build "$build" -j"$(nproc)" --target kilnc kiln-opt kiln

mkdir -p out
echo
echo "== every example at full size: Kiln -> kiln dialect (verified by kiln-opt) -> artifact manifest"
for model in examples/*.kiln; do
  name=$(basename "$model" .kiln)
  "$bin/kilnc" "$model" --emit=mlir -o "out/$name.mlir"
  "$bin/kiln-opt" "out/$name.mlir" > /dev/null
  "$bin/kilnc" "$model" --target=none -o "out/$name.kc"
  "$bin/kiln" info "out/$name.kc" | grep -E "^parameters" | sed "s|^|$name: |"
done

echo
echo "== a small GPT-2 (2 layers, 128 wide) compiled to native CPU code and run"
small=(--set n_layer=2 --set n_embd=128 --set n_head=4 --set n_positions=128)
time "$bin/kilnc" examples/gpt2.kiln "${small[@]}" -o out/gpt2-small.kc
"$bin/kiln" info out/gpt2-small.kc | head -n 12
"$bin/kiln" init out/gpt2-small.kc --seed 1 -o out/gpt2-small.safetensors
"$bin/kiln" run out/gpt2-small.kc --weights out/gpt2-small.safetensors \
  --ids "464,2068,7586,21831,18045,625,262,16931,3290;15496,11,995,0,314,1101,257,3303,2746" \
  --output-dir out/gpt2-small-run
"$build/../.venv/bin/python" - <<'PY'
import numpy as np
logits = np.load("out/gpt2-small-run/logits.npy")
print(f"logits {logits.shape}, next-token argmax per row: {logits[:, -1].argmax(-1).tolist()}")
PY
