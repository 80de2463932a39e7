#!/usr/bin/env python3
"""End-to-end CPU numerics of compiled models. GPT-2 (the default): a tiny GPT-2 compiled by `kilnc -o model.kc` (native code for the
entry point `forward`), random weights written with numpy in the Hugging Face checkpoint layout
(Conv1D weights stored [in, out], fused c_attn) through the `safetensors` package, run by
`kiln run`, and the logits compared with a numpy GPT-2 written from the paper (Radford et al.
2019: pre-norm blocks, causal self-attention, tanh-GELU MLP, final layer norm, tied head).
Two layers at six shapes, and 22 layers (its whole entry point binds 358 buffers).

LLaMA, BERT and T5 (`--model llama|bert|t5`): the small configs and the numpy models of
test/Conversion/model_numerics.py (RMSNorm, rotary embeddings, grouped KV heads, SwiGLU; BERT
post-norm with token types, a padding mask, the pooler and the MLM head; T5 relative position
buckets, a padded source and decoder cross-attention), random weights written
with numpy under Kiln's parameter names, every output of `kiln run` compared.

    run_numerics.py [--model gpt2|llama|bert|t5] --kilnc PATH --kiln PATH --examples DIR --workdir DIR
"""
import argparse
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

CONFIG = {"n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": 53, "n_positions": 80}
TOL = 1e-4


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def gpt2(w, ids, n_layer, n_head):
    """GPT-2 forward on Hugging Face tensors (float64): logits [B, S, V]."""
    B, S = ids.shape
    x = w["wte.weight"][ids] + w["wpe.weight"][np.arange(S)][None]
    D = x.shape[-1]
    hd = D // n_head
    causal = np.tril(np.ones((S, S), bool))
    for i in range(n_layer):
        p = lambda n: w[f"h.{i}.{n}"]  # noqa: E731
        h = layer_norm(x, p("ln_1.weight"), p("ln_1.bias"))
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")  # Conv1D: x @ W[in, out]
        q, k, v = (t.reshape(B, S, n_head, hd).transpose(0, 2, 1, 3) for t in np.split(qkv, 3, -1))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd)
        s = np.where(causal, s, -np.inf)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ v).transpose(0, 2, 1, 3).reshape(B, S, D)
        x = x + o @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = layer_norm(x, p("ln_2.weight"), p("ln_2.bias"))
        x = x + gelu_tanh(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias")) @ p("mlp.c_proj.weight") \
            + p("mlp.c_proj.bias")
    return layer_norm(x, w["ln_f.weight"], w["ln_f.bias"]) @ w["wte.weight"].T


def hf_weights(rng, c):
    D, V, P = c["n_embd"], c["vocab_size"], c["n_positions"]
    w = {"wte.weight": rng.standard_normal((V, D)) * 0.2,
         "wpe.weight": rng.standard_normal((P, D)) * 0.1,
         "ln_f.weight": 1 + 0.1 * rng.standard_normal(D), "ln_f.bias": 0.1 * rng.standard_normal(D)}
    for i in range(c["n_layer"]):
        for n, shape in [("ln_1.weight", (D,)), ("ln_1.bias", (D,)), ("ln_2.weight", (D,)),
                         ("ln_2.bias", (D,)), ("attn.c_attn.weight", (D, 3 * D)),
                         ("attn.c_attn.bias", (3 * D,)), ("attn.c_proj.weight", (D, D)),
                         ("attn.c_proj.bias", (D,)), ("mlp.c_fc.weight", (D, 4 * D)),
                         ("mlp.c_fc.bias", (4 * D,)), ("mlp.c_proj.weight", (4 * D, D)),
                         ("mlp.c_proj.bias", (D,))]:
            value = rng.standard_normal(shape) * (0.2 if len(shape) == 2 else 0.1)
            if n.startswith("ln_") and n.endswith("weight"):
                value += 1
            w[f"h.{i}.{n}"] = value
    return {k: v.astype(np.float32) for k, v in w.items()}


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def ids_text(a):
    return ";".join(",".join(str(int(t)) for t in row) for row in a)


def kiln_layout_case(args, name):
    """LLaMA / BERT with the references of test/Conversion/model_numerics.py."""
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Conversion"))
    import model_numerics as mn  # noqa: E402
    import re
    example, overrides, _ = mn.MODELS[name]
    sets = [a for o in overrides for a in ("--set", o)]
    src = os.path.join(args.examples, f"{example}.kiln")
    model = os.path.join(args.workdir, f"{name}.kc")
    run([args.kilnc, src, *sets, "-o", model])
    mlir = run([args.kilnc, src, *sets, "--emit=mlir"]).stdout
    shapes = {n: tuple(int(d) for d in dims.split("x"))
              for n, dims in re.findall(r"kiln\.param @(\S+) : tensor<([\dx]+)xf32>", mlir)}
    rng = np.random.default_rng(7)
    params = {}
    for n, shape in shapes.items():
        value = rng.standard_normal(shape) * (0.3 if len(shape) == 2 else 0.1)
        if "norm" in n or "ln_" in n or "LayerNorm" in n:
            value = value + (1.0 if n.endswith("weight") else 0.0)
        params[n] = value.astype(np.float32)
    wpath = os.path.join(args.workdir, f"{name}.safetensors")
    save_file(params, wpath)
    p64 = {n: v.astype(np.float64) for n, v in params.items()}
    ids = rng.integers(0, 23, size=(2, 7)).astype(np.int32)
    flags = ["--ids", ids_text(ids)]
    if name == "llama":
        refs = {"logits": mn.llama_reference(p64, ids, 2, 4, 2, 500.0)}
    elif name == "t5":
        mask = np.ones(ids.shape, np.int32)
        mask[0, 6:] = 0  # right padding in the first source sequence
        decoder_ids = rng.integers(0, 23, size=(2, 5)).astype(np.int32)
        flags += ["--mask", ids_text(mask), "--input", "decoder_ids=" + ids_text(decoder_ids)]
        refs = {"logits": mn.t5_reference(p64, ids, mask, decoder_ids, 2, 2, 4)}
    else:
        type_ids = rng.integers(0, 2, size=ids.shape).astype(np.int32)
        mask = np.ones(ids.shape, np.int32)
        mask[1, 5:] = 0  # right padding in the second sequence
        flags += ["--type-ids", ids_text(type_ids), "--mask", ids_text(mask)]
        refs = dict(zip(["last_hidden_state", "pooler_output", "logits"],
                        mn.bert_reference(p64, ids, type_ids, mask, 2, 2)))
    out = os.path.join(args.workdir, name)
    run([args.kiln, "run", model, "--weights", wpath, *flags, "--output-dir", out, "--threads", "2"])
    failed = 0
    for output, ref in refs.items():
        got = np.load(os.path.join(out, f"{output}.npy"))
        if got.shape != ref.shape:
            print(f"{name} {output}: shape {got.shape}, expected {ref.shape}: FAIL")
            failed += 1
            continue
        err = float(np.abs(got.astype(np.float64) - ref).max())
        ok = np.isfinite(got).all() and err <= TOL
        failed += not ok
        print(f"{name} {output} (batch 2, seq 7): max abs error {err:.3e} "
              f"(|values| up to {np.abs(ref).max():.2f}) tol {TOL:.0e} {'ok' if ok else 'FAIL'}")
    print(f"{len(refs) - failed} passed, {failed} failed")
    return 1 if failed else 0


def gpt2_cases(args, name, config, cases, rng):
    """Compiles gpt2.kiln with `config`, writes random Hugging Face-layout weights and compares
    `kiln run`'s logits with the numpy GPT-2 for each case {name: (batch, seq, threads)}."""
    model = os.path.join(args.workdir, f"{name}.kc")
    sets = [a for k, v in config.items() for a in ("--set", f"{k}={v}")]
    run([args.kilnc, os.path.join(args.examples, "gpt2.kiln"), *sets, "-o", model])
    weights = hf_weights(rng, config)
    wpath = os.path.join(args.workdir, f"{name}.safetensors")
    save_file(weights, wpath)
    w64 = {k: v.astype(np.float64) for k, v in weights.items()}
    failed = 0
    for case, (batch, seq, threads) in cases.items():
        ids = rng.integers(0, config["vocab_size"], size=(batch, seq))
        out = os.path.join(args.workdir, f"{name}-{case}")
        text = ";".join(",".join(str(int(t)) for t in row) for row in ids)
        run([args.kiln, "run", model, "--weights", wpath, "--ids", text, "--output-dir", out,
             "--threads", str(threads)])
        logits = np.load(os.path.join(out, "logits.npy"))
        ref = gpt2(w64, ids, config["n_layer"], config["n_head"])
        if logits.shape != ref.shape or logits.dtype != np.float32:
            print(f"{name} {case}: got {logits.dtype} {logits.shape}, expected float32 "
                  f"{ref.shape}: FAIL")
            failed += 1
            continue
        err = float(np.abs(logits.astype(np.float64) - ref).max())
        ok = np.isfinite(logits).all() and err <= TOL
        failed += not ok
        print(f"{name} {case} (batch {batch}, seq {seq}, {threads} threads): max abs error "
              f"{err:.3e} (|logits| up to {np.abs(ref).max():.2f}) tol {TOL:.0e} "
              f"{'ok' if ok else 'FAIL'}")
    return len(cases) - failed, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["gpt2", "llama", "bert", "t5"], default="gpt2")
    ap.add_argument("--kilnc", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    if args.model != "gpt2":
        return kiln_layout_case(args, args.model)
    rng = np.random.default_rng(3)
    # Several shapes through the same compiled code: the sizes are bound at run time. The
    # matmuls' rows (batch x seq) run as 64-row chunks of the tuned schedule, the rows left
    # over as one padded chunk (more than 4) or one-row calls (docs/cpu-backend.md "Matmuls
    # of whole entry points"): 14 and 16 rows are one padded chunk, 3 are one-row calls, 64
    # one chunk, 66 a chunk and two rows, 150 two chunks and a padded 22. At 2 x 75 the
    # attention ops are large enough to run in slices on the threads (ThreadedOps.cpp):
    # QK^T along the query rows, the masked softmax along the batch.
    cases = {"b2s7": (2, 7, 2), "b1s16": (1, 16, 1), "b3s1": (3, 1, 2), "b1s64": (1, 64, 1),
             "b1s66": (1, 66, 2), "b2s75": (2, 75, 2)}
    passed, failed = gpt2_cases(args, "gpt2", CONFIG, cases, rng)
    # 22 layers: the whole entry point binds 358 buffers (268 of them parameters), more than
    # the CPU driver once accepted (256).
    deep_passed, deep_failed = gpt2_cases(args, "gpt2-22-layers", dict(CONFIG, n_layer=22),
                                          {"b2s9": (2, 9, 2)}, rng)
    passed, failed = passed + deep_passed, failed + deep_failed
    # Heads of 32: causal attention's `exp x V` runs as vector code over 16 columns of d for
    # blocks of 4 queries (CausalAttention.cpp, emitRowUpdates); at 13 and 75 queries the
    # blocks leave 1 and 3 queries to the plain loops.
    wide_passed, wide_failed = gpt2_cases(args, "gpt2-head-32", dict(CONFIG, n_embd=64, n_head=2),
                                          {"b2s13": (2, 13, 2), "b1s32": (1, 32, 1),
                                           "b2s75": (2, 75, 2)}, rng)
    passed, failed = passed + wide_passed, failed + wide_failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
