#!/usr/bin/env python3
"""Whole-model numerics: small GPT-2, LLaMA and BERT models from examples/, through kilnc,
kiln-lower-to-linalg, mlir-opt and mlir-cpu-runner, against numpy models written from the
papers (GPT-2: Radford et al. 2019; LLaMA: Touvron et al. 2023 with RMSNorm, rotary
embeddings, grouped KV heads and SwiGLU; BERT: Devlin et al. 2019, post-norm, token types,
padding mask, pooler and MLM head; T5: Raffel et al. 2020, relative position buckets,
encoder-decoder cross-attention).

    model_numerics.py {gpt2,llama,bert,bert_pooler,t5} --kilnc PATH --kiln-opt PATH --examples DIR

The parameters get random values; each `kiln.param_ref` of `@forward` becomes an argument
of the kernel (the entry-point ABI that binds parameters is not part of this test).
"""
import argparse
import os
import re
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numerics as nx  # noqa: E402  (the op references and the compile-and-run driver)

BERT = ["num_hidden_layers=2", "hidden_size=16", "num_attention_heads=2", "vocab_size=23",
        "intermediate_size=24", "max_position_embeddings=12", "type_vocab_size=2"]
# model -> (example file, --set overrides, index of the @forward result compared)
MODELS = {
    "gpt2": ("gpt2", ["n_layer=2", "n_embd=16", "n_head=2", "vocab_size=23", "n_positions=12"], 0),
    "llama": ("llama", ["num_hidden_layers=2", "hidden_size=32", "num_attention_heads=4",
                        "num_key_value_heads=2", "vocab_size=23", "intermediate_size=40",
                        "rope_theta=500.0"], 0),
    "bert": ("bert", BERT, 2),  # MLM logits
    "bert_pooler": ("bert", BERT, 1),  # pooler output
    "t5": ("t5", ["num_layers=2", "num_decoder_layers=2", "d_model=16", "d_kv=4", "num_heads=2",
                  "d_ff=24", "vocab_size=23"], 0),
}


def gpt2_reference(p, ids, layers, heads):
    x = p["wte.weight"][ids] + p["wpe.weight"][np.arange(ids.shape[1])][None]
    d = x.shape[-1]
    for i in range(layers):
        w = lambda n: p[f"h.{i}.{n}"]  # noqa: E731
        h = nx.layer_norm(x, w("ln_1.weight"), w("ln_1.bias"), 1e-5)
        q, k, v = (h @ w(f"attn.{n}.weight").T + w(f"attn.{n}.bias") for n in "qkv")
        a = nx.attention(q, k, v, heads, heads, d // heads, 1 / np.sqrt(d // heads), causal=True)
        x = x + a @ w("attn.o.weight").T + w("attn.o.bias")
        h = nx.layer_norm(x, w("ln_2.weight"), w("ln_2.bias"), 1e-5)
        m = nx.gelu_tanh(h @ w("mlp.up.weight").T + w("mlp.up.bias"))
        x = x + m @ w("mlp.down.weight").T + w("mlp.down.bias")
    x = nx.layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], 1e-5)
    return x @ p["wte.weight"].T  # tied head


def llama_reference(p, ids, layers, heads, kv_heads, theta):
    x = p["embed_tokens.weight"][ids]
    d = x.shape[-1]
    hd = d // heads
    for i in range(layers):
        w = lambda n: p[f"layers.{i}.{n}"]  # noqa: E731
        h = nx.rms_norm(x, w("input_layernorm.weight"), 1e-5)
        q = nx.rotary(h @ w("self_attn.q_proj.weight").T, heads, hd, theta, 0)
        k = nx.rotary(h @ w("self_attn.k_proj.weight").T, kv_heads, hd, theta, 0)
        v = h @ w("self_attn.v_proj.weight").T
        a = nx.attention(q, k, v, heads, kv_heads, hd, 1 / np.sqrt(hd), causal=True)
        x = x + a @ w("self_attn.o_proj.weight").T
        h = nx.rms_norm(x, w("post_attention_layernorm.weight"), 1e-5)
        g = nx.silu(h @ w("mlp.gate_proj.weight").T) * (h @ w("mlp.up_proj.weight").T)
        x = x + g @ w("mlp.down_proj.weight").T
    x = nx.rms_norm(x, p["norm.weight"], 1e-5)
    return x @ p["lm_head.weight"].T


