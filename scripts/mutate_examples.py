#!/usr/bin/env python3
"""Mutation test for the Kiln front-end.

Applies mutations to the example models (tokens deleted, duplicated or swapped, truncation at
many byte offsets, random bytes, deep nesting, huge numbers) and runs `kilnc --emit=mlir` on
each mutant. Every run must either succeed (exit 0) or exit 1 with at least one located
`FILE:LINE:COL: error:` message; a signal (crash), a timeout (hang) or any other exit status
is a failure. Failing mutants are kept under --keep for reproduction.

  mutate_examples.py --kilnc build/bin/kilnc [--seconds 60] [--seed 1] [--keep DIR]
"""
import argparse
import concurrent.futures
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ["gpt2.kiln", "bert.kiln", "t5.kiln", "llama.kiln"]
TOKEN = re.compile(rb'[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|"[^"\n]*"|\*\*|==|!=|<=|>=|\S')
NUMBER = re.compile(rb'(?<![A-Za-z_.])[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?')
HUGE = [b"99999999999999999999999999", b"4611686018427387904", b"9223372036854775807",
        b"1e400", b"0", b"-1", b"2147483648", b"1e-400", b"4096", b"4097", b"65536"]


def tokens(src):
    return [(m.start(), m.end()) for m in TOKEN.finditer(src)]


def mutate(src, rng):
    kind = rng.choice(["delete", "duplicate", "swap", "truncate", "bytes", "nesting", "number",
                       "number", "truncate"])
    toks = tokens(src)
    if kind in ("delete", "duplicate", "swap") and len(toks) > 2:
        i = rng.randrange(len(toks) - 1)
        a, b = toks[i]
        if kind == "delete":
            return kind, src[:a] + src[b:]
        if kind == "duplicate":
            return kind, src[:b] + b" " + src[a:b] + src[b:]
        c, d = toks[i + 1]
        return kind, src[:a] + src[c:d] + src[b:c] + src[a:b] + src[d:]
    if kind == "truncate":
        return kind, src[:rng.randrange(len(src) + 1)]
    if kind == "bytes":
        out = bytearray(src)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return kind, bytes(out)
    if kind == "nesting":
        depth = rng.choice([50, 100, 1000, 20000])
        form = rng.choice(["paren", "call", "repeat", "unary", "chain"])
        # Nest inside the first assignment's right-hand side.
        m = re.search(rb"\n(\s*)([a-z_]+) = ", src)
        if not m:
            return kind, src
        at = m.end()
        if form == "paren":
            ins = b"(" * depth, b")" * depth
        elif form == "call":
            ins = b"relu(" * depth, b")" * depth
        elif form == "unary":
            ins = b"- " * depth, b""
        elif form == "chain":
            ins = b"", b" + x" * depth
        else:
            ins = b"repeat 2 {\n" * depth, b"}\n" * depth
            line_end = src.index(b"\n", at)
            return kind, src[:m.start() + 1] + ins[0] + src[m.start() + 1:line_end + 1] + ins[1] + src[line_end + 1:]
        end = src.index(b"\n", at)
        return kind, src[:at] + ins[0] + src[at:end] + ins[1] + src[end:]
    nums = list(NUMBER.finditer(src))
    if not nums:
        return "number", src
    m = rng.choice(nums)
    return "number", src[:m.start()] + rng.choice(HUGE) + src[m.end():]


def run_one(kilnc, path, timeout):
    try:
        p = subprocess.run([kilnc, path, "--emit=mlir", "-o", os.devnull], capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout after %ss" % timeout
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode == 0:
        return None
    if p.returncode < 0:
        return "killed by signal %d" % -p.returncode
    if p.returncode != 1:
        return "exit status %d" % p.returncode
    if not re.search(r"^" + re.escape(path) + r":\d+:\d+: error: ", err, re.M):
        return "exit 1 without a located error:\n" + err[:2000]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kilnc", required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", default=os.path.join(tempfile.gettempdir(), "kiln-mutants"))
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sources = {n: open(os.path.join(ROOT, "examples", n), "rb").read() for n in EXAMPLES}
    work = tempfile.mkdtemp(prefix="kiln-mutate-")
    deadline = time.monotonic() + args.seconds
    counts, failures, n = {}, [], 0
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            while time.monotonic() < deadline and len(failures) < 10:
                batch = []
                for _ in range(args.jobs * 4):
                    name = rng.choice(EXAMPLES)
                    kind, text = mutate(sources[name], rng)
                    path = os.path.join(work, "m%06d_%s_%s" % (n, kind, name))
                    n += 1
                    with open(path, "wb") as f:
                        f.write(text)
                    counts[kind] = counts.get(kind, 0) + 1
                    batch.append((path, pool.submit(run_one, args.kilnc, path, args.timeout)))
                for path, fut in batch:
                    problem = fut.result()
                    if problem:
                        os.makedirs(args.keep, exist_ok=True)
                        shutil.copy(path, args.keep)
                        failures.append((os.path.join(args.keep, os.path.basename(path)), problem))
                    os.unlink(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("mutate_examples: %d mutants (%s)" % (n, ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    for path, problem in failures:
        print("FAIL %s: %s" % (path, problem))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
