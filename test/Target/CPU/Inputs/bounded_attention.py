"""Runs attention's three position-bounded dispatches (scores, softmax statistics, PV) of a CPU
code blob at several positions and compares the result with numpy.

    bounded_attention.py --runner kiln-hal-run --blob d.so --prefix decode --heads 12
                         [--kv-heads 4] --head-dim 64 --queries 1 --capacity 1024
                         --positions 0,500,1023

The dispatches are PREFIX_scores(q, k_cache, position) -> scores,
PREFIX_softmax(scores, position) -> (exps, sums) and
PREFIX_pv(exps, v_cache, position, sums) -> out, as the kiln lowering forms them for a KV cache
of one layer [1, 1, capacity, kv_heads * head_dim]. With grouped KV heads (--kv-heads below
--heads) query head h reads KV head h // (heads / kv_heads); the lowering's [KV, G] head
dimensions are laid out as the [H] ones, so the same buffers serve both. The cache slots at and beyond position + queries
(unwritten) hold NaN, and every result buffer starts as NaN: the result must still equal the
reference, which is causal attention written from its definition (float64): query i, at
position p + i, sees keys j <= p + i.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def reference(q, k, v, p):
    # q [S, H, D], k / v [T, KV, D] (only the written slots): softmax(q k^T / sqrt(D)) v, query
    # head h reading KV head h // (H / KV) (Ainslie et al. 2023).
    s_count, heads, dim = q.shape
    group = heads // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    out = np.zeros_like(q)
    for i in range(s_count):
        keys = p + i + 1
        s = np.einsum("hd,thd->ht", q[i], k[:keys]) / np.sqrt(dim)
        w = np.exp(s - s.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        out[i] = np.einsum("ht,thd->hd", w, v[:keys])
    return out


def run(args, tmp, dispatch, bindings):
    cmd = [args.runner, args.blob, dispatch, "--threads", args.threads]
    for kind, name, array in bindings:
        path = os.path.join(tmp, name + ".bin")
        array.tofile(path)
        cmd.append(f"{kind}:{path}")
    subprocess.run(cmd, check=True)
    return [np.fromfile(os.path.join(tmp, name + ".bin"), dtype=array.dtype).reshape(array.shape)
            for kind, name, array in bindings if kind == "inout"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--blob", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--kv-heads", type=int, help="KV heads (default: --heads)")
    ap.add_argument("--head-dim", type=int, required=True)
    ap.add_argument("--queries", type=int, required=True)
    ap.add_argument("--capacity", type=int, required=True)
    ap.add_argument("--positions", required=True)
    ap.add_argument("--threads", default="2")
    ap.add_argument("--tol", type=float, default=2e-5)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    H, D, S, T = args.heads, args.head_dim, args.queries, args.capacity
    KV = args.kv_heads or H
    worst = 0.0
    failed = False
    for p in [int(x) for x in args.positions.split(",")]:
        q = rng.standard_normal((1, S, H, D)).astype(np.float32)
        k = rng.standard_normal((1, 1, T, KV * D)).astype(np.float32)
        v = rng.standard_normal((1, 1, T, KV * D)).astype(np.float32)
        k[:, :, p + S:] = np.nan
        v[:, :, p + S:] = np.nan
        pos = np.array([p], dtype=np.int32)
        nan = np.float32(np.nan)
        with tempfile.TemporaryDirectory() as tmp:
            (scores,) = run(args, tmp, args.prefix + "_scores",
                            [("in", "q", q), ("in", "k", k), ("in", "pos", pos),
                             ("inout", "scores", np.full((1, H, S, T), nan, np.float32))])
            exps, sums = run(args, tmp, args.prefix + "_softmax",
                             [("in", "scores", scores), ("in", "pos", pos),
                              ("inout", "exps", np.full((1, H, S, T), nan, np.float32)),
                              ("inout", "sums", np.full((1, H, S), nan, np.float32))])
            (out,) = run(args, tmp, args.prefix + "_pv",
                         [("in", "exps", exps), ("in", "v", v), ("in", "pos", pos),
                          ("in", "sums", sums),
                          ("inout", "out", np.full((1, S, H, D), nan, np.float32))])
        hd = lambda c: c[0, 0].reshape(T, KV, D).astype(np.float64)
        want = reference(q[0].astype(np.float64), hd(k), hd(v), p)
        err = float(np.max(np.abs(out[0] - want)))
        if not err <= args.tol:  # NaN fails too
            failed = True
        worst = max(worst, err) if err == err else float("nan")
        print(f"{args.prefix} position {p}: max abs error {err:.3g}")
    print(f"{args.prefix}: max abs error {worst:.3g} (tolerance {args.tol:g})")
    if failed:
        print("FAIL: result differs from the numpy reference", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