def bert_reference(p, ids, type_ids, mask, layers, heads):
    ln = lambda x, n: nx.layer_norm(x, p[f"{n}.weight"], p[f"{n}.bias"], 1e-12)  # noqa: E731
    dense = lambda x, n: x @ p[f"{n}.weight"].T + p[f"{n}.bias"]  # noqa: E731
    e = "embeddings."
    x = (p[e + "word_embeddings.weight"][ids] + p[e + "position_embeddings.weight"][None, :ids.shape[1]]
         + p[e + "token_type_embeddings.weight"][type_ids])
    x = ln(x, e + "LayerNorm")
    d = x.shape[-1]
    for i in range(layers):
        n = f"encoder.layer.{i}."
        q, k, v = (dense(x, n + f"attention.self.{w}") for w in ("query", "key", "value"))
        a = nx.attention(q, k, v, heads, heads, d // heads, 1 / np.sqrt(d // heads), mask=mask)
        x = ln(x + dense(a, n + "attention.output.dense"), n + "attention.output.LayerNorm")
        h = dense(nx.gelu(dense(x, n + "intermediate.dense")), n + "output.dense")
        x = ln(x + h, n + "output.LayerNorm")
    pooled = np.tanh(dense(x[:, 0], "pooler.dense"))
    t = ln(nx.gelu(dense(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
    logits = t @ p[e + "word_embeddings.weight"].T + p["cls.predictions.bias"]
    return x, pooled, logits


def t5_reference(p, ids, mask, decoder_ids, layers, heads, d_kv):
    """Raffel et al. 2020: pre-norm RMSNorm blocks, unscaled attention with bucketed relative
    position biases (computed by the first block, shared by the others), ReLU feed-forward,
    cross-attention to the encoder, tied head scaled by d_model^-0.5."""
    rms = lambda x, n: nx.rms_norm(x, p[f"{n}.weight"], 1e-6)  # noqa: E731
    lin = lambda x, n: x @ p[f"{n}.weight"].T  # noqa: E731

    def attend(x, kv, n, mask=None, bias=None, causal=False):
        q, k, v = lin(x, n + ".q"), lin(kv, n + ".k"), lin(kv, n + ".v")
        a = nx.attention(q, k, v, heads, heads, d_kv, 1.0, causal=causal, mask=mask, bias=bias)
        return lin(a, n + ".o")

    table = lambda n: p[f"{n}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]  # noqa: E731
    x = p["shared.weight"][ids]
    s, t = ids.shape[1], decoder_ids.shape[1]
    enc_bias = nx.relative_bias(s, s, table("encoder"), True, 32, 128)
    for i in range(layers):
        n = f"encoder.block.{i}.layer."
        x = x + attend(rms(x, n + "0.layer_norm"), rms(x, n + "0.layer_norm"), n + "0.SelfAttention",
                       mask=mask, bias=enc_bias)
        h = rms(x, n + "1.layer_norm")
        x = x + lin(np.maximum(lin(h, n + "1.DenseReluDense.wi"), 0), n + "1.DenseReluDense.wo")
    enc = rms(x, "encoder.final_layer_norm")
    y = p["shared.weight"][decoder_ids]
    dec_bias = nx.relative_bias(t, t, table("decoder"), False, 32, 128)
    for i in range(layers):
        n = f"decoder.block.{i}.layer."
        h = rms(y, n + "0.layer_norm")
        y = y + attend(h, h, n + "0.SelfAttention", bias=dec_bias, causal=True)
        y = y + attend(rms(y, n + "1.layer_norm"), enc, n + "1.EncDecAttention", mask=mask)
        h = rms(y, n + "2.layer_norm")
        y = y + lin(np.maximum(lin(h, n + "2.DenseReluDense.wi"), 0), n + "2.DenseReluDense.wo")
    y = rms(y, "decoder.final_layer_norm")
    return (y * y.shape[-1] ** -0.5) @ p["shared.weight"].T


def kernel_from_forward(mlir, output):
    """`@forward` returning only its result `output`, with each kiln.param_ref turned into a
    kernel argument after the model inputs; returns the kernel text and the parameter name of
    each added argument."""
    forward = re.search(r"  func\.func @forward\(.*?\n  \}\n", mlir, re.S).group(0)
    refs = re.findall(r"    (%\d+) = kiln\.param_ref @(\S+) : (tensor<[^>]*>)\n", forward)
    forward = re.sub(r"    %\d+ = kiln\.param_ref @\S+ : tensor<[^>]*>\n", "", forward)
    forward = re.sub(r" \{kiln\.(input|output) = \"[^\"]*\"\}", "", forward)
    header = re.match(r"  func\.func @forward\((.*?)\) -> \(?(.*?)\)? \{\n", forward)
    results = re.findall(r"tensor<[^>]*>", header.group(2))
    extra = "".join(f", {name}: {ty}" for name, _, ty in refs)
    forward = forward.replace(header.group(0),
                              f"  func.func @kernel({header.group(1)}{extra}) -> {results[output]} {{\n")
    ret = re.search(r"    return (.*) : (.*)\n", forward)
    values = [v.strip() for v in ret.group(1).split(",")]
    forward = forward.replace(ret.group(0), f"    return {values[output]} : {results[output]}\n")
    return forward.replace("\n  ", "\n").strip() + "\n", [n for _, n, _ in refs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--kilnc", required=True)
    parser.add_argument("--kiln-opt", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--llvm-bin", default=os.environ.get("KILN_LLVM_BIN", "/usr/lib/llvm-19/bin"))
    parser.add_argument("--llvm-lib", default=os.environ.get("KILN_LLVM_LIB", "/usr/lib/llvm-19/lib"))
    args = parser.parse_args()

    example, overrides, output = MODELS[args.model]
    sets = [a for s in overrides for a in ("--set", s)]
    mlir = nx.run([args.kilnc, os.path.join(args.examples, f"{example}.kiln"), "--emit=mlir"] + sets)
    shapes = {name: tuple(int(d) for d in dims.split("x"))
              for name, dims in re.findall(r"kiln\.param @(\S+) : tensor<([\dx]+)xf32>", mlir)}
    rng = np.random.default_rng(7)
    params = {}
    for name, shape in shapes.items():
        value = rng.standard_normal(shape) * (0.3 if len(shape) == 2 else 0.1)
        if "norm" in name or "ln_" in name or "LayerNorm" in name:
            value = value + (1.0 if name.endswith("weight") else 0.0)
        params[name] = value.astype(np.float32)
    ids = rng.integers(0, 23, size=(2, 7)).astype(np.int32)

    kernel_text, names = kernel_from_forward(mlir, output)
    p64 = {n: v.astype(np.float64) for n, v in params.items()}
    if example == "gpt2":
        model_inputs = [ids]
        reference = gpt2_reference(p64, ids, 2, 2)
    elif example == "llama":
        model_inputs = [ids]
        reference = llama_reference(p64, ids, 2, 4, 2, 500.0)
    elif example == "t5":
        mask = np.ones(ids.shape, np.int32)
        mask[0, 6:] = 0  # right padding in the first source sequence
        decoder_ids = rng.integers(0, 23, size=(2, 5)).astype(np.int32)
        model_inputs = [ids, mask, decoder_ids]
        reference = t5_reference(p64, ids, mask, decoder_ids, 2, 2, 4)
    else:
        type_ids = rng.integers(0, 2, size=ids.shape).astype(np.int32)
        mask = np.ones(ids.shape, np.int32)
        mask[1, 5:] = 0  # right padding in the second sequence
        model_inputs = [ids, type_ids, mask]
        reference = bert_reference(p64, ids, type_ids, mask, 2, 2)[output]
    inputs = model_inputs + [params[n] for n in names]

    nx.CASES[args.model] = lambda: (kernel_text, inputs, reference, 5e-5)
    ok = nx.run_case(args.model, args)
    print(f"{int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
