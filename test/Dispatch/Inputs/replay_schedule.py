#!/usr/bin/env python3
"""Replays a dispatch schedule the way the runtime will: a small GPT-2 (examples/gpt2.kiln) is
cut into dispatches (kiln-specialize-shapes ... kiln-form-dispatches), the dispatches are
compiled by the CPU target (kiln-extract-dispatches, kiln-cpu-compile), and the schedule JSON
alone drives the run: one arena of `arena_bytes` holds every temporary at its `offset`, each
dispatch runs through the HAL's CPU driver (kiln-hal-run) with its buffers bound in the
schedule's order (read: inputs, parameters, temporaries produced earlier; written: outputs and
the temporaries it produces). The logits are compared with the numpy GPT-2 of
test/Conversion/model_numerics.py. A wrong binding, a view that is not the same bytes, or two
live temporaries sharing arena bytes changes the result.

    replay_schedule.py --kilnc PATH --kiln-opt PATH --kiln-cpu-compile PATH --kiln-hal-run PATH
                       --examples DIR --workdir DIR [--layers N --batch B --seq S --threads T]
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Conversion"))
import model_numerics as mn  # noqa: E402  (the numpy GPT-2)


def run(cmd, stdin=None):
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for tool in ("kilnc", "kiln-opt", "kiln-cpu-compile", "kiln-hal-run", "examples", "workdir"):
        parser.add_argument(f"--{tool}", required=True)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    sets = [f"n_layer={args.layers}", "n_embd=16", "n_head=2", "vocab_size=23", "n_positions=12"]
    mlir = run([args.kilnc, os.path.join(args.examples, "gpt2.kiln"), "--emit=mlir"]
               + [a for s in sets for a in ("--set", s)])
    module = run([args.kiln_opt, "-",
                  f"--kiln-specialize-shapes=entry=forward dims=batch={args.batch},seq={args.seq}",
                  "--kiln-strip-dropout", "--kiln-to-linalg", "--kiln-dispatch-fusion",
                  "--kiln-form-dispatches=entries=forward"], mlir)
    schedule = json.loads(run([args.kiln_opt, "-", "--kiln-print-dispatch-schedule",
                               "-o", os.devnull], module))
    dispatches = os.path.join(args.workdir, "dispatches.mlir")
    with open(dispatches, "w") as f:
        f.write(run([args.kiln_opt, "-", "--kiln-extract-dispatches"], module))
    blob = os.path.join(args.workdir, "dispatches.so")
    run([args.kiln_cpu_compile, dispatches, "-o", blob])

    shapes = {name: tuple(int(d) for d in dims.split("x"))
              for name, dims in re.findall(r"kiln\.param @(\S+) : tensor<([\dx]+)xf32>", mlir)}
    rng = np.random.default_rng(5)
    params = {}
    for name, shape in shapes.items():
        value = rng.standard_normal(shape) * (0.3 if len(shape) == 2 else 0.1)
        if "ln_" in name:
            value = value + (1.0 if name.endswith("weight") else 0.0)
        params[name] = value.astype(np.float32)
    ids = rng.integers(0, 23, size=(args.batch, args.seq)).astype(np.int32)
    reference = mn.gpt2_reference({n: v.astype(np.float64) for n, v in params.items()}, ids,
                                  args.layers, 2)

    # The runtime's view of memory: named inputs, parameters and outputs, one arena.
    fixed = {("input", "ids"): ids.tobytes()}
    fixed.update({("parameter", n): v.tobytes() for n, v in params.items()})
    temps = {t["name"]: t for t in schedule["temporaries"]}
    arena = bytearray(b"\xa5" * schedule["arena_bytes"])  # garbage, as a reused arena would hold
    outputs = {}
    for step, d in enumerate(schedule["dispatches"]):
        cmd = [args.kiln_hal_run, blob, d["dispatch"], "--threads", str(args.threads)]
        written = []
        for i, b in enumerate(d["buffers"]):
            path = os.path.join(args.workdir, f"b{i}.bin")
            kind, name = b["kind"], b["name"]
            writes = kind == "output" or (kind == "temporary" and temps[name]["first"] == step)
            if writes:
                cmd.append(f"out:{path}")
                written.append((kind, name, path))
                continue
            if kind == "temporary":
                t = temps[name]
                assert t["first"] < step <= t["last"], (name, step, t)
                data = arena[t["offset"]:t["offset"] + t["bytes"]]
            else:
                data = fixed[(kind, name)]
            with open(path, "wb") as f:
                f.write(data)
            cmd.append(f"in:{path}")
        run(cmd)
        for kind, name, path in written:
            data = open(path, "rb").read()
            if kind == "output":
                outputs[name] = data
            else:
                t = temps[name]
                assert len(data) == t["bytes"], (name, len(data))
                arena[t["offset"]:t["offset"] + t["bytes"]] = data

    logits = np.frombuffer(outputs["logits"], dtype=np.float32).astype(np.float64)
    ref = reference.reshape(-1)
    diff = np.abs(logits - ref) / np.maximum(1.0, np.abs(ref))
    maxdiff = float(diff.max())
    ok = logits.size == ref.size and bool(np.isfinite(logits).all()) and maxdiff <= 1e-4
    print(f"replayed {len(schedule['dispatches'])} dispatches, arena {schedule['arena_bytes']} bytes "
          f"for {schedule['temporary_bytes']} bytes of temporaries")
    print(f"gpt2 {args.layers} layer(s) {args.batch}x{args.seq} through kiln-hal-run: "
          f"maxdiff={maxdiff:.3e} tol=1e-04 {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
