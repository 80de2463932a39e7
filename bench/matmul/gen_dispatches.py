#!/usr/bin/env python3
"""Writes the GPT-2 124M matmul dispatches (linalg on tensors) that bench/matmul measures.

Each dispatch is named mm_M<m>_K<k>_N<n>[_tb][_bias_gelu]:
  plain       C[M,N] = A[M,K] @ B[K,N]
  _tb         C[M,N] = A[M,K] @ B[N,K]^T       (lm head: the tied embedding, nn.Linear layout)
  _bias_gelu  C[M,N] = gelu_tanh(A @ B + bias)  (the MLP's first matmul with its epilogue)

--layout picks how the layers' weights (all but the lm head's) are stored: kn (B[K,N], what
BLAS benchmarks usually measure), nk (B[N,K]: nn.Linear's layout, the one `kiln.linear` reads,
so what a model's prefill runs) or both.
"""
import argparse

TOKENS = [1, 64, 128]
SHAPES = [(768, 2304, "qkv"), (768, 768, "attn proj"), (768, 3072, "fc"), (3072, 768, "proj")]
LM_HEAD = (768, 50257)

GELU = """  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    %half = arith.constant 0.5 : f32
    %c = arith.constant 0.7978845608028654 : f32
    %k = arith.constant 0.044715 : f32
    %one = arith.constant 1.0 : f32
    %s2 = arith.mulf %s, %s : f32
    %s3 = arith.mulf %s2, %s : f32
    %t1 = arith.mulf %k, %s3 : f32
    %t2 = arith.addf %s, %t1 : f32
    %t3 = arith.mulf %c, %t2 : f32
    %th = math.tanh %t3 : f32
    %t4 = arith.addf %one, %th : f32
    %t5 = arith.mulf %s, %t4 : f32
    %r = arith.mulf %half, %t5 : f32
    linalg.yield %r : f32"""


def matmul(m, k, n, tb=False, bias_gelu=False):
    name = f"mm_M{m}_K{k}_N{n}" + ("_tb" if tb else "") + ("_bias_gelu" if bias_gelu else "")
    a, c = f"tensor<{m}x{k}xf32>", f"tensor<{m}x{n}xf32>"
    b = f"tensor<{n}x{k}xf32>" if tb else f"tensor<{k}x{n}xf32>"
    op = "linalg.matmul_transpose_b" if tb else "linalg.matmul"
    args = f"%a: {a}, %b: {b}" + (f", %bias: tensor<{n}xf32>" if bias_gelu else "")
    out = [f"func.func @{name}({args}) -> {c} {{",
           f"  %e = tensor.empty() : {c}",
           "  %zero = arith.constant 0.0 : f32",
           f"  %f = linalg.fill ins(%zero : f32) outs(%e : {c}) -> {c}",
           f"  %m = {op} ins(%a, %b : {a}, {b}) outs(%f : {c}) -> {c}"]
    if bias_gelu:
        out += ["  %g = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, "
                "affine_map<(i, j) -> (j)>, affine_map<(i, j) -> (i, j)>], "
                "iterator_types = [\"parallel\", \"parallel\"]} "
                f"ins(%m, %bias : {c}, tensor<{n}xf32>) outs(%e : {c}) {{",
                GELU, f"  }} -> {c}", f"  return %g : {c}"]
    else:
        out.append(f"  return %m : {c}")
    out.append("}")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--no-lm-head", action="store_true")
    p.add_argument("--tokens", default=",".join(map(str, TOKENS)))
    p.add_argument("--layout", choices=["kn", "nk", "both"], default="kn")
    args = p.parse_args()
    layouts = {"kn": [False], "nk": [True], "both": [False, True]}[args.layout]
    funcs = []
    for m in [int(t) for t in args.tokens.split(",")]:
        for tb in layouts:
            for k, n, _ in SHAPES:
                funcs.append(matmul(m, k, n, tb=tb))
            funcs.append(matmul(m, 768, 3072, tb=tb, bias_gelu=True))
        if not args.no_lm_head:
            funcs.append(matmul(m, LM_HEAD[0], LM_HEAD[1], tb=True))
    print("\n\n".join(funcs))


if __name__ == "__main__":
    main()
