#!/usr/bin/env python3
"""Outlined entry points compute what the model computes: a small GPT-2 (examples/gpt2.kiln,
2 layers) is specialized to a static shape, lowered, fused and cut into dispatches
(kiln-specialize-shapes, kiln-to-linalg, kiln-dispatch-fusion, kiln-form-dispatches); the
outlined module (@forward calling @forward_dispatch_<n>) is compiled with mlir-opt's
standard pipeline, run with mlir-cpu-runner, and its logits compared with the numpy GPT-2 of
test/Conversion/model_numerics.py (Radford et al. 2019). The schedule JSON of the same module
is checked for consistency: every temporary produced before it is read, live ranges that
overlap never share arena bytes, offsets aligned.

    outlined_numerics.py --kilnc PATH --kiln-opt PATH --examples DIR [--batch B --seq S]
"""
import argparse
import json
import os
import re
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "Conversion"))
import model_numerics as mn  # noqa: E402  (the numpy GPT-2)
import numerics as nx  # noqa: E402  (mlir-opt pipeline, runner helpers)

SETS = ["n_layer=2", "n_embd=16", "n_head=2", "vocab_size=23", "n_positions=12"]


def outlined_kernel(module):
    """@forward with each kiln.param_ref turned into an argument (renamed @kernel) and the
    dispatch functions; returns (kernel + dispatches text, parameter names in argument order,
    number of dispatch calls)."""
    forward = re.search(r"  func\.func @forward\(.*?\n  \}\n", module, re.S).group(0)
    dispatches = re.findall(r"  func\.func private @forward_dispatch_\d+\(.*?\n  \}\n", module, re.S)
    body = forward.split("\n", 1)[1]
    for line in body.splitlines()[:-1]:
        line = line.strip()
        if not line or line.startswith("return"):
            continue
        if not re.search(r"kiln\.param_ref|call @forward_dispatch_\d+|tensor\.(expand|collapse)_shape", line):
            raise RuntimeError(f"the outlined @forward still computes: {line}")
    calls = len(re.findall(r"call @forward_dispatch_\d+", body))
    refs = re.findall(r"    (%\d+) = kiln\.param_ref @(\S+) : (tensor<[^>]*>)\n", forward)
    forward = re.sub(r"    %\d+ = kiln\.param_ref @\S+ : tensor<[^>]*>\n", "", forward)
    forward = re.sub(r" \{kiln\.(input|output) = \"[^\"]*\"\}", "", forward)
    forward = re.sub(r" attributes \{kiln_static_dims = \{[^}]*\}\}", "", forward)
    header = re.match(r"  func\.func @forward\((.*?)\) -> \(?(.*?)\)? \{\n", forward)
    extra = "".join(f", {name}: {ty}" for name, _, ty in refs)
    forward = forward.replace(header.group(0),
                              f"  func.func @kernel({header.group(1)}{extra}) -> {header.group(2)} {{\n")
    text = forward + "".join(dispatches)
    return text.replace("\n  ", "\n").strip() + "\n", [n for _, n, _ in refs], calls


