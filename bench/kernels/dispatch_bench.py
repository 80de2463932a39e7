"""Times each dispatch of a linalg dispatch module through the HAL's CPU driver.

    dispatch_bench.py --kiln-cpu-compile BIN --kiln-hal-run BIN MODULE.mlir
                      [--threads 1,2] [--repeat 50] [--filter TEXT] [--blob OUT.so]

Compiles MODULE.mlir (func.func dispatches on static tensors, e.g. the output of
`kiln-opt ... --kiln-extract-dispatches`) with kiln-cpu-compile, then runs every dispatch whose
name contains TEXT through `kiln-hal-run --repeat R` on random inputs (f32 standard normal,
integers in [0, 64)) and prints one row per dispatch: workgroup count, median ms per thread count
and GFLOP/s where the dispatch is a contraction (FLOPs from `--flops NAME=N`, optional).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

DTYPES = {"f32": np.float32, "i32": np.int32, "i64": np.int64}


def parse_signatures(text):
    """Returns {name: (input types, result types)} with types as (shape, dtype)."""
    sigs = {}
    for m in re.finditer(r"func\.func @(\w+)\(([^)]*)\)\s*(->\s*(\([^)]*\)|tensor<[^>]*>))?",
                         text):
        args = re.findall(r"tensor<([^>]*)>", m.group(2))
        results = re.findall(r"tensor<([^>]*)>", m.group(3) or "")

        def conv(t):
            parts = t.split("x")
            return tuple(int(p) for p in parts[:-1]), parts[-1]

        sigs[m.group(1)] = ([conv(a) for a in args], [conv(r) for r in results])
    return sigs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("module")
    p.add_argument("--kiln-cpu-compile", required=True)
    p.add_argument("--kiln-hal-run", required=True)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--repeat", type=int, default=50)
    p.add_argument("--filter", default="")
    p.add_argument("--blob")
    args = p.parse_args()

    text = open(args.module).read()
    sigs = parse_signatures(text)
    with tempfile.TemporaryDirectory() as tmp:
        blob = args.blob or os.path.join(tmp, "d.so")
        out = subprocess.run([args.kiln_cpu_compile, args.module, "--print-dispatches", "-o",
                              blob], check=True, capture_output=True, text=True)
        wgs = dict(re.findall(r"dispatch (\w+): buffers \d+, workgroups (\S+)",
                              out.stdout + out.stderr))
        rng = np.random.default_rng(0)
        threads = args.threads.split(",")
        print(f"{'dispatch':<24} {'workgroups':>10} " +
              " ".join(f"{'ms ' + t + 'T':>9}" for t in threads))
        for name, (ins, outs) in sigs.items():
            if args.filter not in name:
                continue
            cmd_files = []
            for i, (shape, dt) in enumerate(ins):
                path = os.path.join(tmp, f"{name}_in{i}.bin")
                if dt.startswith("f"):
                    x = rng.standard_normal(shape).astype(DTYPES[dt])
                else:
                    x = rng.integers(0, 64, size=shape).astype(DTYPES[dt])
                x.tofile(path)
                cmd_files.append("in:" + path)
            for i, _ in enumerate(outs):
                cmd_files.append("out:" + os.path.join(tmp, f"{name}_out{i}.bin"))
            row = f"{name:<24} {wgs.get(name, '?'):>10} "
            for t in threads:
                r = subprocess.run([args.kiln_hal_run, blob, name, "--threads", t, "--repeat",
                                    str(args.repeat)] + cmd_files, capture_output=True,
                                   text=True)
                m = re.search(r"median ([0-9.]+) s", r.stderr)
                row += f"{float(m.group(1)) * 1e3:9.3f} " if m else f"{'error':>9} "
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
