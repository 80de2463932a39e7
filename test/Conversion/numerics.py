#!/usr/bin/env python3
"""Numerics of kiln-lower-to-linalg against numpy references written from the papers.

Each case is a small kiln function `@kernel` (dynamic batch/sequence sizes) and a numpy
reference. The driver lowers the kernel with `kiln-opt --kiln-lower-to-linalg`, adds a
`@main` that calls it on random inputs (static constants cast to the dynamic types) and
prints the result, compiles it with `mlir-opt` to LLVM, runs it with `mlir-cpu-runner`, and
compares the printed values with the reference (float64 numpy).

    numerics.py CASE [CASE...] --kiln-opt PATH [--llvm-bin DIR]

Prints one line per case: `CASE: maxdiff=... tol=... ok|FAIL`; exits 1 when any case fails.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

# ----------------------------------------------------------------------------------------------
# References (float64), written from the papers / the Hugging Face definitions they cite.
# ----------------------------------------------------------------------------------------------

_erf = np.vectorize(math.erf)


def gelu(x):  # Hendrycks & Gimpel 2016, exact form
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh(x):  # the tanh approximation (GPT-2 "gelu_new")
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def layer_norm(x, g, b, eps):  # Ba et al. 2016, biased variance
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def rms_norm(x, g, eps):  # Zhang & Sennrich 2019
    return x / np.sqrt((x**2).mean(-1, keepdims=True) + eps) * g


def softmax(s, axis=-1):
    s = s - s.max(axis=axis, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=axis, keepdims=True)


def sinusoidal(batch, seq, dim, base):  # Vaswani et al. 2017, sin at 2i, cos at 2i+1
    pe = np.zeros((seq, dim))
    pos = np.arange(seq)[:, None]
    i = np.arange(0, dim, 2)[None, :]
    pe[:, 0::2] = np.sin(pos / base ** (i / dim))
    pe[:, 1::2] = np.cos(pos / base ** (i / dim))
    return np.broadcast_to(pe, (batch, seq, dim))


def rotary(x, heads, head_dim, theta, offset):  # Su et al. 2021, rotate-half layout
    b, s, _ = x.shape
    xh = x.reshape(b, s, heads, head_dim)
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2) / head_dim)
    freqs = np.outer(np.arange(offset, offset + s), inv_freq)  # [s, Dh/2]
    emb = np.concatenate([freqs, freqs], axis=-1)[None, :, None, :]
    half = head_dim // 2
    rot = np.concatenate([-xh[..., half:], xh[..., :half]], axis=-1)
    return (xh * np.cos(emb) + rot * np.sin(emb)).reshape(b, s, heads * head_dim)


def attention(q, k, v, heads, kv_heads, head_dim, scale, causal=False, mask=None, bias=None):
    """Vaswani et al. 2017 scaled dot-product attention; grouped KV heads (Ainslie et al.
    2023); masked scores at the lowest finite value (as Hugging Face does)."""
    b, s, _ = q.shape
    t = k.shape[1]
    qh = q.reshape(b, s, heads, head_dim).transpose(0, 2, 1, 3)
    kh = k.reshape(b, t, kv_heads, head_dim).transpose(0, 2, 1, 3)
    vh = v.reshape(b, t, kv_heads, head_dim).transpose(0, 2, 1, 3)
    group = heads // kv_heads
    kh = np.repeat(kh, group, axis=1)
    vh = np.repeat(vh, group, axis=1)
    scores = scale * qh @ kh.transpose(0, 1, 3, 2)  # [b, h, s, t]
    if bias is not None:
        scores = scores + bias[None]
    hidden = np.zeros((b, 1, s, t), dtype=bool)
    if mask is not None:
        hidden |= (mask == 0)[:, None, None, :]
    if causal:
        i = np.arange(s)[:, None]
        j = np.arange(t)[None, :]
        hidden |= (j > i + (t - s))[None, None]
    scores = np.where(hidden, np.finfo(np.float32).min, scores)
    out = softmax(scores) @ vh  # [b, h, s, d]
    return out.transpose(0, 2, 1, 3).reshape(b, s, heads * head_dim)


def t5_bucket(rel, bidirectional, num_buckets, max_distance):
    """Raffel et al. 2020 (T5) relative position buckets, in float32 like the reference
    implementation."""
    ret = np.zeros_like(rel)
    n = num_buckets
    if bidirectional:
        n //= 2
        ret += (rel > 0).astype(rel.dtype) * n
        a = np.abs(rel)
    else:
        a = -np.minimum(rel, 0)
    max_exact = n // 2
    is_small = a < max_exact
    with np.errstate(divide="ignore", invalid="ignore"):  # a = 0: unused
        large = max_exact + (
            np.log(a.astype(np.float32) / np.float32(max_exact))
            / np.float32(math.log(max_distance / max_exact))
            * np.float32(n - max_exact)
        ).astype(np.int64)
    large = np.minimum(large, n - 1)
    return ret + np.where(is_small, a, large)


def relative_bias(s, t, table, bidirectional, num_buckets, max_distance):
    rel = np.arange(t)[None, :] - np.arange(s)[:, None]
    buckets = t5_bucket(rel.astype(np.int64), bidirectional, num_buckets, max_distance)
    return table[buckets].transpose(2, 0, 1)  # [H, S, T]


def cross_entropy(logits, labels, ignore_index=-100, shift=False):
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    logits = logits.reshape(-1, logits.shape[-1])
    labels = labels.reshape(-1)
    keep = labels != ignore_index
    m = logits.max(-1, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(-1, keepdims=True))
    picked = logp[np.arange(len(labels)), np.where(keep, labels, 0)]
    return np.array(-(picked * keep).sum() / keep.sum())


# ----------------------------------------------------------------------------------------------
# Cases: (kernel MLIR, inputs, reference output, tolerance)
# ----------------------------------------------------------------------------------------------

rng = np.random.default_rng(1234)


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def kernel(args, result, body):
    sig = ", ".join(f"%{n}: {t}" for n, t in args)
    return f"func.func @kernel({sig}) -> {result} {{\n{body}\n}}\n"


def case_elementwise():
    x, y = f32(2, 3, 8), f32(2, 3, 8)
    t = "tensor<?x?x8xf32>"
    body = f"""
  %a = kiln.add %x, %y : {t}
  %m = kiln.mul %a, %y : {t}
  %s = kiln.scale %m {{factor = 0.75}} : {t}
  %d = kiln.dropout %s {{rate = 0.1}} : {t}
  %g = kiln.activation gelu %d : {t}
  %h = kiln.activation gelu_tanh %x : {t}
  %r = kiln.activation relu %y : {t}
  %u = kiln.activation silu %h : {t}
  %v = kiln.activation tanh %r : {t}
  %w = kiln.add %g, %u : {t}
  %z = kiln.mul %w, %v : {t}
  return %z : {t}"""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    g = gelu((x64 + y64) * y64 * 0.75)
    u = silu(gelu_tanh(x64))
    v = np.tanh(np.maximum(y64, 0))
    return kernel([("x", t), ("y", t)], t, body), [x, y], (g + u) * v, 2e-5


def case_layer_norm():
    x, g, b = f32(2, 5, 16, scale=3.0), f32(16), f32(16)
    x = x + 4.0  # a large mean: the two-pass variance must stay accurate
    t = "tensor<?x?x16xf32>"
    body = f"""
  %0 = kiln.layer_norm %x, %g, %b {{eps = 1.0e-5}} : {t}, tensor<16xf32>
  return %0 : {t}"""
    args = [("x", t), ("g", "tensor<16xf32>"), ("b", "tensor<16xf32>")]
    ref = layer_norm(x.astype(np.float64), g, b, 1e-5)
    return kernel(args, t, body), [x, g, b], ref, 2e-5


def case_rms_norm():
    x, g = f32(2, 5, 16, scale=2.0), f32(16)
    t = "tensor<?x?x16xf32>"
    body = f"""
  %0 = kiln.rms_norm %x, %g {{eps = 1.0e-6}} : {t}, tensor<16xf32>
  return %0 : {t}"""
    ref = rms_norm(x.astype(np.float64), g, 1e-6)
    return kernel([("x", t), ("g", "tensor<16xf32>")], t, body), [x, g], ref, 2e-5


def case_linear():
    x, w, b = f32(2, 3, 16), f32(24, 16), f32(24)
    w2 = f32(5, 24)
    body = """
  %0 = kiln.linear %x, %w, %b : tensor<?x?x16xf32>, tensor<24x16xf32>, tensor<24xf32> -> tensor<?x?x24xf32>
  %1 = kiln.linear %0, %w2 : tensor<?x?x24xf32>, tensor<5x24xf32> -> tensor<?x?x5xf32>
  return %1 : tensor<?x?x5xf32>"""
    args = [("x", "tensor<?x?x16xf32>"), ("w", "tensor<24x16xf32>"), ("b", "tensor<24xf32>"),
            ("w2", "tensor<5x24xf32>")]
    ref = (x.astype(np.float64) @ w.T.astype(np.float64) + b) @ w2.T.astype(np.float64)
    return kernel(args, "tensor<?x?x5xf32>", body), [x, w, b, w2], ref, 2e-5


def case_linear_vector():
    x, w, b = f32(8), f32(3, 8), f32(3)
    body = """
  %0 = kiln.linear %x, %w, %b : tensor<8xf32>, tensor<3x8xf32>, tensor<3xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>"""
    args = [("x", "tensor<8xf32>"), ("w", "tensor<3x8xf32>"), ("b", "tensor<3xf32>")]
    ref = w.astype(np.float64) @ x.astype(np.float64) + b
    return kernel(args, "tensor<3xf32>", body), [x, w, b], ref, 2e-5


def case_embeddings():
    ids = rng.integers(0, 50, size=(2, 6)).astype(np.int32)
    types = rng.integers(0, 2, size=(2, 6)).astype(np.int32)
    wte, wpe, tte = f32(50, 8), f32(16, 8), f32(2, 8)
    t = "tensor<?x?x8xf32>"
    body = f"""
  %0 = kiln.embedding %ids, %wte : tensor<?x?xi32>, tensor<50x8xf32> -> {t}
  %1 = kiln.position_embedding %ids, %wpe {{offset = 3}} : tensor<?x?xi32>, tensor<16x8xf32> -> {t}
  %2 = kiln.embedding %types, %tte : tensor<?x?xi32>, tensor<2x8xf32> -> {t}
  %3 = kiln.sinusoidal_positions %ids {{dim = 8, base = 100.0}} : tensor<?x?xi32> -> {t}
  %4 = kiln.add %0, %1 : {t}
  %5 = kiln.add %4, %2 : {t}
  %6 = kiln.add %5, %3 : {t}
  return %6 : {t}"""
    args = [("ids", "tensor<?x?xi32>"), ("types", "tensor<?x?xi32>"), ("wte", "tensor<50x8xf32>"),
            ("wpe", "tensor<16x8xf32>"), ("tte", "tensor<2x8xf32>")]
    ref = wte[ids] + wpe[np.arange(3, 9)][None] + tte[types] + sinusoidal(2, 6, 8, 100.0)
    return kernel(args, t, body), [ids, types, wte, wpe, tte], ref.astype(np.float64), 2e-5


def case_rotary():
    x = f32(2, 7, 32)
    t = "tensor<?x?x32xf32>"
    body = f"""
  %0 = kiln.rotary %x {{num_heads = 4, head_dim = 8, theta = 10000.0}} : {t}
  %1 = kiln.rotary %x {{num_heads = 2, head_dim = 16, theta = 500.0, offset = 5}} : {t}
  %2 = kiln.mul %0, %1 : {t}
  return %2 : {t}"""
    x64 = x.astype(np.float64)
    ref = rotary(x64, 4, 8, 10000.0, 0) * rotary(x64, 2, 16, 500.0, 5)
    return kernel([("x", t)], t, body), [x], ref, 2e-5


def case_attention_causal_gqa_mask():
    heads, kv_heads, hd = 4, 2, 8
    q, k, v = f32(2, 6, heads * hd), f32(2, 6, kv_heads * hd), f32(2, 6, kv_heads * hd)
    mask = np.ones((2, 6), np.int32)
    mask[1, 4:] = 0  # right padding in the second sequence
    mask[0, 0] = 0  # query 0 of the first sequence sees no key: a uniform row
    scale = 1.0 / math.sqrt(hd)
    body = f"""
  %0 = kiln.attention %q, %k, %v mask(%m : tensor<?x?xi32>) {{num_heads = {heads}, num_kv_heads = {kv_heads}, head_dim = {hd}, causal, scale = {scale!r}}} : tensor<?x?x32xf32>, tensor<?x?x16xf32>
  return %0 : tensor<?x?x32xf32>"""
    args = [("q", "tensor<?x?x32xf32>"), ("k", "tensor<?x?x16xf32>"), ("v", "tensor<?x?x16xf32>"),
            ("m", "tensor<?x?xi32>")]
    ref = attention(*(a.astype(np.float64) for a in (q, k, v)), heads, kv_heads, hd, scale,
                    causal=True, mask=mask)
    return kernel(args, "tensor<?x?x32xf32>", body), [q, k, v, mask], ref, 2e-5


def case_attention_cross_bias():
    # Multi-query (one KV head), T5-style unscaled scores with a relative bias, and causal
    # masking aligned to the last key (3 queries after 2 cached keys).
    heads, hd = 2, 8
    q, k, v = f32(2, 3, 16), f32(2, 5, 8), f32(2, 5, 8)
    table = f32(8, heads)
    body = """
  %b = kiln.relative_position_bias %q, %k, %t {num_buckets = 8, max_distance = 16, bidirectional, num_heads = 2} : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<8x2xf32> -> tensor<2x?x?xf32>
  %0 = kiln.attention %q, %k, %v bias(%b : tensor<2x?x?xf32>) {num_heads = 2, num_kv_heads = 1, head_dim = 8, causal, scale = 1.0} : tensor<?x?x16xf32>, tensor<?x?x8xf32>
  return %0 : tensor<?x?x16xf32>"""
    args = [("q", "tensor<?x?x16xf32>"), ("k", "tensor<?x?x8xf32>"), ("v", "tensor<?x?x8xf32>"),
            ("t", "tensor<8x2xf32>")]
    bias = relative_bias(3, 5, table.astype(np.float64), True, 8, 16)
    ref = attention(*(a.astype(np.float64) for a in (q, k, v)), heads, 1, hd, 1.0, causal=True,
                    bias=bias)
    return kernel(args, "tensor<?x?x16xf32>", body), [q, k, v, table], ref, 2e-5


def case_relative_position_bias():
    table_b, table_u = f32(32, 3), f32(16, 3)
    x = f32(1, 40, 4)
    y = f32(1, 150, 4)
    body = """
  %0 = kiln.relative_position_bias %x, %y, %tb {num_buckets = 32, max_distance = 128, bidirectional, num_heads = 3} : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<32x3xf32> -> tensor<3x?x?xf32>
  %1 = kiln.relative_position_bias %y, %x, %tu {num_buckets = 16, max_distance = 64, num_heads = 3} : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<16x3xf32> -> tensor<3x?x?xf32>
  %z = arith.constant 0 : index
  %s0 = tensor.extract_slice %0[0, 0, 0] [3, 40, 40] [1, 1, 1] : tensor<3x?x?xf32> to tensor<3x40x40xf32>
  %s1 = tensor.extract_slice %1[0, 0, 0] [3, 40, 40] [1, 1, 1] : tensor<3x?x?xf32> to tensor<3x40x40xf32>
  %r = kiln.add %s0, %s1 : tensor<3x40x40xf32>
  return %r : tensor<3x40x40xf32>"""
    # Distances up to 149 cover the exact, logarithmic and clamped buckets.
    b = relative_bias(40, 150, table_b.astype(np.float64), True, 32, 128)[:, :, :40]
    u = relative_bias(150, 40, table_u.astype(np.float64), False, 16, 64)[:, :40, :40]
    args = [("x", "tensor<?x?x4xf32>"), ("y", "tensor<?x?x4xf32>"), ("tb", "tensor<32x3xf32>"),
            ("tu", "tensor<16x3xf32>")]
    ref = b + u
    return kernel(args, "tensor<3x40x40xf32>", body), [x, y, table_b, table_u], ref, 2e-5


def case_relative_position_far():
    table = f32(32, 2)
    x, y = f32(1, 2, 4), f32(1, 300, 4)
    body = """
  %0 = kiln.relative_position_bias %x, %y, %t {num_buckets = 32, max_distance = 128, bidirectional, num_heads = 2} : tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<32x2xf32> -> tensor<2x?x?xf32>
  return %0 : tensor<2x?x?xf32>"""
    ref = relative_bias(2, 300, table.astype(np.float64), True, 32, 128)
    args = [("x", "tensor<?x?x4xf32>"), ("y", "tensor<?x?x4xf32>"), ("t", "tensor<32x2xf32>")]
    return kernel(args, "tensor<2x?x?xf32>", body), [x, y, table], ref, 2e-5


def case_pool():
    x = f32(3, 5, 8)
    mask = np.ones((3, 5), np.int32)
    mask[1, 2:] = 0
    mask[2, :] = 0  # no token: the mean is 0 (count clamped to 1e-9)
    t = "tensor<?x?x8xf32>"
    body = f"""
  %0 = kiln.pool first %x : {t} -> tensor<?x8xf32>
  %1 = kiln.pool mean %x mask(%m : tensor<?x?xi32>) : {t} -> tensor<?x8xf32>
  %2 = kiln.pool mean %x : {t} -> tensor<?x8xf32>
  %3 = kiln.add %0, %1 : tensor<?x8xf32>
  %4 = kiln.mul %3, %2 : tensor<?x8xf32>
  return %4 : tensor<?x8xf32>"""
    x64 = x.astype(np.float64)
    m = mask.astype(np.float64)[..., None]
    mean_masked = (x64 * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    ref = (x64[:, 0] + mean_masked) * x64.mean(1)
    return kernel([("x", t), ("m", "tensor<?x?xi32>")], "tensor<?x8xf32>", body), [x, mask], ref, 2e-5


def case_cross_entropy_lm():
    logits = f32(2, 6, 11, scale=4.0) + 30.0  # large logits: the log-softmax must be stable
    labels = rng.integers(0, 11, size=(2, 6)).astype(np.int32)
    labels[0, 3] = -100
    labels[1, 5] = -100
    body = """
  %0 = kiln.cross_entropy %l, %y {shift} : tensor<?x?x11xf32>, tensor<?x?xi32> -> tensor<f32>
  return %0 : tensor<f32>"""
    ref = cross_entropy(logits.astype(np.float64), labels, shift=True)
    args = [("l", "tensor<?x?x11xf32>"), ("y", "tensor<?x?xi32>")]
    return kernel(args, "tensor<f32>", body), [logits, labels], ref, 2e-5


def case_cross_entropy_classification():
    logits = f32(5, 3)
    labels = np.array([0, 2, 1, 7, 2], np.int32)
    body = """
  %0 = kiln.cross_entropy %l, %y {ignore_index = 7} : tensor<?x3xf32>, tensor<?xi32> -> tensor<f32>
  return %0 : tensor<f32>"""
    ref = cross_entropy(logits.astype(np.float64), labels, ignore_index=7)
    args = [("l", "tensor<?x3xf32>"), ("y", "tensor<?xi32>")]
    return kernel(args, "tensor<f32>", body), [logits, labels], ref, 2e-5


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

# ----------------------------------------------------------------------------------------------
# Compile and run
# ----------------------------------------------------------------------------------------------

PIPELINE = [
    "--one-shot-bufferize=bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map",
    "--convert-linalg-to-loops", "--expand-strided-metadata", "--lower-affine",
    "--convert-scf-to-cf", "--convert-math-to-libm", "--convert-math-to-llvm",
    "--convert-arith-to-llvm", "--convert-index-to-llvm", "--finalize-memref-to-llvm",
    "--convert-cf-to-llvm", "--convert-func-to-llvm", "--reconcile-unrealized-casts",
]


def dense(array):
    if array.dtype == np.int32:
        body = np.array2string(array, separator=", ", threshold=sys.maxsize)
        return f"dense<{body}> : tensor<{'x'.join(map(str, array.shape))}xi32>"
    values = [repr(float(v)) for v in array.reshape(-1)]
    nested = np.array(values, dtype=object).reshape(array.shape)

    def fmt(a):
        return "[" + ", ".join(fmt(x) if isinstance(x, np.ndarray) else x for x in a) + "]"

    return f"dense<{fmt(nested)}> : tensor<{'x'.join(map(str, array.shape))}xf32>"


def main_function(kernel_text, inputs):
    header = re.search(r"func\.func @kernel\((.*)\) -> (\S+) \{", kernel_text)
    arg_types = re.findall(r"%\w+: (tensor<[^>]*>)", header.group(1))
    result_type = header.group(2).strip("()")
    lines = ["  func.func private @printMemrefF32(memref<*xf32>)",
             "  func.func @print(%t: tensor<*xf32>) {",
             "    %m = bufferization.to_memref %t : memref<*xf32>",
             "    call @printMemrefF32(%m) : (memref<*xf32>) -> ()",
             "    return", "  }", "  func.func @main() {"]
    names = []
    for i, (array, arg_type) in enumerate(zip(inputs, arg_types)):
        static = dense(array)
        static_type = static.rsplit(" : ", 1)[1]
        lines.append(f"    %c{i} = arith.constant {static}")
        name = f"%c{i}"
        if static_type != arg_type:
            lines.append(f"    %a{i} = tensor.cast %c{i} : {static_type} to {arg_type}")
            name = f"%a{i}"
        names.append(name)
    lines.append(f"    %r = call @kernel({', '.join(names)}) : ({', '.join(arg_types)}) -> {result_type}")
    lines.append(f"    %u = tensor.cast %r : {result_type} to tensor<*xf32>")
    lines.append("    call @print(%u) : (tensor<*xf32>) -> ()")
    lines.append("    return")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def run(cmd, stdin=None):
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def run_case(name, args):
    kernel_text, inputs, reference, tol = CASES[name]()
    lowered = run([args.kiln_opt, "--kiln-lower-to-linalg", "-"], kernel_text)
    # An op, not a discardable attribute such as kiln.input / kiln.dims on the signature.
    if re.search(r"(^|=)\s*\"?kiln\.[a-z_]+\"?[ (]", lowered, re.MULTILINE):
        raise RuntimeError(f"kiln ops survived the lowering:\n{lowered}")
    module = lowered.rstrip()
    assert module.endswith("}"), module[-200:]
    module = module[:-1] + main_function(kernel_text, inputs) + "}\n"
    llvm = run([os.path.join(args.llvm_bin, "mlir-opt"), "-"] + PIPELINE, module)
    libs = ",".join(os.path.join(args.llvm_lib, lib)
                    for lib in ("libmlir_c_runner_utils.so", "libmlir_runner_utils.so"))
    out = run([os.path.join(args.llvm_bin, "mlir-cpu-runner"), "-e", "main",
               "-entry-point-result=void", f"-shared-libs={libs}"], llvm)
    data = out.split("data =", 1)[1]
    values = np.array([float(v) for v in re.findall(r"-?(?:nan|inf|\d+\.?\d*(?:e[-+]?\d+)?)", data)])
    reference = np.asarray(reference, dtype=np.float64)
    if values.size != reference.size:
        raise RuntimeError(f"expected {reference.size} values, got {values.size}:\n{out[:2000]}")
    # Errors relative to the reference magnitude (printMemrefF32 prints 6 significant digits).
    diff = np.abs(values - reference.reshape(-1)) / np.maximum(1.0, np.abs(reference.reshape(-1)))
    maxdiff = float(diff.max()) if diff.size else 0.0
    ok = np.isfinite(values).all() and maxdiff <= tol
    print(f"{name}: maxdiff={maxdiff:.3e} tol={tol:.0e} {'ok' if ok else 'FAIL'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"cases to run (default all): {', '.join(CASES)}")
    parser.add_argument("--kiln-opt", required=True)
    parser.add_argument("--llvm-bin", default=os.environ.get("KILN_LLVM_BIN", "/usr/lib/llvm-19/bin"))
    parser.add_argument("--llvm-lib", default=os.environ.get("KILN_LLVM_LIB", "/usr/lib/llvm-19/lib"))
    args = parser.parse_args()
    names = args.cases or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    failed = 0
    for name in names:
        try:
            failed += not run_case(name, args)
        except RuntimeError as err:
            print(f"{name}: ERROR {err}")
            failed += 1
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
