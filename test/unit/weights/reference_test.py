#!/usr/bin/env python3
"""Weights and the `kiln info` / `kiln init` commands against the PyPI `safetensors` package.

The checkpoints are written by the reference implementation (`safetensors` + numpy) in the layouts
Hugging Face uses for GPT-2: as published on the hub (no prefix, attention-mask buffers, no
lm_head) and as written by `save_pretrained` of GPT2LMHeadModel (`transformer.` prefix, the tied
lm_head.weight dropped), in f32, f16 and bf16. Kiln loads them through the model's name mapping
(fused c_attn split three ways, Conv1D weights transposed) and the expected Kiln tensors are
computed here with numpy slicing. `kiln init` output is read back with the reference reader.
The same checkpoints load into a table whose linear weights are bf16 parameters: each value is
numpy's round-to-nearest-even of the f32 one, bit for bit.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import TensorSpec, serialize_file
from safetensors.numpy import load_file, save_file

N_EMBD, N_LAYER, VOCAB, N_POS, N_INNER = 16, 2, 50, 32, 64
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def manifest():
    params = []

    def p(name, shape, init, hf=None, std=None, transpose=False, slice_=None):
        d = {"name": name, "shape": list(shape), "dtype": "f32", "init": init}
        if std is not None:
            d["std"] = std
        if hf:
            d["hf_name"] = hf
        if transpose:
            d["transpose"] = True
        if slice_:
            d["slice"] = list(slice_)
        params.append(d)

    p("wte.weight", (VOCAB, N_EMBD), "normal", "wte.weight", std=0.02)
    p("wpe.weight", (N_POS, N_EMBD), "normal", "wpe.weight", std=0.01)
    proj_std = 0.02 / np.sqrt(2 * N_LAYER)
    for l in range(N_LAYER):
        h = f"h.{l}"
        for ln in ("ln_1", "ln_2"):
            p(f"{h}.{ln}.weight", (N_EMBD,), "ones", f"{h}.{ln}.weight")
            p(f"{h}.{ln}.bias", (N_EMBD,), "zeros", f"{h}.{ln}.bias")
        for i, part in enumerate("qkv"):
            p(f"{h}.attn.{part}.weight", (N_EMBD, N_EMBD), "normal", f"{h}.attn.c_attn.weight",
              std=0.02, transpose=True, slice_=(i, 3, 1))
            p(f"{h}.attn.{part}.bias", (N_EMBD,), "zeros", f"{h}.attn.c_attn.bias",
              slice_=(i, 3, 0))
        p(f"{h}.attn.proj.weight", (N_EMBD, N_EMBD), "normal", f"{h}.attn.c_proj.weight",
          std=proj_std, transpose=True)
        p(f"{h}.attn.proj.bias", (N_EMBD,), "zeros", f"{h}.attn.c_proj.bias")
        p(f"{h}.mlp.fc.weight", (N_INNER, N_EMBD), "normal", f"{h}.mlp.c_fc.weight", std=0.02,
          transpose=True)
        p(f"{h}.mlp.fc.bias", (N_INNER,), "zeros", f"{h}.mlp.c_fc.bias")
        p(f"{h}.mlp.proj.weight", (N_EMBD, N_INNER), "normal", f"{h}.mlp.c_proj.weight",
          std=proj_std, transpose=True)
        p(f"{h}.mlp.proj.bias", (N_EMBD,), "zeros", f"{h}.mlp.c_proj.bias")
    p("ln_f.weight", (N_EMBD,), "ones", "ln_f.weight")
    p("ln_f.bias", (N_EMBD,), "zeros", "ln_f.bias")
    return {
        "model": "gpt2",
        "config": {"vocab_size": VOCAB, "n_positions": N_POS, "n_embd": N_EMBD,
                   "n_layer": N_LAYER, "n_head": 2, "layer_norm_epsilon": 1e-5},
        "targets": [{"name": "cpu-x86_64", "code_section": "code/cpu-x86_64"}],
        "entry_points": [{
            "name": "forward",
            "inputs": [{"name": "ids", "dtype": "i32", "shape": ["batch", "seq"]}],
            "outputs": [{"name": "logits", "dtype": "f32", "shape": ["batch", "seq", VOCAB]}],
        }],
        "hf_prefixes": ["transformer."],
        "hf_ignore": ["lm_head.weight", "h.*.attn.bias", "h.*.attn.masked_bias"],
        "parameters": params,
    }


def hf_checkpoint(rng):
    """A GPT-2 state dict in Hugging Face layout (Conv1D weights are [in, out])."""
    t = {"wte.weight": rng.standard_normal((VOCAB, N_EMBD)),
         "wpe.weight": rng.standard_normal((N_POS, N_EMBD))}
    for l in range(N_LAYER):
        h = f"h.{l}"
        for ln in ("ln_1", "ln_2"):
            t[f"{h}.{ln}.weight"] = rng.standard_normal(N_EMBD)
            t[f"{h}.{ln}.bias"] = rng.standard_normal(N_EMBD)
        t[f"{h}.attn.c_attn.weight"] = rng.standard_normal((N_EMBD, 3 * N_EMBD))
        t[f"{h}.attn.c_attn.bias"] = rng.standard_normal(3 * N_EMBD)
        t[f"{h}.attn.c_proj.weight"] = rng.standard_normal((N_EMBD, N_EMBD))
        t[f"{h}.attn.c_proj.bias"] = rng.standard_normal(N_EMBD)
        t[f"{h}.mlp.c_fc.weight"] = rng.standard_normal((N_EMBD, N_INNER))
        t[f"{h}.mlp.c_fc.bias"] = rng.standard_normal(N_INNER)
        t[f"{h}.mlp.c_proj.weight"] = rng.standard_normal((N_INNER, N_EMBD))
        t[f"{h}.mlp.c_proj.bias"] = rng.standard_normal(N_EMBD)
    t["ln_f.weight"] = rng.standard_normal(N_EMBD)
    t["ln_f.bias"] = rng.standard_normal(N_EMBD)
    return {k: v.astype(np.float32) for k, v in t.items()}


def expected_kiln(hf):
    """The Kiln parameters a Hugging Face state dict stands for, by numpy slicing."""
    e = {"wte.weight": hf["wte.weight"], "wpe.weight": hf["wpe.weight"],
         "ln_f.weight": hf["ln_f.weight"], "ln_f.bias": hf["ln_f.bias"]}
    n = N_EMBD
    for l in range(N_LAYER):
        h = f"h.{l}"
        for ln in ("ln_1", "ln_2"):
            e[f"{h}.{ln}.weight"] = hf[f"{h}.{ln}.weight"]
            e[f"{h}.{ln}.bias"] = hf[f"{h}.{ln}.bias"]
        w, b = hf[f"{h}.attn.c_attn.weight"], hf[f"{h}.attn.c_attn.bias"]
        for i, part in enumerate("qkv"):
            e[f"{h}.attn.{part}.weight"] = w[:, i * n:(i + 1) * n].T
            e[f"{h}.attn.{part}.bias"] = b[i * n:(i + 1) * n]
        e[f"{h}.attn.proj.weight"] = hf[f"{h}.attn.c_proj.weight"].T
        e[f"{h}.attn.proj.bias"] = hf[f"{h}.attn.c_proj.bias"]
        e[f"{h}.mlp.fc.weight"] = hf[f"{h}.mlp.c_fc.weight"].T
        e[f"{h}.mlp.fc.bias"] = hf[f"{h}.mlp.c_fc.bias"]
        e[f"{h}.mlp.proj.weight"] = hf[f"{h}.mlp.c_proj.weight"].T
        e[f"{h}.mlp.proj.bias"] = hf[f"{h}.mlp.c_proj.bias"]
    return e


def to_bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even (as torch does)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def header(path):
    data = open(path, "rb").read()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n])


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def load_dump(args, kc, weights, tmp, label):
    out = tempfile.mkdtemp(dir=tmp)
    r = run([args.dump, kc, weights, out])
    check(r.returncode == 0, f"{label}: kiln-weights-dump failed: {r.stderr}")
    return out if r.returncode == 0 else None


def compare(out, expected, manifest_params, label):
    for p in manifest_params:
        got = np.fromfile(os.path.join(out, p["name"] + ".f32"), dtype=np.float32)
        want = np.ascontiguousarray(expected[p["name"]], dtype=np.float32).reshape(-1)
        check(got.shape == want.shape and np.array_equal(got, want),
              f"{label}: {p['name']} differs (max abs diff "
              f"{np.max(np.abs(got - want)) if got.shape == want.shape else 'shape'})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--make-artifact", required=True)
    ap.add_argument("--dump", required=True)
    args = ap.parse_args()
    rng = np.random.default_rng(20240501)
    m = manifest()
    params = m["parameters"]

    with tempfile.TemporaryDirectory() as tmp:
        code_section = os.path.join(tmp, "code.bin")
        with open(code_section, "wb") as f:
            f.write(b"\x7fELF" + bytes(1000))

        def make_artifact(manifest_json, name):
            """kiln-make-artifact of `manifest_json` with the stub code section: <tmp>/<name>.kc"""
            mpath = os.path.join(tmp, f"manifest-{name}.json")
            with open(mpath, "w") as f:
                json.dump(manifest_json, f)
            kc = os.path.join(tmp, f"{name}.kc")
            r = run([args.make_artifact, mpath, "-o", kc, "--section",
                     f"code/cpu-x86_64:code:{code_section}"])
            check(r.returncode == 0, f"kiln-make-artifact ({name}) failed: {r.stderr}")
            return kc

        kc = make_artifact(m, "gpt2")

        hf = hf_checkpoint(rng)
        want = expected_kiln(hf)

        # Hub layout: no prefix, causal-mask buffers, no lm_head.
        hub = dict(hf)
        for l in range(N_LAYER):
            hub[f"h.{l}.attn.bias"] = np.tril(np.ones((1, 1, N_POS, N_POS), np.float32))
        path = os.path.join(tmp, "hub.safetensors")
        save_file(hub, path, metadata={"format": "pt"})
        out = load_dump(args, kc, path, tmp, "hub layout")
        if out:
            compare(out, want, params, "hub layout")
            naming = open(os.path.join(out, "naming.txt")).read()
            check(naming.strip() == "hugging face", f"hub layout naming: {naming!r}")

        # save_pretrained of GPT2LMHeadModel: `transformer.` prefix, tied lm_head dropped.
        pretrained = {"transformer." + k: v for k, v in hf.items()}
        path = os.path.join(tmp, "model.safetensors")
        save_file(pretrained, path, metadata={"format": "pt"})
        out = load_dump(args, kc, path, tmp, "save_pretrained layout")
        if out:
            compare(out, want, params, "save_pretrained layout")
            naming = open(os.path.join(out, "naming.txt")).read()
            check("transformer." in naming, f"save_pretrained naming: {naming!r}")

        # A full state dict keeps the tied lm_head.weight: ignored.
        full = dict(pretrained)
        full["lm_head.weight"] = hf["wte.weight"]
        path = os.path.join(tmp, "full.safetensors")
        save_file(full, path)
        out = load_dump(args, kc, path, tmp, "state dict with lm_head")
        if out:
            compare(out, want, params, "state dict with lm_head")

        # Sharded, as save_pretrained writes checkpoints above its max_shard_size: shards and
        # model.safetensors.index.json made by huggingface_hub's splitter.
        from huggingface_hub.serialization import split_state_dict_into_shards_factory
        split = split_state_dict_into_shards_factory(
            pretrained, get_storage_size=lambda a: a.nbytes,
            filename_pattern="model{suffix}.safetensors", max_shard_size=8000)
        check(split.is_sharded and len(split.filename_to_tensors) > 2, "sharding: not sharded")
        shard_dir = os.path.join(tmp, "sharded")
        os.mkdir(shard_dir)
        for fname, names in split.filename_to_tensors.items():
            save_file({n: pretrained[n] for n in names}, os.path.join(shard_dir, fname),
                      metadata={"format": "pt"})
        index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
        index_path = os.path.join(shard_dir, "model.safetensors.index.json")
        with open(index_path, "w") as f:
            json.dump(index, f)
        for label, path in (("sharded (folder)", shard_dir), ("sharded (index)", index_path)):
            out = load_dump(args, kc, path, tmp, label)
            if out:
                compare(out, want, params, label)
        # An index that misplaces a tensor is refused.
        moved = dict(index["weight_map"])
        names = sorted(moved)
        moved[names[0]], moved[names[-1]] = moved[names[-1]], moved[names[0]]
        if moved != index["weight_map"]:
            bad_index = os.path.join(shard_dir, "bad.index.json")
            with open(bad_index, "w") as f:
                json.dump({"metadata": {}, "weight_map": moved}, f)
            r = run([args.dump, kc, bad_index, tmp])
            check(r.returncode == 1 and bad_index in r.stderr,
                  f"misplacing index: exit {r.returncode}: {r.stderr}")

        # f16 and bf16 checkpoints convert exactly to f32.
        half = {k: v.astype(np.float16) for k, v in pretrained.items()}
        path = os.path.join(tmp, "f16.safetensors")
        save_file(half, path)
        out = load_dump(args, kc, path, tmp, "f16")
        if out:
            compare(out, expected_kiln({k[12:]: v.astype(np.float32) for k, v in half.items()}),
                    params, "f16")
        bf = {k: to_bf16_bits(v) for k, v in pretrained.items()}
        path = os.path.join(tmp, "bf16.safetensors")
        # numpy has no bfloat16: hand the reference writer the raw bits as torch's "bfloat16".
        serialize_file({k: TensorSpec(dtype="bfloat16", shape=v.shape, data_ptr=v.ctypes.data,
                                      data_len=v.nbytes) for k, v in bf.items()}, path)
        check(header(path)["transformer.wte.weight"]["dtype"] == "BF16", "bf16 file dtype")
        out = load_dump(args, kc, path, tmp, "bf16")
        if out:
            compare(out, expected_kiln({k[12:]: from_bf16_bits(v) for k, v in bf.items()}),
                    params, "bf16")

        # Missing, unexpected and mis-shaped tensors: all named in one error.
        bad = dict(pretrained)
        del bad["transformer.h.1.mlp.c_fc.bias"]
        bad["transformer.h.0.mlp.extra.weight"] = np.zeros(3, np.float32)
        bad["transformer.wpe.weight"] = np.zeros((N_POS - 1, N_EMBD), np.float32)
        path = os.path.join(tmp, "bad.safetensors")
        save_file(bad, path)
        r = run([args.dump, kc, path, tmp])
        check(r.returncode == 1, f"bad checkpoint: exit {r.returncode}")
        for name in (path, "h.1.mlp.c_fc.bias", "transformer.h.0.mlp.extra.weight",
                     "transformer.wpe.weight"):
            check(name in r.stderr, f"bad checkpoint: {name} not in error: {r.stderr}")

        # Truncated and corrupted files are refused with the file's name.
        data = open(os.path.join(tmp, "model.safetensors"), "rb").read()
        for cut in (3, 100, len(data) - 10):
            path = os.path.join(tmp, f"cut{cut}.safetensors")
            open(path, "wb").write(data[:cut])
            r = run([args.dump, kc, path, tmp])
            check(r.returncode == 1 and path in r.stderr and
                  ("truncated" in r.stderr or "outside" in r.stderr),
                  f"truncated at {cut}: exit {r.returncode}: {r.stderr}")
        corrupt = bytearray(data)
        corrupt[10] = ord("[")
        path = os.path.join(tmp, "corrupt.safetensors")
        open(path, "wb").write(bytes(corrupt))
        r = run([args.dump, kc, path, tmp])
        check(r.returncode == 1 and path in r.stderr, f"corrupt header: {r.stderr}")

        # kiln init: read back by the reference reader.
        init3 = os.path.join(tmp, "init3.safetensors")
        r = run([args.kiln, "init", kc, "--seed", "3", "-o", init3])
        check(r.returncode == 0, f"kiln init failed: {r.stderr}")
        w = load_file(init3)
        check(list(w.keys()) == [p["name"] for p in params] or
              sorted(w.keys()) == sorted(p["name"] for p in params), "kiln init: names")
        for p in params:
            t = w.get(p["name"])
            if t is None:
                continue
            check(t.dtype == np.float32 and list(t.shape) == p["shape"],
                  f"kiln init: {p['name']} is {t.dtype} {t.shape}")
            if p["init"] == "ones":
                check(np.all(t == 1), f"kiln init: {p['name']} not ones")
            elif p["init"] == "zeros":
                check(np.all(t == 0), f"kiln init: {p['name']} not zeros")
            else:
                check(np.all(np.isfinite(t)) and abs(t.mean()) < 5 * p["std"] / np.sqrt(t.size),
                      f"kiln init: {p['name']} mean {t.mean()}")
                check(abs(t.std() / p["std"] - 1) < 6 / np.sqrt(2 * t.size),
                      f"kiln init: {p['name']} std {t.std()} vs {p['std']}")
        again = os.path.join(tmp, "init3b.safetensors")
        run([args.kiln, "init", kc, "--seed", "3", "-o", again])
        check(open(init3, "rb").read() == open(again, "rb").read(), "kiln init: not deterministic")
        init4 = os.path.join(tmp, "init4.safetensors")
        run([args.kiln, "init", kc, "--seed", "4", "-o", init4])
        w4 = load_file(init4)
        check(not np.array_equal(w4["wte.weight"], w["wte.weight"]), "kiln init: seed ignored")
        out = load_dump(args, kc, init3, tmp, "kiln-named init file")
        if out:
            compare(out, w, params, "kiln-named init file")
        r = run([args.kiln, "init", kc, "-o", "/nonexistent/dir/w.safetensors"])
        check(r.returncode == 1 and "/nonexistent/dir/w.safetensors" in r.stderr,
              f"kiln init to a missing folder: {r.returncode} {r.stderr}")

        # kiln info.
        r = run([args.kiln, "info", kc])
        check(r.returncode == 0, f"kiln info failed: {r.stderr}")
        total = sum(int(np.prod(p["shape"])) for p in params)
        for text in (f"parameters: {len(params)} tensors, {total} values",
                     "forward(ids: i32[batch, seq]) -> (logits: f32[batch, seq, 50])",
                     "cpu-x86_64: code section code/cpu-x86_64, 1004 bytes",
                     "n_embd = 16", "layer_norm_epsilon = 1e-05",
                     "h.0.attn.k.weight f32 [16, 16] normal(0, 0.02)  hf: h.0.attn.c_attn.weight "
                     "[slice 1/3 axis 1] (transposed)"):
            check(text in r.stdout, f"kiln info: missing {text!r} in:\n{r.stdout}")
        kcdata = open(kc, "rb").read()
        cut = os.path.join(tmp, "cut.kc")
        open(cut, "wb").write(kcdata[:len(kcdata) // 2])
        r = run([args.kiln, "info", cut])
        check(r.returncode == 1 and cut in r.stderr and "truncated" in r.stderr,
              f"kiln info on a truncated artifact: {r.returncode} {r.stderr}")
        flipped = bytearray(kcdata)
        flipped[len(kcdata) // 2] ^= 0x10
        open(cut, "wb").write(bytes(flipped))
        r = run([args.kiln, "info", cut])
        check(r.returncode == 1 and "corrupted" in r.stderr, f"kiln info on a flipped bit: {r.stderr}")
        for argv, code in ((["info"], 2), (["info", "--help"], 0), (["init", kc], 2),
                           (["init", kc, "--seed", "x", "-o", "w"], 2), (["info", "--bogus"], 2),
                           (["init", "--help"], 0), (["info", kc, kc], 2)):
            r = run([args.kiln] + argv)
            check(r.returncode == code, f"kiln {' '.join(argv)}: exit {r.returncode}, want {code}")

        # bf16 parameters: the linear weights (the matrices but the embeddings) as bf16 in the
        # parameter table. Loaded values are compared bit for bit with numpy's rounding.
        mb = manifest()
        for p in mb["parameters"]:
            if len(p["shape"]) == 2 and p["name"] not in ("wte.weight", "wpe.weight"):
                p["dtype"] = "bf16"
        bparams = mb["parameters"]
        check(sum(p["dtype"] == "bf16" for p in bparams) == 6 * N_LAYER, "bf16 table")
        kc16 = make_artifact(mb, "gpt2-bf16")

        def compare_mixed(out, expected, label):
            for p in bparams:
                want = np.ascontiguousarray(expected[p["name"]], dtype=np.float32).reshape(-1)
                if p["dtype"] == "bf16":
                    check(not os.path.exists(os.path.join(out, p["name"] + ".f32")),
                          f"{label}: {p['name']} dumped as f32")
                    got = np.fromfile(os.path.join(out, p["name"] + ".bf16"), dtype=np.uint16)
                    want = to_bf16_bits(want)
                else:
                    got = np.fromfile(os.path.join(out, p["name"] + ".f32"), dtype=np.float32)
                check(got.shape == want.shape and np.array_equal(got, want),
                      f"{label}: {p['name']} differs")

        for label, path, expected in (
                ("f32 hub checkpoint into bf16 parameters", os.path.join(tmp, "hub.safetensors"),
                 want),
                ("bf16 checkpoint into bf16 parameters", os.path.join(tmp, "bf16.safetensors"),
                 expected_kiln({k[12:]: from_bf16_bits(v) for k, v in bf.items()})),
                ("f16 checkpoint into bf16 parameters", os.path.join(tmp, "f16.safetensors"),
                 expected_kiln({k[12:]: v.astype(np.float32) for k, v in half.items()}))):
            out = load_dump(args, kc16, path, tmp, label)
            if out:
                compare_mixed(out, expected, label)

        # kiln init writes bf16 parameters as BF16: the f32 initial values (those of the f32
        # artifact, same seed and names) rounded to nearest even.
        init16 = os.path.join(tmp, "init16.safetensors")
        r = run([args.kiln, "init", kc16, "--seed", "3", "-o", init16])
        check(r.returncode == 0, f"kiln init (bf16) failed: {r.stderr}")
        total16 = sum(int(np.prod(p["shape"])) * (2 if p["dtype"] == "bf16" else 4)
                      for p in bparams)

        def human(n):
            return f"{n} B" if n < 10 * 1024 else f"{n / 1024:.1f} KiB"

        check(f"({total} values, {human(total16)})" in r.stderr,
              f"kiln init (bf16) size: {r.stderr}")
        if r.returncode == 0:
            data = open(init16, "rb").read()
            hdr = header(init16)
            start = 8 + int.from_bytes(data[:8], "little")
            for p in bparams:
                t = hdr[p["name"]]
                b, e = t["data_offsets"]
                if p["dtype"] == "bf16":
                    got = np.frombuffer(data[start + b:start + e], dtype=np.uint16)
                    check(t["dtype"] == "BF16" and np.array_equal(
                        got, to_bf16_bits(w[p["name"]]).reshape(-1)),
                        f"kiln init (bf16): {p['name']} is not the rounded f32 init")
                else:
                    got = np.frombuffer(data[start + b:start + e], dtype=np.float32)
                    check(t["dtype"] == "F32" and np.array_equal(got, w[p["name"]].reshape(-1)),
                          f"kiln init (bf16): {p['name']} differs from the f32 init")
            out = load_dump(args, kc16, init16, tmp, "bf16 init file")
            if out:
                compare_mixed(out, w, "bf16 init file")

        # kiln info shows each parameter's dtype and counts bf16 as 2 bytes.
        r = run([args.kiln, "info", kc16])
        check(r.returncode == 0, f"kiln info (bf16) failed: {r.stderr}")
        for text in (f"parameters: {len(bparams)} tensors, {total} values, {human(total16)}",
                     "h.0.attn.k.weight bf16 [16, 16] normal(0, 0.02)",
                     "h.0.ln_1.weight f32 [16] ones"):
            check(text in r.stdout, f"kiln info (bf16): missing {text!r} in:\n{r.stdout}")

        # A table dtype the runtime does not load is refused, naming the parameter.
        mf = manifest()
        mf["parameters"][1]["dtype"] = "f16"
        kcf16 = make_artifact(mf, "gpt2-f16")
        r = run([args.dump, kcf16, os.path.join(tmp, "hub.safetensors"), tmp])
        check(r.returncode == 1 and "parameter 'wpe.weight'" in r.stderr and "f16" in r.stderr,
              f"f16 table: exit {r.returncode}: {r.stderr}")
        r = run([args.kiln, "init", kcf16, "-o", os.path.join(tmp, "f16init.safetensors")])
        check(r.returncode == 1 and "parameter 'wpe.weight'" in r.stderr,
              f"kiln init (f16 table): exit {r.returncode}: {r.stderr}")

    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("ok: weights and kiln info/init agree with the safetensors reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
