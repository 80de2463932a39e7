#!/usr/bin/env python3
"""Encoder-decoder generation: a tiny T5 (examples/t5.kiln, random weights) compiled by
`kilnc -o t5.kc` (entry points `encode`, `prefill`, `decode`) and driven by `kiln generate`,
against two references that do not use the KV cache:

  (a) greedy ids of `kiln generate --ids SRC` equal the greedy ids of the numpy T5 written from
      the paper (test/Conversion/model_numerics.py), recomputing the whole decoder sequence
      at every step, for sources of several lengths (1 included);
  (b) they also equal the greedy ids of the compiled `forward` (`kiln run` with the whole
      decoder sequence at every step), whose logits match the numpy model's within 1e-4;
  (c) stopping: at the end-of-sequence id (config eos_token_id), and at the capacity
      (decoder start + output = n_positions); --decoder-start changes the first decoder id;
  (d) bad input is refused with a clear message and exit 1: a source id outside the
      vocabulary, a decoder start id outside it;
  (e) the DecoderSession itself (kiln-seq2seq-check), batch 2 with a padded source: `encode`
      returns the encoder states and each decoder layer's cross-attention keys and values
      (each within 1e-4 of the numpy encoder's), which are the session's extra inputs with the
      mask (the decoder takes no encoder states: it projects nothing per step); prefill of
      3 decoder ids, then 5 decode calls, each call's last-position logits equal the numpy
      T5's over the whole decoder sequence so far (the padding mask reaches cross-attention),
      within 1e-4; and bindInput / prefill refuse an unbound input, an unknown name, a wrong
      dtype, width or batch, and extra inputs that disagree on the source length; a source one
      position shorter (keys, values and mask agreeing) runs, or, specialized, is refused.

With --specialize, the artifacts are compiled by `kilnc --specialize` (encode, prefill and
decode cut into per-op dispatches at static sizes; no "compiled whole" warning): `kiln generate`
at batch 1, sources padded to seq = 8 by kiln generate (the mask hides the padding; a source of
9 ids is refused), decoder prefill chunks of 3; the session at batch 2, seq = 6, chunks of 3, so
that its first call goes through the static `prefill` (bias over the whole cache capacity) and
the rest through the static `decode`. (b) is skipped: the specialized `forward` takes one
decoder length only.

    run_t5_generation.py --kilnc PATH --kiln PATH --tool PATH --examples DIR --workdir DIR
                         [--specialize]
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
sys.path.insert(0, os.path.join(HERE, "..", "Conversion"))
import model_numerics as mn  # noqa: E402  (the numpy T5)

CAPACITY = 12
VOCAB = 23
SETS = ["num_layers=2", "num_decoder_layers=2", "d_model=16", "d_kv=4", "num_heads=2",
        "d_ff=24", f"vocab_size={VOCAB}", f"n_positions={CAPACITY}"]
TOL = 1e-4


def run(cmd, expect_ok=True):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if expect_ok and proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kilnc", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--specialize", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    failed = 0

    def check(ok, what):
        nonlocal failed
        failed += not ok
        print(f"t5 {what}: {'ok' if ok else 'FAIL'}")

    src = os.path.join(args.examples, "t5.kiln")
    sets = [a for s in SETS for a in ("--set", s)]
    model = os.path.join(args.workdir, "t5.kc")
    session_model = model
    if args.specialize:
        session_model = os.path.join(args.workdir, "t5-session.kc")
        for path, spec in ((model, "batch=1,seq=8,target=3"),
                           (session_model, "batch=2,seq=6,target=3")):
            proc = run([args.kilnc, src, *sets, "--specialize", spec, "-o", path])
            check("compiled whole" not in proc.stderr and "warning" not in proc.stderr,
                  f"kilnc --specialize {spec}: encode, prefill and decode are cut "
                  f"{proc.stderr.strip()[-200:]}")
    else:
        run([args.kilnc, src, *sets, "-o", model])
    mlir = run([args.kilnc, src, *sets, "--emit=mlir"]).stdout
    check(all(f"func.func @{e}(" in mlir for e in ("forward", "encode", "prefill", "decode")),
          "kilnc emits forward, encode, prefill and decode")

    # Random weights with Hugging Face names (T5's Kiln names are the checkpoint's); layer
    # norm scales around 1 so that they matter; a scale at which greedy outputs vary with the
    # source and the step rather than repeat one id.
    shapes = {n: tuple(int(d) for d in dims.split("x"))
              for n, dims in re.findall(r"kiln\.param @(\S+) : tensor<([\dx]+)xf32>", mlir)}
    rng = np.random.default_rng(7)
    params = {}
    for n, shape in shapes.items():
        value = rng.standard_normal(shape) * (1.0 if len(shape) == 2 else 0.1)
        if "relative_attention_bias" in n:
            value = value * 0.4
        if "norm" in n:
            value = value + 1.0
        params[n] = value.astype(np.float32)
    wpath = os.path.join(args.workdir, "t5.safetensors")
    save_file(params, wpath)
    p64 = {n: v.astype(np.float64) for n, v in params.items()}

    def numpy_logits(source, decoder):
        ids = np.array([source], np.int32)
        return mn.t5_reference(p64, ids, np.ones_like(ids), np.array([decoder], np.int32),
                               2, 2, 4)[0]

    def numpy_encoder(ids, mask):
        """The T5 encoder (Raffel et al. 2020) alone: [batch, seq, d_model]."""
        rms = lambda x, n: mn.nx.rms_norm(x, p64[f"{n}.weight"], 1e-6)  # noqa: E731
        lin = lambda x, n: x @ p64[f"{n}.weight"].T  # noqa: E731
        table = p64["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        bias = mn.nx.relative_bias(ids.shape[1], ids.shape[1], table, True, 32, 128)
        x = p64["shared.weight"][ids]
        for i in range(2):
            n = f"encoder.block.{i}.layer."
            h = rms(x, n + "0.layer_norm")
            a = n + "0.SelfAttention"
            x = x + lin(mn.nx.attention(lin(h, a + ".q"), lin(h, a + ".k"), lin(h, a + ".v"),
                                        2, 2, 4, 1.0, causal=False, mask=mask, bias=bias),
                        a + ".o")
            h = rms(x, n + "1.layer_norm")
            x = x + lin(np.maximum(lin(h, n + "1.DenseReluDense.wi"), 0),
                        n + "1.DenseReluDense.wo")
        return rms(x, "encoder.final_layer_norm")

    def numpy_greedy(source, start, new, eos=None):
        seq = [start]
        margins = []
        for _ in range(new):
            last = numpy_logits(source, seq)[-1]
            top = np.sort(last)[-2:]
            margins.append(top[1] - top[0])
            seq.append(int(np.argmax(last)))
            if seq[-1] == eos:
                break
        return seq[1:], min(margins)

    def generate(source, *extra, expect_ok=True):
        proc = run([args.kiln, "generate", model, "--weights", wpath,
                    "--ids", ",".join(map(str, source)), "--threads", "1", *extra], expect_ok)
        return proc

    def printed_ids(proc):
        return [int(t) for t in proc.stdout.split()]

    # (a), (b): greedy over CAPACITY - 1 new tokens, no stop on EOS.
    sources = [[5, 9, 2, 17, 11, 3, 8], [4], [22, 0, 13, 5, 5]]
    forward_dir = os.path.join(args.workdir, "forward")
    for k, source in enumerate(sources):
        new = CAPACITY - 1
        ref, margin = numpy_greedy(source, 0, new)
        proc = generate(source, "--max-new-tokens", str(new), "--ignore-eos")
        got = printed_ids(proc)
        check(got == ref, f"source {k} ({len(source)} ids): greedy ids {got} equal the numpy "
                          f"T5's {ref} (smallest top-2 margin {margin:.2e})")
        if k == 2 or args.specialize:
            continue  # the forward comparison of two sources is enough
        seq, fwd, worst = [0], [], 0.0
        for _ in range(new):
            run([args.kiln, "run", model, "--weights", wpath, "--ids", ",".join(map(str, source)),
                 "--mask", ",".join("1" * len(source)), "--input",
                 "decoder_ids=" + ",".join(map(str, seq)), "--output-dir", forward_dir,
                 "--threads", "1"])
            logits = np.load(os.path.join(forward_dir, "logits.npy"))[0].astype(np.float64)
            worst = max(worst, float(np.abs(logits - numpy_logits(source, seq)).max()))
            seq.append(int(np.argmax(logits[-1])))
        fwd = seq[1:]
        check(got == fwd, f"source {k}: greedy ids equal recomputing forward over the whole "
                          f"decoder sequence each step {fwd}")
        check(worst <= TOL, f"source {k}: forward logits vs numpy, max abs error {worst:.2e} "
                            f"tol {TOL:.0e}")

    # (c) stopping. Capacity: start id + 11 new = 12 positions, even when asked for more.
    proc = generate(sources[0], "--max-new-tokens", "40", "--ignore-eos")
    check(len(printed_ids(proc)) == CAPACITY - 1 and "stopped by capacity" in proc.stderr,
          f"capacity stop after {len(printed_ids(proc))} ids: {proc.stderr.strip()[-120:]}")
    # EOS: the first id the numpy greedy run produces is made the end-of-sequence id.
    ref, _ = numpy_greedy(sources[0], 0, 6)
    eos = ref[2]
    stop = ref.index(eos) + 1
    proc = generate(sources[0], "--max-new-tokens", "6", "--eos", str(eos))
    check(printed_ids(proc) == ref[:stop] and "stopped by eos" in proc.stderr,
          f"stops after the EOS id {eos}: {printed_ids(proc)}")
    # T5's own eos_token_id (1) from the model config, when nothing overrides it.
    ref, _ = numpy_greedy(sources[1], 0, CAPACITY - 1, eos=1)
    proc = generate(sources[1], "--max-new-tokens", str(CAPACITY - 1))
    check(printed_ids(proc) == ref and "no end-of-sequence id" not in proc.stderr,
          f"config eos_token_id 1 is used: ids {printed_ids(proc)} == {ref}")
    # Another decoder start id.
    ref, _ = numpy_greedy(sources[2], 7, 5)
    proc = generate(sources[2], "--max-new-tokens", "5", "--ignore-eos", "--decoder-start", "7")
    check(printed_ids(proc) == ref, f"--decoder-start 7: ids {printed_ids(proc)} == {ref}")

    # (d) bad input.
    proc = generate([3, VOCAB], "--max-new-tokens", "2", expect_ok=False)
    check(proc.returncode == 1 and "outside" in proc.stderr and "Traceback" not in proc.stderr,
          f"source id {VOCAB} refused (exit {proc.returncode}): {proc.stderr.strip()[-160:]}")
    proc = generate([3], "--max-new-tokens", "2", "--decoder-start", str(VOCAB), expect_ok=False)
    check(proc.returncode == 1 and "decoder start id" in proc.stderr,
          f"decoder start {VOCAB} refused (exit {proc.returncode}): {proc.stderr.strip()[-160:]}")
    if args.specialize:
        proc = generate(list(range(2, 11)), "--max-new-tokens", "2", expect_ok=False)
        check(proc.returncode == 1 and "compiled for seq = 8" in proc.stderr and
              "Traceback" not in proc.stderr,
              f"a source of 9 ids is refused by encode compiled for 8 (exit {proc.returncode}): "
              f"{proc.stderr.strip()[-200:]}")

    # (e) the session: batch 2, the second source padded after 4 tokens.
    src = np.array([[5, 9, 2, 17, 11, 3], [12, 1, 19, 7, 4, 4]], np.int32)
    mask = np.ones_like(src)
    mask[1, 4:] = 0
    dec = np.array([[0, 3, 8, 14, 2, 20, 6, 9], [0, 11, 11, 5, 17, 1, 22, 13]], np.int32)
    text = lambda a: ";".join(",".join(map(str, r)) for r in a)  # noqa: E731
    out = os.path.join(args.workdir, "session")
    os.makedirs(out, exist_ok=True)
    proc = run([args.tool, session_model, wpath, "--out", out, "--src", text(src),
                "--mask", text(mask),
                "--decoder", text(dec), "--prefill", "3", "--threads", "2"])
    cross = [f"cross_{kv}_{i}" for i in range(2) for kv in "kv"]
    check(f"encode-outputs: encoder_states {' '.join(cross)}\n" in proc.stdout,
          "encode returns the encoder states and each decoder layer's cross-attention keys "
          "and values")
    check(f"extra-inputs: {' '.join(cross)} mask\n" in proc.stdout,
          "the session's extra inputs are the cross-attention keys and values and the mask "
          "(not the encoder states: no projection of them runs per decoder step)")
    # encode's outputs against the numpy encoder: the states, and K = enc W_k^T, V = enc W_v^T
    # of each decoder layer's cross-attention.
    enc = numpy_encoder(src, mask)
    expected = {"encoder_states": enc}
    for i in range(2):
        for kv in "kv":
            w = p64[f"decoder.block.{i}.layer.1.EncDecAttention.{kv}.weight"]
            expected[f"cross_{kv}_{i}"] = enc @ w.T
    for name, ref in expected.items():
        path = os.path.join(out, name + ".npy")
        got_t = np.load(path).astype(np.float64) if os.path.exists(path) else np.zeros(0)
        err = float(np.abs(got_t - ref).max()) if got_t.shape == ref.shape else float("inf")
        check(err <= TOL, f"encode output {name} {got_t.shape} vs numpy: max abs error "
                          f"{err:.2e} tol {TOL:.0e}")
    got = np.load(os.path.join(out, "logits.npy")).astype(np.float64)
    check(got.shape == (6, 2, VOCAB), f"session logits shape {got.shape}")
    for call in range(min(got.shape[0], 6)):
        length = 3 + call
        ref = mn.t5_reference(p64, src, mask, dec[:, :length], 2, 2, 4)[:, -1, :]
        err = float(np.abs(got[call] - ref).max())
        check(np.isfinite(got[call]).all() and err <= TOL,
              f"session {'prefill' if call == 0 else f'decode {call}'} at {length} decoder ids, "
              f"batch 2, padded source: max abs error {err:.2e} tol {TOL:.0e}")
    refusals = {
        "prefill-unbound": "is not bound",
        "unknown-name": "has no input 'encoder_output'",
        "wrong-dtype": "element type",
        "wrong-width": "size 2 must be 8",
        "wrong-batch": "the session's batch is 2",
        "prefill-seq-mismatch": "seq = 1 but",
    }
    for case, words in refusals.items():
        line = next((ln for ln in proc.stdout.splitlines() if f" {case}" in ln), "")
        check(line.startswith(f"refused {case}:") and words in line, f"refused {case}: {line}")
    check("accepted bind-short-mask" in proc.stdout and "accepted bind-states" in proc.stdout,
          "binding inputs one at a time is accepted; the mismatch is found by the call")
    line = next((ln for ln in proc.stdout.splitlines() if " shorter-source" in ln), "")
    if args.specialize:
        check(line.startswith("refused shorter-source:") and
              "has seq = 5 but 'prefill' was compiled for seq = 6" in line,
              f"a source shorter than the compiled seq is refused by the session: {line}")
    else:
        check(line == "accepted shorter-source", f"a shorter source runs: {line}")

    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
