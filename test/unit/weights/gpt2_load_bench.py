#!/usr/bin/env python3
"""Times `kiln init` and weight loading at full GPT-2 size (124M parameters, fp32).

    .venv/bin/python test/unit/weights/gpt2_load_bench.py --build build-rt

Writes a GPT-2 124M artifact manifest (through kiln-make-artifact) and a random checkpoint in
Hugging Face layout with the PyPI `safetensors` package, then prints the time and peak RSS of:
`kiln init`; loading the Kiln-named init file (used in place); loading the Hugging Face file (fused
c_attn split, Conv1D weights transposed); the same in bf16. Not part of the test suite.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
import reference_test as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build-rt")
    args = ap.parse_args()
    b = os.path.join(args.build, "bin")
    ref.N_EMBD, ref.N_LAYER, ref.VOCAB, ref.N_POS, ref.N_INNER = 768, 12, 50257, 1024, 3072
    m = ref.manifest()
    with tempfile.TemporaryDirectory() as tmp:
        mp = os.path.join(tmp, "m.json")
        json.dump(m, open(mp, "w"))
        code = os.path.join(tmp, "code")
        open(code, "wb").write(b"x")
        kc = os.path.join(tmp, "gpt2.kc")
        subprocess.run([os.path.join(b, "kiln-make-artifact"), mp, "-o", kc, "--section",
                        f"code/cpu-x86_64:code:{code}"], check=True)
        init = os.path.join(tmp, "init.safetensors")
        t = time.time()
        subprocess.run([os.path.join(b, "kiln"), "init", kc, "--seed", "1", "-o", init], check=True)
        print(f"kiln init (124M parameters, {os.path.getsize(init) / 2**20:.0f} MiB): "
              f"{time.time() - t:.2f} s wall")
        hf = {"transformer." + k: v for k, v in ref.hf_checkpoint(np.random.default_rng(0)).items()}
        hfp = os.path.join(tmp, "model.safetensors")
        save_file(hf, hfp)
        bf = os.path.join(tmp, "bf16.safetensors")
        from safetensors import TensorSpec, serialize_file
        bits = {k: ref.to_bf16_bits(v) for k, v in hf.items()}
        serialize_file({k: TensorSpec(dtype="bfloat16", shape=v.shape, data_ptr=v.ctypes.data,
                                      data_len=v.nbytes) for k, v in bits.items()}, bf)
        del hf, bits
        for label, path in (("kiln-named f32", init), ("hugging face f32", hfp),
                            ("hugging face bf16", bf)):
            r = subprocess.run([os.path.join(b, "kiln-weights-dump"), kc, path, "-"],
                               capture_output=True, text=True, check=True)
            print(f"{label}: {r.stdout.strip()}")


if __name__ == "__main__":
    main()
