#!/usr/bin/env python3
"""Greedy generation by Hugging Face transformers: the reference for `kiln generate`.

    hf_generate.py MODEL_DIR --ids "1,2,3;4,5,6" --max-new-tokens N [--eos ID ...] [--full]
    hf_generate.py --self-test WORKDIR

MODEL_DIR is a folder written by save_pretrained (config.json + model.safetensors) of a causal LM
(GPT2LMHeadModel, LlamaForCausalLM, ...). Each prompt (`;` separates prompts, `,` ids) is run on
its own, without padding, through `model.generate(do_sample=False, max_new_tokens=N)` in fp32 on
the CPU, and one line per prompt is printed: the new ids, comma-separated (with --full, the prompt
first). Generation stops early only at an --eos id: the eos_token_id of the model's config and
generation_config.json is dropped, since random tiny models emit any id.

--self-test builds tiny random GPT-2 and LLaMA models, saves them under WORKDIR and checks this
script's output against a greedy loop that recomputes the whole sequence each step (no KV cache).
"""
import argparse
import os
import subprocess
import sys

import torch
import transformers
import transformers.generation.utils

# Debian's torch 1.13 cannot import torch.distributed.fsdp under Python 3.11 (a dataclass with a
# mutable default); generate() only asks whether the model is FSDP-wrapped, and it never is here.
transformers.generation.utils.is_fsdp_managed_module = lambda module: False


def parse_ids(text):
    try:
        prompts = [[int(t) for t in row.split(",")] for row in text.split(";")]
    except ValueError:
        sys.exit(f"hf_generate.py: --ids: expected comma-separated integers with ';' between "
                 f"prompts, got '{text}'")
    if any(not row for row in prompts):
        sys.exit("hf_generate.py: --ids: empty prompt")
    return prompts


def generate(model_dir, prompts, max_new_tokens, eos=(), full=False):
    """Returns, for each prompt, the greedy continuation (or the whole sequence with full)."""
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        sys.exit(f"hf_generate.py: {model_dir}: no config.json (expected a save_pretrained folder)")
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size
    gc = model.generation_config
    gc.eos_token_id = list(eos) or None
    gc.pad_token_id = eos[0] if eos else 0
    gc.bos_token_id = None
    out = []
    for prompt in prompts:
        bad = [t for t in prompt if not 0 <= t < vocab]
        if bad:
            sys.exit(f"hf_generate.py: {model_dir}: token id {bad[0]} outside the vocabulary "
                     f"(size {vocab})")
        ids = torch.tensor([prompt])
        with torch.no_grad():
            seq = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 num_beams=1, max_new_tokens=max_new_tokens,
                                 generation_config=gc)
        seq = seq[0].tolist()
        out.append(seq if full else seq[len(prompt):])
    return out


def greedy_no_cache(model, prompt, n):
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            logits = model(torch.tensor([seq]), use_cache=False).logits[0, -1]
            seq.append(int(torch.argmax(logits)))
    return seq[len(prompt):]


def self_test(workdir):
    torch.manual_seed(0)
    models = {
        "gpt2": transformers.GPT2LMHeadModel(transformers.GPT2Config(
            vocab_size=211, n_positions=32, n_embd=32, n_layer=2, n_head=4)),
        "llama": transformers.LlamaForCausalLM(transformers.LlamaConfig(
            vocab_size=211, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)),
    }
    prompts = "5,17,3;9,200,41,7,7"
    failed = 0
    for name, model in models.items():
        with torch.no_grad():  # a scale at which the argmax depends on the whole context
            for p in model.parameters():
                p.mul_(10.0 if p.dim() > 1 else 1.0)
        model.eval()
        path = os.path.join(workdir, name)
        model.save_pretrained(path, safe_serialization=True)
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), path, "--ids", prompts,
                               "--max-new-tokens", "12"], capture_output=True, text=True,
                              timeout=300)
        got = proc.stdout.split()
        want = [",".join(map(str, greedy_no_cache(model, p, 12))) for p in parse_ids(prompts)]
        ok = proc.returncode == 0 and got == want
        failed += not ok
        print(f"{name}: generate {got} vs no-cache greedy {want}: {'ok' if ok else 'FAIL'}")
        if proc.returncode:
            print(proc.stderr[-3000:])
    print(f"{len(models) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", nargs="?")
    ap.add_argument("--ids")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--eos", type=int, action="append", default=[])
    ap.add_argument("--full", action="store_true", help="print the prompt ids too")
    ap.add_argument("--self-test", metavar="WORKDIR")
    args = ap.parse_args()
    if args.self_test:
        os.makedirs(args.self_test, exist_ok=True)
        return self_test(args.self_test)
    if not args.model_dir or not args.ids:
        ap.error("MODEL_DIR and --ids are required")
    if args.max_new_tokens < 1:
        ap.error("--max-new-tokens must be at least 1")
    torch.set_num_threads(2)
    for row in generate(args.model_dir, parse_ids(args.ids), args.max_new_tokens, args.eos,
                        args.full):
        print(",".join(map(str, row)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
