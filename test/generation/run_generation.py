#!/usr/bin/env python3
"""Generation with a runtime-owned KV cache: a tiny GPT-2 or LLaMA (grouped KV heads) compiled
by `kilnc -o model.kc` (entry points `prefill` and `decode`), driven through the runtime's
DecoderSession by kiln-decode-check, against the numpy models written from the papers that the
end-to-end tests use (test/e2e/run_numerics.py, test/Conversion/model_numerics.py):

  (a) prefill of a prompt: the last position's logits equal the numpy forward's, within 1e-4;
  (b) decode token by token after it: at every step the logits equal the numpy forward over the
      whole sequence so far (last position), within 1e-4;
  (c) greedy ids from prefill + decode equal greedy ids recomputing the whole sequence with the
      compiled `forward` at every step (and the numpy model's greedy ids);
  (d) a call with position + seq > capacity (and an id outside the vocabulary) is refused with a
      clear error, exit 1;
  and decode calls after the first make no heap allocation on the runtime's side; the code's
  temporaries (an unspecialized artifact allocates them as it runs) come from the device's pool,
  and a prompt and greedy steps repeated after reset() take no new block from the system.
  Unspecialized, (a) and (b) run again with the device's services to the code turned off
  (kiln-decode-check --host-services 0): the code's own fallbacks, its matmul chunks on the
  calling thread and malloc for its temporaries.

With --specialize SPEC (`batch=2,seq=4`) the model is compiled with `kilnc --specialize SPEC`:
prefill and decode are per-op dispatches at a static batch, prefill runs chunks of `seq` tokens
(docs/generation.md). Then (a) and (b) run prompts shorter than, equal to and longer than
(not a multiple of, and a multiple of) the chunk, (c) compares with `forward` of a separately
compiled unspecialized artifact, and (d) also checks that another batch is refused. A prompt that
takes several chunks (or several decode steps, shorter than a chunk) computes the logits once:
the dispatches after the last KV-cache write (the lm head) run for its last chunk only.

    run_generation.py --model gpt2|llama --kilnc PATH --tool PATH --examples DIR --workdir DIR
        [--specialize SPEC]
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "Conversion"))
import run_numerics as rn  # noqa: E402  (GPT-2 reference and Hugging Face-layout weights)
import model_numerics as mn  # noqa: E402  (LLaMA reference)

TOL = 1e-4
CAPACITY = 16
LLAMA = mn.MODELS["llama"][1] + [f"max_position_embeddings={CAPACITY}"]


def run(cmd, expect_ok=True):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if expect_ok and proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def ids_text(a):
    return ";".join(",".join(str(int(t)) for t in row) for row in np.atleast_2d(a))


def compile_model(args, src, sets, model):
    """kilnc -o model (with --specialize when asked); returns the unspecialized artifact too."""
    if not args.specialize:
        run([args.kilnc, src, *sets, "-o", model])
        return model
    run([args.kilnc, src, *sets, "--specialize", args.specialize, "-o", model])
    plain = model[:-3] + "-plain.kc"
    run([args.kilnc, src, *sets, "-o", plain])
    return plain


def setup(args):
    """Compiles the model, writes random weights; returns (model, unspecialized model, weights,
    reference, vocab)."""
    model = os.path.join(args.workdir, f"{args.model}.kc")
    wpath = os.path.join(args.workdir, f"{args.model}.safetensors")
    if args.model == "gpt2":
        config = dict(rn.CONFIG, n_positions=CAPACITY)
        sets = [a for k, v in config.items() for a in ("--set", f"{k}={v}")]
        plain = compile_model(args, os.path.join(args.examples, "gpt2.kiln"), sets, model)
        weights = rn.hf_weights(np.random.default_rng(3), config)
        save_file(weights, wpath)
        w64 = {k: v.astype(np.float64) for k, v in weights.items()}
        return model, plain, wpath, \
            lambda ids: rn.gpt2(w64, ids, config["n_layer"], config["n_head"]), config["vocab_size"]
    sets = [a for o in LLAMA for a in ("--set", o)]
    src = os.path.join(args.examples, "llama.kiln")
    plain = compile_model(args, src, sets, model)
    mlir = run([args.kilnc, src, *sets, "--emit=mlir"]).stdout
    shapes = {n: tuple(int(d) for d in dims.split("x"))
              for n, dims in re.findall(r"kiln\.param @(\S+) : tensor<([\dx]+)xf32>", mlir)}
    rng = np.random.default_rng(7)
    params = {}
    for n, shape in shapes.items():
        value = rng.standard_normal(shape) * (0.3 if len(shape) == 2 else 0.1)
        if "norm" in n:
            value = value + 1.0
        params[n] = value.astype(np.float32)
    save_file(params, wpath)
    p64 = {n: v.astype(np.float64) for n, v in params.items()}
    return model, plain, wpath, lambda ids: mn.llama_reference(p64, ids, 2, 4, 2, 500.0), 23


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["gpt2", "llama"], required=True)
    ap.add_argument("--kilnc", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--specialize", default="",
                    help="kilnc --specialize spec, e.g. batch=2,seq=4 (seq: the prefill chunk)")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    model, plain, wpath, reference, vocab = setup(args)
    spec = dict(kv.split("=") for kv in args.specialize.split(",")) if args.specialize else {}
    threads = "2" if args.model == "gpt2" else "1"
    tool = [args.tool, model, wpath, "--threads", threads]
    failed = 0

    def check(ok, what):
        nonlocal failed
        failed += not ok
        print(f"{args.model} {what}: {'ok' if ok else 'FAIL'}")

    # (a), (b): a prompt of 5 tokens per row, then 6 decode steps fed with given tokens.
    # Specialized: prompts shorter than, equal to and longer than the chunk.
    rng = np.random.default_rng(11)
    batch, prompt_len, steps = int(spec.get("batch", 2)), 5, 6
    tokens = rng.integers(0, vocab, size=(batch, CAPACITY)).astype(np.int32)
    out = os.path.join(args.workdir, "steps")
    os.makedirs(out, exist_ok=True)
    chunk = int(spec.get("seq", 0))
    lengths = [prompt_len] if not chunk else [chunk - 1, chunk, chunk + 3, 2 * chunk]
    # Unspecialized, also without the runtime's services: the code's own fallbacks (its matmul
    # chunks on the calling thread, malloc for its temporaries) against the same references.
    variants = [([], "")]
    if not args.specialize:
        variants.append((["--host-services", "0"], " (without the runtime's services)"))
    for variant, label in variants:
        for prompt_len in lengths:
            steps = min(6, CAPACITY - prompt_len)
            cmd = tool + variant + ["--batch", str(batch), "--out", out,
                                    "--prompt", ids_text(tokens[:, :prompt_len])]
            for s in range(steps):
                cmd += ["--decode", ";".join(str(int(t)) for t in tokens[:, prompt_len + s])]
            proc = run(cmd)
            got = np.load(os.path.join(out, "logits.npy")).astype(np.float64)
            check(got.shape == (steps + 1, batch, vocab), f"logits shape {got.shape}")
            for call in range(min(got.shape[0], steps + 1)):
                length = prompt_len + call
                ref = reference(tokens[:, :length])[:, -1, :]
                err = float(np.abs(got[call] - ref).max())
                what = f"prefill of {prompt_len} (a)" if call == 0 else f"decode step {call} (b)"
                what += label
                check(np.isfinite(got[call]).all() and err <= TOL,
                      f"{what}, {length} tokens, batch {batch}: max abs error {err:.3e} "
                      f"(|logits| up to {np.abs(ref).max():.2f}) tol {TOL:.0e}")
            if chunk and prompt_len != chunk:
                fewest = re.search(r"prompt-fewest-dispatch-calls: (\d+)", proc.stdout)
                check(fewest is not None and fewest.group(1) == "1",
                      f"prompt of {prompt_len} (chunk {chunk}): the logits dispatches ran "
                      f"{fewest.group(1) if fewest else '?'} time(s), expected once")
            allocs = re.search(r"decode-calls: (\d+) decode-heap-allocations: (\d+)", proc.stdout)
            check(allocs is not None and allocs.group(2) == "0",
                  f"heap allocations in decode calls 2..{steps}{label}: "
                  f"{allocs.group(2) if allocs else 'not reported'}")
            if variant:
                blocks = re.search(r"temporary-blocks-after-steps: ([\d ]+)", proc.stdout)
                check(blocks is not None and set(blocks.group(1).split()) == {"0"},
                      f"{label.strip()}: the code took no block from the device's pool "
                      f"({blocks.group(1) if blocks else 'not reported'})")
    prompt_len = 5

    # reset(): the same prompt after a reset gives the first prefill's logits again.
    other = rng.integers(0, vocab, size=(batch, 3)).astype(np.int32)
    run(tool + ["--batch", str(batch), "--out", out, "--prompt", ids_text(tokens[:, :prompt_len]),
                "--prompt", ids_text(other), "--reset", "1",
                "--prompt", ids_text(tokens[:, :prompt_len])])
    again = np.load(os.path.join(out, "logits.npy"))
    check(again.shape[0] == 3 and np.array_equal(again[0], again[2]),
          "prefill after reset() repeats the first prefill's logits exactly")

    # The code's temporaries: the same prompt and steps again after reset() find every block
    # they need among those the first round freed.
    proc = run(tool + ["--batch", str(batch), "--out", out, "--prompt", ids_text(tokens[:, :5]),
                       "--greedy", "6", "--reset", "1", "--prompt", ids_text(tokens[:, :5]),
                       "--greedy", "6"])
    blocks = re.search(r"temporary-blocks-after-steps: (\d+) (\d+) (\d+) (\d+) (\d+)",
                       proc.stdout)
    blocks = [int(b) for b in blocks.groups()] if blocks else None
    check(blocks is not None and blocks[4] == blocks[1],
          f"temporary blocks taken from the system after each step {blocks}: none new after "
          "the reset")
    if not args.specialize:
        check(blocks is not None and blocks[1] > 0,
              f"the unspecialized code takes its temporaries from the device ({blocks})")

    # (c): greedy through the session vs. recomputing the whole sequence with forward.
    new = 8
    prompt = tokens[:, :prompt_len]
    proc = run(tool + ["--batch", str(batch), "--out", out, "--prompt", ids_text(prompt),
                       "--greedy", str(new)])
    session = re.search(r"greedy-session: (.*)", proc.stdout).group(1)
    # forward recomputes every length: the unspecialized artifact when this one is static.
    proc = run([args.tool, plain, wpath, "--threads", threads, "--batch", str(batch), "--out",
                out, "--prompt", ids_text(prompt), "--greedy-forward", str(new)])
    forward = re.search(r"greedy-forward: (.*)", proc.stdout).group(1)
    seq = prompt.copy()
    for _ in range(new):
        logits = reference(seq)[:, -1, :]
        seq = np.concatenate([seq, logits.argmax(-1)[:, None]], axis=1).astype(np.int32)
    numpy_ids = " | ".join(" ".join(str(int(t)) for t in row[prompt_len:]) for row in seq)
    check(session == forward, f"greedy (c) prefill+decode [{session}] == forward [{forward}]")
    check(session == numpy_ids, f"greedy (c) prefill+decode == numpy [{numpy_ids}]")

    # (d): capacity and vocabulary are checked before anything runs.
    def refused(cmd, message, what):
        proc = run(cmd, expect_ok=False)
        check(proc.returncode == 1 and message in proc.stderr,
              f"refused (d): {what}: exit {proc.returncode}: {proc.stderr.strip()[:160]}")

    long_prompt = rng.integers(0, vocab, size=(batch, CAPACITY + 1))
    tool = tool + ["--batch", str(batch)]
    refused(tool + ["--out", out, "--prompt", ids_text(long_prompt)],
            f"the KV cache holds {CAPACITY} positions", f"prefill of {CAPACITY + 1} tokens")
    refused(tool + ["--out", out, "--prompt", ids_text(long_prompt[:, :CAPACITY]),
                    "--decode", ";".join(["1"] * batch)],
            f"cannot append 1 tokens at position {CAPACITY}", "decode on a full cache")
    refused(tool + ["--out", out, "--prompt", ids_text(long_prompt[:, :10]),
                    "--prompt", ids_text(long_prompt[:, :7])],
            "cannot append 7 tokens at position 10", "second prefill past the capacity")
    refused(tool + ["--out", out, "--prompt", ";".join([f"1,{vocab}"] * batch)],
            "outside the vocabulary", f"token id {vocab}")
    if spec:
        other = batch + 1
        refused(tool + ["--batch", str(other), "--out", out, "--prompt", ids_text(prompt)],
                f"was compiled for batch = {batch}", f"a session of batch {other}")
    print(f"{args.model}: {'FAIL' if failed else 'all passed'} ({failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
