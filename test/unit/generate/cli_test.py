#!/usr/bin/env python3
"""`kiln generate` end to end: a tiny GPT-2 compiled by kilnc (prefill / decode), random weights
in the Hugging Face layout, and the tokens checked against the numpy GPT-2 of
test/e2e/run_numerics.py driven by numpy processors written from the Hugging Face definitions
(reference_test.py): greedy, repetition penalty, seeded sampling, EOS from --eos and from
tokenizer_config.json, capacity, streamed text against Hugging Face `tokenizers`' decode of the
same ids; and the command line's usage errors and exit codes.

    cli_test.py --kiln PATH [--kilnc PATH --examples DIR] --workdir DIR --tokenizer BPE_JSON

Without --kilnc only the command-line checks that need no model run.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "e2e"))
import reference_test as ref  # noqa: E402  (the Hugging Face processors in numpy)

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def kiln(args, *extra):
    p = subprocess.run([args.kiln, "generate", *extra], capture_output=True, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "surrogateescape"), \
        p.stderr.decode("utf-8", "replace")


def usage_checks(args):
    rc, out, _ = kiln(args, "--help")
    check(rc == 0 and all(f in out for f in ["--max-new-tokens", "--temperature", "--top-k",
                                              "--top-p", "--repetition-penalty", "--seed",
                                              "--eos", "Exit status"]), "--help")
    cases = [
        ([], "missing the artifact"),
        (["m.kc", "--ids", "1"], "--weights"),
        (["m.kc", "--weights", "w", "--max-new-tokens", "3"], "--ids IDS or --prompt"),
        (["m.kc", "--weights", "w", "--ids", "1", "--prompt", "x", "--max-new-tokens", "3"],
         "not both"),
        (["m.kc", "--weights", "w", "--prompt", "x", "--max-new-tokens", "3"], "--tokenizer"),
        (["m.kc", "--weights", "w", "--ids", "1"], "--max-new-tokens"),
        (["m.kc", "--weights", "w", "--ids", "1,x", "--max-new-tokens", "3"], "'x'"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "0"], "--max-new-tokens"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "3", "--temperature", "-1"],
         "--temperature"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "3", "--top-p", "1.5"],
         "--top-p"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "3", "--top-k", "-2"],
         "--top-k"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "3",
          "--repetition-penalty", "0"], "--repetition-penalty"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "3", "--seed", "-1"],
         "--seed"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "3", "--eos", "2",
          "--ignore-eos"], "contradict"),
        (["m.kc", "--weights", "w", "--ids", "1", "--max-new-tokens", "3", "--bogus"], "--bogus"),
        (["m.kc", "--weights"], "needs a value"),
    ]
    for argv, needle in cases:
        rc, _, err = kiln(args, *argv)
        check(rc == 2 and needle in err, f"usage error {argv} -> exit 2 mentioning '{needle}' "
                                         f"(got {rc}: {err.strip()[:120]})")
    rc, _, err = kiln(args, "/nonexistent.kc", "--weights", "w", "--ids", "1",
                      "--max-new-tokens", "2")
    check(rc == 1 and "/nonexistent.kc" in err, f"missing artifact -> exit 1 naming it ({rc})")
    rc, _, err = kiln(args, "m.kc", "--weights", "w", "--prompt", "x", "--tokenizer",
                      "/nonexistent.json", "--max-new-tokens", "2")
    check(rc == 1 and "/nonexistent.json" in err, f"missing tokenizer -> exit 1 naming it ({rc})")


def model_checks(args):
    import run_numerics as rn
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(args.tokenizer)
    capacity = 24
    config = dict(rn.CONFIG, n_positions=capacity, vocab_size=hf.get_vocab_size(True))
    model = os.path.join(args.workdir, "gpt2.kc")
    wpath = os.path.join(args.workdir, "gpt2.safetensors")
    sets = [a for k, v in config.items() for a in ("--set", f"{k}={v}")]
    p = subprocess.run([args.kilnc, os.path.join(args.examples, "gpt2.kiln"), *sets, "-o", model],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        check(False, f"kilnc: {p.stderr[-2000:]}")
        return
    weights = rn.hf_weights(np.random.default_rng(5), config)
    save_file(weights, wpath)
    w64 = {k: v.astype(np.float64) for k, v in weights.items()}

    def logits(seq):  # the last position's logits as float32, as the model hands them over
        return rn.gpt2(w64, np.array([seq]), config["n_layer"], config["n_head"])[0, -1] \
            .astype(np.float32)

    def reference(prompt, n, t=0.0, k=0, p=1.0, r=1.0, seed=0, eos=()):
        rng = ref.Rng(seed)
        seq, out, margins = list(prompt), [], []
        while len(out) < n and len(seq) < capacity:
            s = logits(seq)
            if r != 1.0:
                s = ref.repetition_penalty(s, seq, r)
            if t == 0:
                top2 = np.sort(s)[-2:]
                margins.append(float(top2[1] - top2[0]))
                tok = int(np.argmax(s))
            else:
                s = ref.temperature(s, t)
                if k > 0:
                    s = ref.top_k(s, k)
                tok = ref.draw(ref.top_p(s, p), rng.uniform())
            seq.append(tok)
            out.append(tok)
            if tok in eos:
                break
        return out, (min(margins) if margins else None)

    def gen(*extra):
        return kiln(args, model, "--weights", wpath, "--threads", "2", *extra)

    def ids_of(out):
        return [int(t) for t in out.split()]

    prompt = [int(t) for t in np.random.default_rng(9).integers(0, config["vocab_size"], 5)]
    ptext = ",".join(map(str, prompt))

    want, margin = reference(prompt, 10)
    rc, out, err = gen("--ids", ptext, "--max-new-tokens", "10")
    check(rc == 0 and ids_of(out) == want and out.endswith("\n"),
          f"greedy ids {ids_of(out)} == numpy {want} (smallest top-2 margin {margin:.2e})")
    check("5 prompt tokens, 10 new tokens, stopped by max-new-tokens" in err, f"stats: {err.strip()}")

    want, margin = reference(prompt, 10, r=1.8)
    rc, out, err = gen("--ids", ptext, "--max-new-tokens", "10", "--repetition-penalty", "1.8")
    check(rc == 0 and ids_of(out) == want,
          f"greedy + repetition penalty {ids_of(out)} == numpy {want} (margin {margin:.2e})")

    for seed, t, k, p in [(1, 0.9, 40, 0.9), (2, 1.3, 0, 1.0), (3, 0.7, 5, 1.0), (4, 1.0, 0, 0.5)]:
        want, _ = reference(prompt, 12, t=t, k=k, p=p, r=1.1, seed=seed)
        rc, out, err = gen("--ids", ptext, "--max-new-tokens", "12", "--temperature", str(t),
                           "--top-k", str(k), "--top-p", str(p), "--repetition-penalty", "1.1",
                           "--seed", str(seed))
        check(rc == 0 and ids_of(out) == want,
              f"sampled seed={seed} T={t} k={k} p={p}: {ids_of(out)} == numpy {want}")

    greedy, _ = reference(prompt, 10)
    rc, out, err = gen("--ids", ptext, "--max-new-tokens", "10", "--eos", f"{greedy[2]}")
    check(rc == 0 and ids_of(out) == greedy[:3] and "stopped by eos" in err,
          f"--eos {greedy[2]}: {ids_of(out)} == {greedy[:3]}")

    rc, out, err = gen("--ids", ptext, "--max-new-tokens", "100", "--ignore-eos")
    want, _ = reference(prompt, 100)
    check(rc == 0 and ids_of(out) == want and len(want) == capacity - len(prompt)
          and "stopped by capacity" in err, f"capacity: {len(ids_of(out))} new tokens")

    # EOS from tokenizer_config.json beside the tokenizer; a broken one is an error.
    tokdir = os.path.join(args.workdir, "tok")
    os.makedirs(tokdir, exist_ok=True)
    shutil.copy(args.tokenizer, os.path.join(tokdir, "tokenizer.json"))
    with open(os.path.join(tokdir, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": {"content": hf.id_to_token(greedy[1])}}, f)
    rc, out, err = gen("--ids", ptext, "--tokenizer", os.path.join(tokdir, "tokenizer.json"),
                       "--max-new-tokens", "10")
    check(rc == 0 and ids_of(out) == greedy[:2] and "stopped by eos" in err,
          f"eos_token of tokenizer_config.json: {ids_of(out)} == {greedy[:2]}")
    with open(os.path.join(tokdir, "tokenizer_config.json"), "w") as f:
        f.write("{broken")
    rc, out, err = gen("--ids", ptext, "--tokenizer", os.path.join(tokdir, "tokenizer.json"),
                       "--max-new-tokens", "10")
    check(rc == 1 and "tokenizer_config.json" in err, f"broken tokenizer_config.json -> exit 1 ({rc})")

    # EOS from the generation_config.json beside the weights (an id or a list of ids), together
    # with the tokenizer config's; a broken one is an error naming it, an id outside the
    # vocabulary a note.
    ckpt = os.path.join(args.workdir, "ckpt")
    os.makedirs(ckpt, exist_ok=True)
    ckpt_weights = os.path.join(ckpt, "model.safetensors")
    shutil.copy(wpath, ckpt_weights)
    gen_config = os.path.join(ckpt, "generation_config.json")

    def until(*eos):  # the greedy ids up to the first of `eos`, which ends them
        return next(greedy[:i + 1] for i, t in enumerate(greedy) if t in eos)

    def gen_ckpt(*extra):
        return kiln(args, model, "--weights", ckpt_weights, "--threads", "2", "--ids", ptext,
                    "--max-new-tokens", "10", *extra)

    with open(gen_config, "w") as f:
        json.dump({"eos_token_id": [greedy[4], greedy[3]], "pad_token_id": 0}, f)
    rc, out, err = gen_ckpt()
    check(rc == 0 and ids_of(out) == until(greedy[4], greedy[3]) and "stopped by eos" in err,
          f"eos_token_id list of generation_config.json: {ids_of(out)} == "
          f"{until(greedy[4], greedy[3])}")
    with open(gen_config, "w") as f:
        json.dump({"eos_token_id": greedy[5]}, f)
    rc, out, err = kiln(args, model, "--weights", ckpt, "--threads", "2", "--ids", ptext,
                        "--max-new-tokens", "10")
    check(rc == 0 and ids_of(out) == until(greedy[5]), f"one eos_token_id, --weights FOLDER: "
          f"{ids_of(out)} == {until(greedy[5])}")
    with open(os.path.join(tokdir, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": {"content": hf.id_to_token(greedy[1])}}, f)
    rc, out, err = gen_ckpt("--tokenizer", os.path.join(tokdir, "tokenizer.json"))
    check(rc == 0 and ids_of(out) == until(greedy[5], greedy[1]),
          f"generation_config.json and tokenizer_config.json together: {ids_of(out)} == "
          f"{until(greedy[5], greedy[1])}")
    rc, out, err = gen_ckpt("--eos", str(greedy[2]))
    check(rc == 0 and ids_of(out) == until(greedy[2]), f"--eos replaces generation_config.json: "
          f"{ids_of(out)} == {until(greedy[2])}")
    with open(gen_config, "w") as f:
        json.dump({"eos_token_id": [config["vocab_size"], greedy[3]]}, f)
    rc, out, err = gen_ckpt()
    check(rc == 0 and ids_of(out) == until(greedy[3]) and "never ends a sequence" in err,
          f"an eos_token_id outside the vocabulary is noted and left out: {err.strip()[-160:]}")
    for text, what in [("{broken", "not a JSON object"),
                       (json.dumps({"eos_token_id": "</s>"}), "must be an id"),
                       (json.dumps({"eos_token_id": [2, 1.5]}), "must be an id")]:
        with open(gen_config, "w") as f:
            f.write(text)
        rc, out, err = gen_ckpt()
        check(rc == 1 and "generation_config.json" in err and what in err,
              f"generation_config.json {text!r} -> exit 1: {err.strip()[-160:]}")

    # Sampling defaults from generation_config.json, as Hugging Face's generate() reads them:
    # with do_sample, its temperature / top_k (default 50) / top_p for each flag not given;
    # repetition_penalty with or without do_sample; flags win. Against the numpy sampler.
    def sampled_with(cfg, *flags, seed=3, **want_args):
        with open(gen_config, "w") as f:
            json.dump(cfg, f)
        want, _ = reference(prompt, 10, seed=seed, **want_args)
        rc, out, err = gen_ckpt("--seed", str(seed), *flags)
        check(rc == 0 and ids_of(out) == want,
              f"generation_config.json {cfg} {' '.join(flags)}: {ids_of(out)} == numpy {want}")
        return err

    err = sampled_with({"do_sample": True, "temperature": 0.8, "top_k": 7, "top_p": 0.9,
                        "repetition_penalty": 1.2}, t=0.8, k=7, p=0.9, r=1.2)
    check("temperature 0.8, top-k 7, top-p 0.9, repetition penalty 1.2 from" in err,
          f"the defaults taken are named on stderr: {err.strip()[-200:]}")
    sampled_with({"do_sample": True}, seed=4, t=1.0, k=50)
    sampled_with({"do_sample": False, "temperature": 0.8, "repetition_penalty": 1.3}, r=1.3)
    sampled_with({"temperature": 0.8, "top_k": 7}, "--temperature", "0.7", t=0.7)
    sampled_with({"do_sample": True, "temperature": 0.8, "top_k": 7, "top_p": 0.9,
                  "repetition_penalty": 1.2}, "--temperature", "0", "--repetition-penalty", "1",
                 r=1.0)
    sampled_with({"do_sample": True, "temperature": 0.8, "top_k": 7}, "--top-k", "0",
                 "--top-p", "0.5", t=0.8, k=0, p=0.5)
    for cfg, what in [({"do_sample": "yes"}, "do_sample must be true or false"),
                      ({"do_sample": True, "temperature": -1}, "temperature must be"),
                      ({"top_k": 2.5}, "top_k must be a whole number"),
                      ({"top_p": 1.5}, "top_p must be a number in [0, 1]"),
                      ({"repetition_penalty": 0}, "repetition_penalty must be")]:
        with open(gen_config, "w") as f:
            json.dump(cfg, f)
        rc, out, err = gen_ckpt()
        check(rc == 1 and "generation_config.json" in err and what in err,
              f"generation_config.json {cfg} -> exit 1: {err.strip()[-160:]}")

    # Text: the prompt encoded as Hugging Face encodes it, the output equal to its decode.
    text = "Hi \U0001F44B\U0001F3FD h\u00e9llo \u4e16\u754c"
    enc = hf.encode(text).ids
    want, _ = reference(enc, 14)
    rc, out, err = gen("--prompt", text, "--tokenizer", args.tokenizer, "--max-new-tokens", "14")
    decoded = hf.decode(want)
    check(rc == 0 and out == decoded + "\n",
          f"streamed text {out[:-1]!r} == tokenizers' decode of numpy's ids {decoded!r}")
    check(f"{len(enc)} prompt tokens" in err, "the prompt is encoded as Hugging Face does")

    # Bad input: ids outside the vocabulary, a prompt longer than the context, --eos outside.
    rc, _, err = gen("--ids", f"1,{config['vocab_size']}", "--max-new-tokens", "2")
    check(rc == 1 and "outside the vocabulary" in err, f"id outside the vocabulary -> 1: {err.strip()}")
    rc, _, err = gen("--ids", ",".join(["1"] * (capacity + 1)), "--max-new-tokens", "2")
    check(rc == 1 and "context" in err, f"prompt longer than the context -> 1: {err.strip()}")
    rc, _, err = gen("--ids", "1", "--max-new-tokens", "2", "--eos", "999999")
    check(rc == 1 and "999999" in err, f"--eos outside the vocabulary -> 1: {err.strip()}")
    rc, _, err = kiln(args, model, "--weights", "/nonexistent.safetensors", "--ids", "1",
                      "--max-new-tokens", "2")
    check(rc == 1 and "/nonexistent.safetensors" in err, f"missing weights -> 1 naming them ({rc})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--kilnc")
    ap.add_argument("--examples")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--tokenizer", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    usage_checks(args)
    if args.kilnc:
        model_checks(args)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
