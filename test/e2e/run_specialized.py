#!/usr/bin/env python3
"""End-to-end numerics of `forward` compiled for static sizes (`kilnc --specialize`): the entry
point cut into per-op dispatches (docs/dispatch.md), each compiled by the CPU target with its
own schedule and workgroups, replayed by `kiln run` over one arena of temporaries
(docs/artifact.md, "Schedules"). A ragged shape (batch 2, seq 7) so that no size is a multiple
of a tile.

GPT-2: the tiny config, Hugging Face weights and numpy GPT-2 of run_numerics.py. LLaMA: the
config and numpy LLaMA of test/Conversion/model_numerics.py (RMSNorm, rotary, grouped KV heads,
SwiGLU). Each checks that the artifact's forward schedule really is cut (dispatch count,
temporaries in an arena, multi-workgroup matmuls), that the logits match the reference with 1
and 2 threads, and that inputs of other sizes are refused with an error naming the entry
point, the size, the compiled and the given value. GPT-2's prefill / decode are specialized
too: `kiln generate` (batch 1) refuses the batch-2 artifact by name, and a batch-1 artifact
(prefill chunk 4, so a 5-token prompt takes a chunk at 0 and an overlapping one at 1) generates
the numpy model's greedy tokens.

    run_specialized.py [--model gpt2|llama] --kilnc PATH --kiln PATH --examples DIR --workdir DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "Conversion"))
import model_numerics as mn  # noqa: E402
import run_numerics as rn  # noqa: E402

BATCH, SEQ = 2, 7


def forward_schedule(path):
    """The forward schedule section of an artifact (JSON with sorted keys, as kilnc writes)."""
    data = open(path, "rb").read().decode("latin-1")
    decoder = json.JSONDecoder()
    for m in re.finditer(r'\{"arena_bytes":', data):
        schedule, _ = decoder.raw_decode(data, m.start())
        if schedule.get("entry_point") == "forward":
            return schedule
    return None


def gpt2_case(args):
    # A vocabulary wider than one workgroup tile of the CPU matmul schedule (256 columns), and
    # not a multiple of it: the tied lm head runs as several workgroups, the last one ragged.
    config = dict(rn.CONFIG, vocab_size=300)
    sets = [a for k, v in config.items() for a in ("--set", f"{k}={v}")]
    src = os.path.join(args.examples, "gpt2.kiln")
    rng = np.random.default_rng(11)
    weights = rn.hf_weights(rng, config)
    ids = rng.integers(0, config["vocab_size"], size=(BATCH, SEQ))
    ref = rn.gpt2({k: v.astype(np.float64) for k, v in weights.items()}, ids,
                  config["n_layer"], config["n_head"])
    return src, sets, weights, ids, ref, 3 + 11 * config["n_layer"]


def llama_case(args):
    example, overrides, _ = mn.MODELS["llama"]
    sets = [a for o in overrides for a in ("--set", o)]
    src = os.path.join(args.examples, f"{example}.kiln")
    mlir = rn.run([args.kilnc, src, *sets, "--emit=mlir"]).stdout
    shapes = {n: tuple(int(d) for d in dims.split("x"))
              for n, dims in re.findall(r"kiln\.param @(\S+) : tensor<([\dx]+)xf32>", mlir)}
    rng = np.random.default_rng(13)
    weights = {}
    for n, shape in shapes.items():
        value = rng.standard_normal(shape) * (0.3 if len(shape) == 2 else 0.1)
        if "norm" in n:
            value = value + (1.0 if n.endswith("weight") else 0.0)
        weights[n] = value.astype(np.float32)
    ids = rng.integers(0, 23, size=(BATCH, SEQ)).astype(np.int32)
    ref = mn.llama_reference({n: v.astype(np.float64) for n, v in weights.items()}, ids,
                             2, 4, 2, 500.0)
    return src, sets, weights, ids, ref, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["gpt2", "llama"], default="gpt2")
    for tool in ("kilnc", "kiln", "examples", "workdir"):
        ap.add_argument(f"--{tool}", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    src, sets, weights, ids, ref, expected_dispatches = (gpt2_case if args.model == "gpt2"
                                                         else llama_case)(args)
    model = os.path.join(args.workdir, f"{args.model}.kc")
    rn.run([args.kilnc, src, *sets, "--specialize", f"batch={BATCH},seq={SEQ}", "-o", model])
    wpath = os.path.join(args.workdir, f"{args.model}.safetensors")
    save_file(weights, wpath)

    failed = 0

    def check(ok, what):
        nonlocal failed
        failed += not ok
        print(f"{args.model}: {what} {'ok' if ok else 'FAIL'}")

    schedule = forward_schedule(model)
    if schedule is None:
        check(False, "the artifact has a forward schedule with temporaries")
        return 1
    n = len(schedule["dispatches"])
    check(expected_dispatches is None and n > 10 or n == expected_dispatches,
          f"forward cut into {n} dispatches")
    check(schedule.get("static_dims") == {"batch": BATCH, "seq": SEQ},
          f"static_dims {schedule.get('static_dims')}")
    temps = schedule["temporaries"]
    check(len(temps) > 0 and schedule["arena_bytes"] < sum(t["bytes"] for t in temps),
          f"{len(temps)} temporaries in an arena of {schedule['arena_bytes']} bytes")
    multi = sum(1 for d in schedule["dispatches"] if np.prod(d["workgroups"]) > 1)
    if args.model == "gpt2":
        check(multi > 0, f"{multi} dispatches with several workgroups")

    text = rn.ids_text(ids)
    for threads in (1, 2):
        out = os.path.join(args.workdir, f"t{threads}")
        rn.run([args.kiln, "run", model, "--weights", wpath, "--ids", text, "--output-dir", out,
                "--threads", str(threads)])
        got = np.load(os.path.join(out, "logits.npy"))
        if got.shape != ref.shape:
            check(False, f"logits shape {got.shape}, expected {ref.shape}")
            continue
        err = float(np.abs(got.astype(np.float64) - ref).max())
        check(bool(np.isfinite(got).all()) and err <= rn.TOL,
              f"logits (batch {BATCH}, seq {SEQ}, {threads} threads): max abs error {err:.3e} "
              f"(|logits| up to {np.abs(ref).max():.2f}) tol {rn.TOL:.0e}")

    if args.model == "gpt2":
        w64 = {k: v.astype(np.float64) for k, v in weights.items()}
        seq = [int(t) for t in ids[0, :5]]
        prompt = list(seq)
        for _ in range(6):
            logits = rn.gpt2(w64, np.array([seq]), rn.CONFIG["n_layer"], rn.CONFIG["n_head"])
            seq.append(int(logits[0, -1].argmax()))
        generate = ["generate", "--weights", wpath, "--ids", ",".join(map(str, prompt)),
                    "--max-new-tokens", "6", "--ignore-eos"]
        # prefill / decode are specialized to batch 2 as well: a batch-1 session is refused.
        proc = subprocess.run([args.kiln, generate[0], model, *generate[1:]],
                              capture_output=True, text=True, timeout=120)
        want = (f"{model}: entry point 'prefill' was compiled for batch = {BATCH} "
                f"(kilnc --specialize); the session has a batch of 1")
        check(proc.returncode == 1 and want in proc.stderr,
              f"generate with the batch-{BATCH} artifact refused: {proc.stderr.strip()!r}")
        single = os.path.join(args.workdir, f"{args.model}-b1.kc")
        rn.run([args.kilnc, src, *sets, "--specialize", "batch=1,seq=4", "-o", single])
        proc = rn.run([args.kiln, generate[0], single, *generate[1:]])
        got = [int(t) for t in proc.stdout.split()]
        check(got == seq[5:], f"greedy generation (batch 1, prefill chunk 4) {got}, "
                              f"numpy {seq[5:]}")

    # Other sizes are refused before anything runs.
    for shape, symbol, given, compiled in (((BATCH, SEQ - 1), "seq", SEQ - 1, SEQ),
                                           ((BATCH + 1, SEQ), "batch", BATCH + 1, BATCH)):
        bad = rn.ids_text(np.zeros(shape, np.int32))
        proc = subprocess.run([args.kiln, "run", model, "--weights", wpath, "--ids", bad,
                               "--output-dir", os.path.join(args.workdir, "bad")],
                              capture_output=True, text=True, timeout=120)
        want = (f"{model}: entry point 'forward' was compiled for {symbol} = {compiled} "
                f"(kilnc --specialize); the inputs give {symbol} = {given}")
        check(proc.returncode != 0 and want in proc.stderr,
              f"{shape} refused (exit {proc.returncode}: {proc.stderr.strip()[:200]})")
    print(f"{'all passed' if not failed else f'{failed} failed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