def check_schedule(schedule, calls):
    """Independent checks of the schedule and its arena plan."""
    dispatches, temps = schedule["dispatches"], {t["name"]: t for t in schedule["temporaries"]}
    assert len(dispatches) == calls, (len(dispatches), calls)
    produced, first_use, last_use = {}, {}, {}
    for i, d in enumerate(dispatches):
        for b in d["buffers"]:
            if b["kind"] == "temporary":
                first_use.setdefault(b["name"], i)
                last_use[b["name"]] = i
    for name, t in temps.items():
        assert t["bytes"] == int(np.prod(t["shape"])) * 4, t
        assert t["first"] == first_use[name] and t["last"] == last_use[name], t
        assert t["offset"] % 64 == 0 and t["offset"] + t["bytes"] <= schedule["arena_bytes"], t
        produced[name] = t["first"]
    for a in temps.values():
        for b in temps.values():
            if a is b or a["last"] < b["first"] or b["last"] < a["first"]:
                continue
            disjoint = a["offset"] + a["bytes"] <= b["offset"] or b["offset"] + b["bytes"] <= a["offset"]
            assert disjoint, f"{a['name']} and {b['name']} are live together and overlap"
    assert schedule["temporary_bytes"] == sum(t["bytes"] for t in temps.values())
    return schedule["arena_bytes"], schedule["temporary_bytes"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kilnc", required=True)
    parser.add_argument("--kiln-opt", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=7)
    parser.add_argument("--llvm-bin", default=os.environ.get("KILN_LLVM_BIN", "/usr/lib/llvm-19/bin"))
    parser.add_argument("--llvm-lib", default=os.environ.get("KILN_LLVM_LIB", "/usr/lib/llvm-19/lib"))
    args = parser.parse_args()

    sets = [a for s in SETS for a in ("--set", s)]
    mlir = nx.run([args.kilnc, os.path.join(args.examples, "gpt2.kiln"), "--emit=mlir"] + sets)
    passes = [f"--kiln-specialize-shapes=entry=forward dims=batch={args.batch},seq={args.seq}",
              "--kiln-strip-dropout", "--kiln-to-linalg", "--kiln-dispatch-fusion",
              "--kiln-form-dispatches=entries=forward"]
    module = nx.run([args.kiln_opt, "-", "--mlir-print-local-scope"] + passes, mlir)
    schedule = json.loads(nx.run([args.kiln_opt, "-", "--kiln-print-dispatch-schedule",
                                  "-o", os.devnull], module))
    kernel, names, calls = outlined_kernel(module)
    arena, total = check_schedule(schedule, calls)

    shapes = {name: tuple(int(d) for d in dims.split("x"))
              for name, dims in re.findall(r"kiln\.param @(\S+) : tensor<([\dx]+)xf32>", mlir)}
    rng = np.random.default_rng(11)
    params = {}
    for name, shape in shapes.items():
        value = rng.standard_normal(shape) * (0.3 if len(shape) == 2 else 0.1)
        if "ln_" in name:
            value = value + (1.0 if name.endswith("weight") else 0.0)
        params[name] = value.astype(np.float32)
    ids = rng.integers(0, 23, size=(args.batch, args.seq)).astype(np.int32)
    reference = mn.gpt2_reference({n: v.astype(np.float64) for n, v in params.items()}, ids, 2, 2)

    inputs = [ids] + [params[n] for n in names]
    text = "module {\n" + kernel + nx.main_function(kernel, inputs) + "}\n"
    llvm = nx.run([os.path.join(args.llvm_bin, "mlir-opt"), "-"] + nx.PIPELINE, text)
    libs = ",".join(os.path.join(args.llvm_lib, lib)
                    for lib in ("libmlir_c_runner_utils.so", "libmlir_runner_utils.so"))
    out = nx.run([os.path.join(args.llvm_bin, "mlir-cpu-runner"), "-e", "main",
                  "-entry-point-result=void", f"-shared-libs={libs}"], llvm)
    data = out.split("data =", 1)[1]
    values = np.array([float(v) for v in re.findall(r"-?(?:nan|inf|\d+\.?\d*(?:e[-+]?\d+)?)", data)])
    if values.size != reference.size:
        print(f"FAIL: expected {reference.size} values, got {values.size}")
        return 1
    ref = reference.reshape(-1)
    diff = np.abs(values - ref) / np.maximum(1.0, np.abs(ref))
    maxdiff = float(diff.max())
    ok = bool(np.isfinite(values).all()) and maxdiff <= 5e-5
    print(f"dispatches={calls} temporaries={len(schedule['temporaries'])} "
          f"temporary_bytes={total} arena_bytes={arena}")
    print(f"gpt2 outlined {args.batch}x{args.seq}: maxdiff={maxdiff:.3e} tol=5e-05 {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
