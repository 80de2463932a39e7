#!/usr/bin/env bash
# Installs everything Kiln needs on a fresh Debian 12 machine. Idempotent: packages already
# present are skipped, and the Python test environment is reused when it is complete.
#
#   scripts/setup.sh            # compiler + runtime + test dependencies
#
# Python test dependencies go into a virtual environment at .venv (Debian's python3 + venv),
# so that the tests never depend on whatever python3 happens to be on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # compiler: Debian 12's LLVM/MLIR 19 (lit and FileCheck come with llvm-19-tools)
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools clang-19 libclang-rt-19-dev lld-19
  # build
  cmake ninja-build ccache g++ make
  # runtime helpers
  nlohmann-json3-dev libgtest-dev libcli11-dev libxxhash-dev
  # native SentencePiece .model files (runtime/src/tokenizer)
  libsentencepiece-dev
  # matmul benchmark yardstick (bench/matmul)
  libopenblas-dev
  # python for reference tests
  python3 python3-venv python3-pip
  # PyTorch 1.13 (CPU) for the Hugging Face transformers reference (.venv-hf, test/reference/hf)
  python3-torch
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python reference environment (tests compare against Hugging Face `tokenizers`, numpy).
# sentencepiece is pinned to the 0.1.x line of Debian 12's libsentencepiece (0.1.97): 0.2 breaks
# Viterbi ties differently. transformers (pure Python, no torch) converts .model files.
PY_PACKAGES=(numpy tokenizers==0.23.3 safetensors sentencepiece==0.1.99 protobuf transformers==5.24.0)
if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
if ! .venv/bin/python -c "import numpy, tokenizers, safetensors, google.protobuf, transformers, sentencepiece; assert sentencepiece.__version__ == \"0.1.99\"" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi

# Hugging Face transformers reference (test/reference/hf): a second environment on Debian's
# python3-torch 1.13 and numpy 1.24, seen through --system-site-packages. transformers 4.49.0 is
# the newest release that runs on torch 1.13 (4.50 imports torch.distributed.tensor, new in 2.x);
# it goes in with --no-deps so that pip never brings a torch wheel or numpy 2 into it.
HF_PY_DEPS=(huggingface-hub==0.36.2 tokenizers==0.21.4 safetensors==0.8.0 regex tqdm filelock packaging)
HF_TRANSFORMERS=transformers==4.49.0
hf_ok() {
  .venv-hf/bin/python - <<'PY' 2>/dev/null
import numpy, torch, transformers, safetensors, tokenizers
assert torch.__version__.startswith("1.13"), torch.__version__
assert numpy.__version__.startswith("1."), numpy.__version__
assert transformers.__version__ == "4.49.0", transformers.__version__
PY
}
if [ ! -x .venv-hf/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv-hf
fi
if ! hf_ok; then
  .venv-hf/bin/pip install -q --disable-pip-version-check "${HF_PY_DEPS[@]}"
  .venv-hf/bin/pip install -q --disable-pip-version-check --no-deps "$HF_TRANSFORMERS"
  hf_ok || { echo "setup: .venv-hf does not import torch 1.13 + numpy 1.x + transformers 4.49.0" >&2; exit 1; }
fi
echo "setup: ok"
