"""Runs one dispatch of a CPU code blob on random inputs and compares it with numpy.

    run_dispatch.py --runner kiln-hal-run --blob d.so --dispatch NAME --ref REF
                    --inputs 64x768,768x2304,2304 --output 64x2304 [--threads N] [--tol T]

REF names a reference written here from the definitions (float64 numpy), not from Kiln's code:
  matmul            a @ b
  matmul_bias       a @ b + bias
  matmul_bias_gelu  gelu_tanh(a @ b + bias)      (GPT-2's GELU, tanh approximation)
  matmul_tb         a @ b.T                      (weight stored [N, K], as nn.Linear)
  matmul_tb_bias    a @ b.T + bias
  matmul_tb_bias_gelu  gelu_tanh(a @ b.T + bias)
  matmul_tb_add     a @ b.T + r                  (residual add)
  layer_norm        (x - mean) / sqrt(var + 1e-5) * gamma + beta over the last axis
  rms_norm          x / sqrt(mean(x^2) + 1e-5) * gamma over the last axis
  add               a + b
  softmax_rows      softmax over the last axis
  attn_scores       q [B,S,H,D], k [B,T,H,D] -> (q . k) / sqrt(D) as [B,H,S,T], -FLT_MAX where t > s
  attn_pv           p [B,H,S,T], v [B,T,H,D], l [B,H,S] -> (sum_t p v) / l as [B,S,H,D]
  bmm               a [B,M,K], b [B,K,N] -> a @ b
Inputs named by --bf16 (comma-separated indices) are stored as bfloat16: the random f32
values are rounded to the nearest bf16 (ties to even) here, written as 2-byte words, and the
reference reads the same rounded values, so the comparison checks the dispatch's widening and
arithmetic, not the rounding.
--int8 W:S quantizes input W ([N, K], a linear weight) symmetrically per row here: s = max|w| /
127 per row, q = round_half_even(w / s) clamped to [-127, 127] (numpy, f32); the dispatch gets
q as int8 bytes for input W and s for input S (whose --inputs shape is [N]), and the reference
reads W as q * s[:, None] and no input S, so REF is the formula of the unquantized layer.
Prints the max abs error and exits 1 when it exceeds the tolerance.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


REFERENCES = {
    "matmul": lambda a, b: a @ b,
    "matmul_bias": lambda a, b, bias: a @ b + bias,
    "matmul_bias_gelu": lambda a, b, bias: gelu_tanh(a @ b + bias),
    "matmul_tb": lambda a, b: a @ b.T,
    "matmul_tb_bias": lambda a, b, bias: a @ b.T + bias,
    "matmul_tb_bias_gelu": lambda a, b, bias: gelu_tanh(a @ b.T + bias),
    "matmul_tb_add": lambda a, b, r: a @ b.T + r,
    "layer_norm": lambda x, g, b: (x - x.mean(-1, keepdims=True))
    / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * g + b,
    "rms_norm": lambda x, g: x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * g,
    "add": lambda a, b: a + b,
    "attn_scores": lambda q, k: attn_scores(q, k),
    "attn_pv": lambda p, v, l: np.einsum("bhst,bthd->bshd", p, v) / l.transpose(0, 2, 1)[..., None],
    "bmm": lambda a, b: a @ b,
    "softmax_rows": lambda x: np.exp(x - x.max(-1, keepdims=True))
    / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


def attn_scores(q, k):
    s = np.einsum("bshd,bthd->bhst", q, k) / np.sqrt(q.shape[-1])
    seq, ctx = s.shape[-2], s.shape[-1]
    causal = np.arange(ctx)[None, :] > np.arange(seq)[:, None]
    return np.where(causal, -3.4028234663852886e38, s)


def round_to_bf16(x):
    """The nearest bfloat16 of each f32 (ties to even), as its 16-bit pattern."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def widen_bf16(words):
    return (words.astype(np.uint32) << 16).view(np.float32)


def quantize_int8_rows(w):
    """Symmetric per-row int8: (q int8 [N, K], s f32 [N]) with w ~ q * s[:, None]."""
    w = w.astype(np.float32)
    s = np.max(np.abs(w), axis=1) / np.float32(127)
    s = np.where(s == 0, np.float32(1), s).astype(np.float32)
    q = np.clip(np.rint(w / s[:, None]), -127, 127).astype(np.int8)
    return q, s


def shape(text):
    return tuple(int(d) for d in text.split("x"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runner", required=True)
    p.add_argument("--blob", required=True)
    p.add_argument("--dispatch", required=True)
    p.add_argument("--ref", required=True, choices=sorted(REFERENCES))
    p.add_argument("--inputs", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", default="2")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bf16", default="",
                   help="comma-separated input indices stored as bfloat16")
    p.add_argument("--int8", default="",
                   help="W:S: input W stored as int8 rows with their f32 scales in input S")
    p.add_argument("--positive", default="",
                   help="comma-separated input indices drawn from [0.5, 1.5) (divisors)")
    args = p.parse_args()

    rng = np.random.default_rng(args.seed)
    inputs = [rng.standard_normal(shape(s)).astype(np.float32) for s in args.inputs.split(",")]
    for i in filter(None, args.positive.split(",")):
        inputs[int(i)] = rng.uniform(0.5, 1.5, inputs[int(i)].shape).astype(np.float32)
    # Scale so that matmul outputs stay O(1) whatever K is.
    if args.ref.startswith("matmul"):
        inputs[1] /= np.sqrt(inputs[0].shape[-1])
    stored = list(inputs)
    for i in filter(None, args.bf16.split(",")):
        stored[int(i)] = round_to_bf16(inputs[int(i)])
        inputs[int(i)] = widen_bf16(stored[int(i)])
    if args.int8:
        w, s = (int(i) for i in args.int8.split(":"))
        q, scales = quantize_int8_rows(inputs[w])
        assert stored[s].shape == scales.shape, "--int8 W:S: S must be [N]"
        stored[w], stored[s] = q, scales
        inputs[w] = q.astype(np.float64) * scales.astype(np.float64)[:, None]
        del inputs[s]
    out_shape = shape(args.output)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [args.runner, args.blob, args.dispatch, "--threads", args.threads]
        for i, x in enumerate(stored):
            path = os.path.join(tmp, f"in{i}.bin")
            x.tofile(path)
            cmd.append("in:" + path)
        out_path = os.path.join(tmp, "out.bin")
        cmd.append("out:" + out_path)
        subprocess.run(cmd, check=True)
        got = np.fromfile(out_path, dtype=np.float32).reshape(out_shape)
    want = REFERENCES[args.ref](*[x.astype(np.float64) for x in inputs])
    err = float(np.max(np.abs(got - want)))
    print(f"{args.dispatch}: max abs error {err:.3g} (tolerance {args.tol:g})")
    if not err <= args.tol:
        print("FAIL: result differs from the numpy reference", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
