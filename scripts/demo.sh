#!/usr/bin/env bash
# Kiln's main job, from a fresh Debian 12 machine: install, build, compile every example model,
# train a tokenizer on tiny Shakespeare, compile a small GPT-2 to native code, initialize its
# weights, run a forward pass and generate text with the KV cache.
#   scripts/demo.sh
# KILN_BUILD_DIR (default: build) picks the build folder; everything it writes goes to out/.
# KILN_CORPUS overrides the text (default ../shared/data/tinyshakespeare.txt beside the
# repository). Training joins this script when the runtime grows it.
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
echo "== a byte-level BPE tokenizer (512 tokens) trained on tiny Shakespeare"
corpus=${KILN_CORPUS:-../shared/data/tinyshakespeare.txt}
if [[ ! -f $corpus ]]; then
  echo "demo: no corpus at $corpus (set KILN_CORPUS to a text file)" >&2
  exit 1
fi
.venv/bin/python - "$corpus" out/tokenizer.json <<'PY'
import sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train([sys.argv[1]], trainer)
tok.save(sys.argv[2])
print(f"{sys.argv[2]}: {tok.get_vocab_size()} tokens")
PY

echo
echo "== a small GPT-2 (2 layers, 128 wide, that vocabulary) compiled to native CPU code"
small=(--set n_layer=2 --set n_embd=128 --set n_head=4 --set n_positions=128 --set vocab_size=512)
time "$bin/kilnc" examples/gpt2.kiln "${small[@]}" -o out/gpt2-small.kc
"$bin/kiln" info out/gpt2-small.kc | head -n 16
"$bin/kiln" init out/gpt2-small.kc --seed 1 -o out/gpt2-small.safetensors

echo
echo "== one forward pass over a batch of two sequences"
"$bin/kiln" run out/gpt2-small.kc --weights out/gpt2-small.safetensors \
  --ids "64,283,301,268,71,480,82,79,85;52,11,95,0,314,101,257,303,74" \
  --output-dir out/gpt2-small-run
.venv/bin/python - <<'PY'
import numpy as np
logits = np.load("out/gpt2-small-run/logits.npy")
print(f"logits {logits.shape}, next-token argmax per row: {logits[:, -1].argmax(-1).tolist()}")
PY

echo
echo "== generation with the KV cache, streamed (weights are untrained until training lands: expect noise)"
"$bin/kiln" generate out/gpt2-small.kc --weights out/gpt2-small.safetensors \
  --tokenizer out/tokenizer.json --prompt "ROMEO:" --max-new-tokens 48 \
  --temperature 0.8 --top-k 40 --seed 1 --eos 0  # 0 = <|endoftext|> in this tokenizer
