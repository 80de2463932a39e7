#!/usr/bin/env python3
"""T5 generation against Hugging Face transformers (PyTorch, CPU, fp32).

A tiny random T5ForConditionalGeneration (relu feed-forward, tied head, 2 + 2 layers) is built by
transformers with a fixed seed, its weights are redrawn at a scale where every term matters (as
hf_numerics.py does, then scaled up so that greedy ids vary along the sequence), and it is
written by save_pretrained. examples/t5.kiln is compiled with
`kilnc --config <dir>/config.json -o t5.kc` and the checkpoint is loaded as it is:

  - `kiln run` logits (forward over a padded batch: source mask, decoder ids) equal the model's,
    max abs error <= 1e-4;
  - `kiln generate --ids SRC` (encode once, then decoder prefill + decode with the runtime's KV
    cache, greedy) prints exactly the new ids of
    `T5ForConditionalGeneration.generate(do_sample=False, num_beams=1)` (its decoder start id
    dropped), for sources of several lengths, over the whole decoder capacity.

With --specialize SPEC the artifact is compiled by `kilnc --specialize SPEC` (encode, prefill and
decode cut into per-op dispatches at static sizes; kiln generate pads each source to the
compiled `seq` and masks the padding) and only the generation checks run (the padded batch of
the forward check has another batch size).

With --weight-dtype bf16 the artifact stores its weight matrices and the shared embedding as
bf16 (`kilnc --weight-dtype=bf16`) and loads the f32 checkpoint rounded; the reference is the
same transformers model with exactly the tensors `kiln info` lists as bf16 rounded by torch.

    hf_t5_generate.py --kilnc PATH --kiln PATH --examples DIR --workdir DIR [--specialize SPEC]
                      [--weight-dtype bf16]
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import transformers

import hf_generate  # noqa: F401  (beside this file; makes generate() importable on Debian's torch)
from hf_numerics import redraw, round_stored_bf16

TOL = 1e-4
SEED = 4321
CAPACITY = 24


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def ids_text(a):
    return ";".join(",".join(str(int(t)) for t in row) for row in a)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kilnc", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--specialize", default="")
    ap.add_argument("--weight-dtype", choices=["f32", "bf16"], default="f32")
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(f"reference: transformers {transformers.__version__}, torch {torch.__version__} "
          f"(CPU, fp32, eval)")
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        passed += bool(ok)
        failed += not ok
        print(f"{what}: {'ok' if ok else 'FAIL'}")

    cfg = transformers.T5Config(vocab_size=131, d_model=32, d_kv=8, d_ff=48, num_layers=2,
                                num_decoder_layers=2, num_heads=4, feed_forward_proj="relu",
                                tie_word_embeddings=True, n_positions=CAPACITY,
                                decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)
    torch.manual_seed(SEED)
    model = transformers.T5ForConditionalGeneration(cfg).eval()
    redraw(model, SEED + 1)
    with torch.no_grad():  # larger still, so that greedy ids change along the sequence
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.mul_(5.0 if name == "shared.weight" else 4.0)
    saved = os.path.join(args.workdir, "t5-tiny")
    model.save_pretrained(saved, safe_serialization=True)
    kc = os.path.join(args.workdir, "t5.kc")
    spec = ["--specialize", args.specialize] if args.specialize else []
    proc = run([args.kilnc, os.path.join(args.examples, "t5.kiln"), "--config",
                os.path.join(saved, "config.json"), *spec,
                f"--weight-dtype={args.weight_dtype}", "-o", kc])
    if args.weight_dtype == "bf16":
        rounded, names = round_stored_bf16(args.kiln, kc, model)
        # The shared embedding (tied head) and every projection; not the relative position bias.
        matrices = sum(1 for n, p in model.named_parameters()
                       if p.dim() == 2 and "relative_attention_bias" not in n)
        check(rounded >= matrices and not any("relative_attention_bias" in n for n in names),
              f"kilnc --weight-dtype=bf16: {rounded} tensors bf16 ({matrices} weight matrices)")
    if args.specialize:
        check("warning" not in proc.stderr,
              f"kilnc --specialize {args.specialize} cuts encode, prefill and decode "
              f"{proc.stderr.strip()[-200:]}")
    else:
        forward_check(args, cfg, model, kc, saved, check)
    generate_check(args, cfg, model, kc, saved, check)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


def forward_check(args, cfg, model, kc, saved, check):
    # Forward: a padded batch of two sources.
    gen = torch.Generator().manual_seed(SEED + 2)
    ids = torch.randint(2, cfg.vocab_size, (2, 9), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    decoder_ids = torch.cat([torch.zeros(2, 1, dtype=torch.long),
                             torch.randint(2, cfg.vocab_size, (2, 5), generator=gen)], 1)
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    out = os.path.join(args.workdir, "forward")
    run([args.kiln, "run", kc, "--weights", saved, "--ids", ids_text(ids), "--mask",
         ids_text(mask), "--input", "decoder_ids=" + ids_text(decoder_ids), "--output-dir", out,
         "--threads", "2"])
    got = np.load(os.path.join(out, "logits.npy")).astype(np.float64)
    ref = ref.to(torch.float64).numpy()
    err = float(np.abs(got - ref).max()) if got.shape == ref.shape else float("inf")
    check(err <= TOL, f"t5 forward logits {list(ref.shape)}: max abs error {err:.3e} "
                      f"(|ref| up to {np.abs(ref).max():.2f}) tol {TOL:.0e}")


def generate_check(args, cfg, model, kc, saved, check):
    # Greedy generation over the whole decoder capacity (start id + CAPACITY - 1 new ids).
    gc = model.generation_config
    gc.eos_token_id = None  # a random model emits any id
    gc.bos_token_id = None
    new = CAPACITY - 1
    for source in ([17, 5, 99, 42, 8, 23, 61, 1], [7], [120, 3, 3, 64, 11, 2, 90, 45, 33, 18,
                                                        77, 5, 1]):
        src = torch.tensor([source])
        with torch.no_grad():
            seq = model.generate(src, attention_mask=torch.ones_like(src), do_sample=False,
                                 num_beams=1, max_new_tokens=new,
                                 generation_config=gc)[0].tolist()
        want = seq[1:]  # drop the decoder start id
        proc = run([args.kiln, "generate", kc, "--weights", saved, "--ids",
                    ",".join(map(str, source)), "--max-new-tokens", str(new), "--ignore-eos",
                    "--threads", "2"])
        got_ids = [int(t) for t in proc.stdout.split()]
        check(got_ids == want and seq[0] == cfg.decoder_start_token_id,
              f"t5 source of {len(source)} ids: kiln generate {got_ids} vs transformers "
              f"generate {want}")


if __name__ == "__main__":
    sys.exit(main())
