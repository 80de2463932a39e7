#!/usr/bin/env python3
"""`kiln run` against Hugging Face transformers (PyTorch, CPU, fp32) on tiny random models.

For each family a tiny model is built by transformers itself with a fixed seed (GPT2LMHeadModel,
BertModel / BertForPreTraining, LlamaForCausalLM), its weights are redrawn at a scale where every
term of the forward pass matters (the default init, std 0.02, makes attention nearly uniform and
GELU nearly linear, and would hide a wrong variant of either), and it is written by
`save_pretrained` (model.safetensors + config.json). The matching example is compiled with
`kilnc examples/<family>.kiln --config <dir>/config.json -o model.kc`, `kiln run` loads the
checkpoint as it is, and every output is compared with the model's own outputs in eval mode:

  gpt2   logits; checkpoints as written by GPT2LMHeadModel.save_pretrained ("transformer."
         prefix, tied lm_head.weight dropped), also sharded (model.safetensors.index.json), and
         as published on the hub (GPT2Model names without a prefix, plus the h.*.attn.bias /
         h.*.attn.masked_bias buffers).
  bert   a padding mask and token type ids. BertModel.save_pretrained (no prefix; compiled with
         --set mlm_head=false, the model file's switch for checkpoints without the MLM head):
         last_hidden_state and pooler_output. BertForPreTraining.save_pretrained ("bert." prefix,
         cls.predictions head, next-sentence head ignored): last_hidden_state, pooler_output and
         the MLM logits. BertForMaskedLM.save_pretrained ("bert." prefix, no pooler; compiled
         with --set add_pooling_layer=false): last_hidden_state and the MLM logits.
         Also the same tensors under the LayerNorm gamma/beta names of the original
         bert-base-uncased files.
  llama  grouped KV heads, rope_theta and rms_norm_eps away from the defaults: logits of
         LlamaForCausalLM.save_pretrained ("model." prefix, untied lm_head.weight), the same
         with the rotary_emb.inv_freq buffers of older checkpoints, and of a
         tie_word_embeddings=True model, whose checkpoint has no lm_head.weight.

Every comparison prints its max abs error and fails above 1e-4. For gpt2 and llama, `kiln
generate` (prefill + decode with the KV cache, greedy) must also produce exactly the ids of
transformers' `model.generate(do_sample=False)` on the saved checkpoint (hf_generate.py).

With --weight-dtype bf16: the example is compiled with `kilnc --weight-dtype=bf16` twice (whole
entry points, and --specialize batch=1,seq=7, BERT batch=2,seq=7, with its tuned dispatches), the f32
checkpoint is loaded as it is (the runtime rounds each bf16 parameter to the nearest bf16), and
the reference is the same transformers model with exactly those tensors rounded by torch
(`.to(torch.bfloat16)`, round to nearest even), computing in fp32: logits within 1e-4 and
greedy ids equal to its generate() (gpt2, llama); BERT (BertForPreTraining): every output.

    hf_numerics.py --model gpt2|bert|llama --kilnc PATH --kiln PATH --examples DIR --workdir DIR
                   [--weight-dtype bf16|int8]

With --weight-dtype int8 the same, compiled with `kilnc --weight-dtype=int8`: the reference
model's tensors `kiln info` lists as i8 are replaced by their per-row int8 quantization q * s
computed by torch from the formula (quantize_stored_int8, written apart from the runtime's
quantizer; GPT-2's tied head is i8, so its token embeddings read the quantized rows too), and
those it lists as bf16 (tables read only by an embedding) rounded as above.
"""
import argparse
import copy
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file

import hf_generate  # beside this file; also makes generate() importable on Debian's torch

TOL = 1e-4
SEED = 1234
BATCH, SEQ = 2, 7


def redraw(model, seed):
    """Redraws every parameter: matrices N(0, 0.2^2) (embeddings 0.5), norm scales 1 + N(0, 0.1^2),
    biases N(0, 0.1^2). Tied parameters are one tensor and stay tied."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=p.dtype)
            is_norm = "norm" in name.lower() or "ln_" in name
            if is_norm and name.endswith("weight"):
                p.copy_(1 + 0.1 * noise)
            elif p.dim() == 1:
                p.copy_(0.1 * noise)
            elif "embed" in name.lower() or name.endswith(("wte.weight", "wpe.weight")):
                p.copy_(0.5 * noise)
            else:
                p.copy_(0.2 * noise)


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc


def ids_text(a):
    return ";".join(",".join(str(int(t)) for t in row) for row in a)


class Checker:
    def __init__(self, args):
        self.args = args
        self.passed = 0
        self.failed = 0

    def compile(self, name, example, ckpt, sets=(), extra=()):
        """kilnc <example> --config <ckpt>/config.json [--set ..] [extra] -o <workdir>/<name>.kc"""
        out = os.path.join(self.args.workdir, f"{name}.kc")
        flags = [a for s in [*sets, *self.args.set] for a in ("--set", s)]
        run([self.args.kilnc, os.path.join(self.args.examples, f"{example}.kiln"), "--config",
             os.path.join(ckpt, "config.json"), *flags, *extra, "-o", out])
        return out

    def check(self, case, kc, weights, inputs, refs):
        """kiln run <kc> --weights <weights> <inputs>; every output in refs compared."""
        out = os.path.join(self.args.workdir, re.sub(r"[^A-Za-z0-9._-]+", "-", case).strip("-"))
        shutil.rmtree(out, ignore_errors=True)
        flags = [a for k, v in inputs.items() for a in (f"--{k}", ids_text(v))]
        run([self.args.kiln, "run", kc, "--weights", weights, *flags, "--output-dir", out,
             "--threads", "2"])
        for output, ref in refs.items():
            ref = ref.detach().to(torch.float64).numpy()
            path = os.path.join(out, f"{output}.npy")
            if not os.path.exists(path):
                print(f"{case} {output}: kiln run wrote no {output}.npy: FAIL")
                self.failed += 1
                continue
            got = np.load(path)
            if got.shape != ref.shape or got.dtype != np.float32:
                print(f"{case} {output}: got {got.dtype} {got.shape}, expected float32 "
                      f"{ref.shape}: FAIL")
                self.failed += 1
                continue
            err = float(np.abs(got.astype(np.float64) - ref).max())
            ok = bool(np.isfinite(got).all()) and err <= TOL
            self.passed += ok
            self.failed += not ok
            print(f"{case} {output} {list(ref.shape)}: max abs error {err:.3e} "
                  f"(|ref| up to {np.abs(ref).max():.2f}) tol {TOL:.0e} {'ok' if ok else 'FAIL'}")


    def check_generate(self, case, kc, saved, prompts, n, reference=None):
        """kiln generate --ids <prompt> greedy, ids equal to transformers' generate() (of the
        save_pretrained folder `reference`, by default the checkpoint itself)."""
        want = hf_generate.generate(reference or saved, prompts, n)
        for prompt, ref in zip(prompts, want):
            proc = run([self.args.kiln, "generate", kc, "--weights", saved, "--ids",
                        ",".join(map(str, prompt)), "--max-new-tokens", str(n), "--ignore-eos",
                        "--threads", "2"])
            got = [int(t) for t in proc.stdout.split()]
            ok = got == ref
            self.passed += ok
            self.failed += not ok
            print(f"{case} prompt {prompt}: kiln generate {got} vs transformers generate {ref}: "
                  f"{'ok' if ok else 'FAIL'}")


def token_ids(gen, vocab):
    return torch.randint(0, vocab, (BATCH, SEQ), generator=gen)


# ---- GPT-2 --------------------------------------------------------------------------------------

def gpt2(c, tmp):
    cfg = transformers.GPT2Config(vocab_size=331, n_positions=24, n_embd=32, n_layer=2, n_head=4,
                                  layer_norm_epsilon=1e-5, activation_function="gelu_new")
    torch.manual_seed(SEED)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    redraw(model, SEED)
    saved = os.path.join(tmp, "gpt2-lmhead")
    model.save_pretrained(saved, safe_serialization=True)
    names = load_file(os.path.join(saved, "model.safetensors"))
    assert all(n.startswith("transformer.") for n in names), sorted(names)[:4]

    # The hub's gpt2/model.safetensors: GPT2Model names (no prefix) with the causal-mask buffers.
    hub = os.path.join(tmp, "gpt2-hub")
    os.makedirs(hub)
    tensors = {n[len("transformer."):]: t for n, t in names.items()}
    P = cfg.n_positions
    for i in range(cfg.n_layer):
        tensors[f"h.{i}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
        tensors[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(tensors, os.path.join(hub, "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(os.path.join(saved, "config.json"), hub)

    # A sharded save_pretrained: model.safetensors.index.json and its shards.
    sharded = os.path.join(tmp, "gpt2-sharded")
    model.save_pretrained(sharded, safe_serialization=True, max_shard_size="20KB")
    assert os.path.exists(os.path.join(sharded, "model.safetensors.index.json"))

    kc = c.compile("gpt2", "gpt2", saved)
    gen = torch.Generator().manual_seed(SEED + 1)
    ids = token_ids(gen, cfg.vocab_size)
    with torch.no_grad():
        logits = model(ids).logits
    c.check("gpt2 GPT2LMHeadModel.save_pretrained", kc, saved, {"ids": ids}, {"logits": logits})
    c.check("gpt2 sharded save_pretrained", kc, sharded, {"ids": ids}, {"logits": logits})
    c.check("gpt2 hub layout", kc, os.path.join(hub, "model.safetensors"), {"ids": ids},
            {"logits": logits})
    # A full-length sequence: every learned position row is used.
    ids = torch.randint(0, cfg.vocab_size, (1, P), generator=gen)
    with torch.no_grad():
        logits = model(ids).logits
    c.check("gpt2 seq=n_positions", kc, saved, {"ids": ids}, {"logits": logits})
    # Greedy generation up to the last position of the cache.
    c.check_generate("gpt2 greedy", kc, saved, [[5, 17, 3], [9, 200, 41, 7, 7, 300]], P - 6)


# ---- BERT ---------------------------------------------------------------------------------------

def bert_config():
    return transformers.BertConfig(vocab_size=313, hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=4, intermediate_size=64,
                                   max_position_embeddings=32, type_vocab_size=2,
                                   layer_norm_eps=1e-12, hidden_act="gelu")


def bert_inputs():
    gen = torch.Generator().manual_seed(SEED + 2)
    ids = token_ids(gen, 313)
    type_ids = torch.randint(0, 2, ids.shape, generator=gen)
    mask = torch.ones(ids.shape, dtype=torch.int64)
    mask[1, 4:] = 0  # right padding in the second sequence
    ids[1, 4:] = 0   # [PAD]
    return {"ids": ids, "type-ids": type_ids, "mask": mask}


def bert(c, tmp):
    cfg = bert_config()
    inputs = bert_inputs()
    hf_in = dict(input_ids=inputs["ids"], token_type_ids=inputs["type-ids"],
                 attention_mask=inputs["mask"])

    # BertModel: no prefix, no MLM head.
    torch.manual_seed(SEED)
    model = transformers.BertModel(cfg).eval()
    redraw(model, SEED)
    saved = os.path.join(tmp, "bert-model")
    model.save_pretrained(saved, safe_serialization=True)
    with torch.no_grad():
        out = model(**hf_in)
    # The model file's own switch: BertModel checkpoints carry no cls.predictions head.
    kc = c.compile("bert-model", "bert", saved, sets=["mlm_head=false"])
    c.check("bert BertModel.save_pretrained", kc, saved, inputs,
            {"last_hidden_state": out.last_hidden_state, "pooler_output": out.pooler_output})

    # BertForPreTraining: "bert." prefix, the MLM head under cls.predictions (decoder tied to the
    # word embeddings, its bias cls.predictions.bias) and the next-sentence head (ignored).
    torch.manual_seed(SEED)
    model = transformers.BertForPreTraining(cfg).eval()
    redraw(model, SEED + 3)
    saved = os.path.join(tmp, "bert-pretraining")
    model.save_pretrained(saved, safe_serialization=True)
    names = load_file(os.path.join(saved, "model.safetensors"))
    assert any(n.startswith("bert.") for n in names) and "cls.predictions.bias" in names
    with torch.no_grad():
        base = model.bert(**hf_in)
        logits = model(**hf_in).prediction_logits
    refs = {"last_hidden_state": base.last_hidden_state, "pooler_output": base.pooler_output,
            "logits": logits}
    kc = c.compile("bert-mlm", "bert", saved)
    c.check("bert BertForPreTraining.save_pretrained", kc, saved, inputs, refs)

    # BertForMaskedLM: "bert." prefix and cls.predictions, but no pooler.
    torch.manual_seed(SEED)
    model = transformers.BertForMaskedLM(cfg).eval()
    redraw(model, SEED + 4)
    mlm = os.path.join(tmp, "bert-maskedlm")
    model.save_pretrained(mlm, safe_serialization=True)
    assert not any("pooler" in n for n in load_file(os.path.join(mlm, "model.safetensors")))
    with torch.no_grad():
        mlm_refs = {"last_hidden_state": model.bert(**hf_in).last_hidden_state,
                    "logits": model(**hf_in).logits}
    # The model file's switch for checkpoints without the pooler.
    mlm_kc = c.compile("bert-mlm-nopool", "bert", mlm, sets=["add_pooling_layer=false"])
    c.check("bert BertForMaskedLM.save_pretrained", mlm_kc, mlm, inputs, mlm_refs)

    if True:  # legacy LayerNorm.gamma / LayerNorm.beta names
        # The original bert-base-uncased naming: LayerNorm.gamma / LayerNorm.beta.
        legacy = os.path.join(tmp, "bert-legacy")
        os.makedirs(legacy)
        renamed = {n.replace("LayerNorm.weight", "LayerNorm.gamma")
                    .replace("LayerNorm.bias", "LayerNorm.beta"): t for n, t in names.items()}
        assert renamed != names
        save_file(renamed, os.path.join(legacy, "model.safetensors"), metadata={"format": "pt"})
        c.check("bert LayerNorm gamma/beta names", kc, os.path.join(legacy, "model.safetensors"),
                inputs, refs)


# ---- LLaMA --------------------------------------------------------------------------------------

def llama(c, tmp):
    gen = torch.Generator().manual_seed(SEED + 4)
    ids = token_ids(gen, 277)
    for tied in (False, True):
        cfg = transformers.LlamaConfig(vocab_size=277, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=2, max_position_embeddings=32,
                                       rms_norm_eps=1e-6, rope_theta=500.0,
                                       tie_word_embeddings=tied)
        torch.manual_seed(SEED)
        model = transformers.LlamaForCausalLM(cfg).eval()
        redraw(model, SEED + 5 + tied)
        kind = "tied" if tied else "untied"
        saved = os.path.join(tmp, f"llama-{kind}")
        model.save_pretrained(saved, safe_serialization=True)
        names = load_file(os.path.join(saved, "model.safetensors"))
        assert ("lm_head.weight" in names) != tied, sorted(names)
        with torch.no_grad():
            logits = model(ids).logits
        kc = c.compile(f"llama-{kind}", "llama", saved)
        c.check(f"llama LlamaForCausalLM.save_pretrained ({kind} head)", kc, saved, {"ids": ids},
                {"logits": logits})
        c.check_generate(f"llama greedy ({kind} head)", kc, saved, [[5, 17, 3, 250]], 16)
        if not tied:
            # Older checkpoints also carry each layer's rotary_emb.inv_freq buffer.
            older = os.path.join(tmp, "llama-inv-freq")
            os.makedirs(older)
            hd = cfg.hidden_size // cfg.num_attention_heads
            inv_freq = 1.0 / cfg.rope_theta ** (torch.arange(0, hd, 2).float() / hd)
            tensors = dict(names)
            for i in range(cfg.num_hidden_layers):
                tensors[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = inv_freq.clone()
            save_file(tensors, os.path.join(older, "model.safetensors"), metadata={"format": "pt"})
            c.check("llama with rotary_emb.inv_freq buffers", kc,
                    os.path.join(older, "model.safetensors"), {"ids": ids}, {"logits": logits})


# ---- bf16 weights -------------------------------------------------------------------------------

def round_stored_bf16(kiln, kc, model, required=True):
    """Rounds, in place and by torch (to nearest even), every tensor of `model` whose checkpoint
    name is the hf_name of a parameter `kiln info <kc>` lists as bf16 (there must be one when
    `required`). Returns how many tensors (tied ones count once per name) and those checkpoint
    names."""
    info = run([kiln, "info", kc]).stdout
    names = set(re.findall(r"^\s+\S+ bf16 \[.*?\bhf: (\S+)", info, re.M))
    if not names and required:
        sys.exit(f"FAIL: kiln info {kc} lists no bf16 parameter:\n{info}")
    count = 0
    with torch.no_grad():
        for name, p in model.state_dict(keep_vars=True).items():
            if any(name == n or name.endswith("." + n) for n in names):
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
                count += 1
    return count, names


def quantize_stored_int8(kiln, kc, model):
    """Replaces, in place and by torch, every tensor of `model` whose checkpoint name is the
    hf_name of a parameter `kiln info <kc>` lists as i8 by its symmetric per-row int8
    quantization: for each row n of the Kiln parameter (an output feature: a column of a
    transposed Conv1D tensor), s = max |w| / 127 (1 for a zero row), q = round half to even of
    w / s clamped to [-127, 127], all in float32, and the tensor becomes q * s. A parameter that
    is a slice along K is quantized per slice. Returns the checkpoint names."""
    info = run([kiln, "info", kc]).stdout
    found = re.findall(r"^\s+\S+ i8 \[.*?\bhf: (\S+)( \[slice \d+/(\d+) axis (\d)\])?"
                       r"( \(transposed\))?  int8_row", info, re.M)
    if not found:
        sys.exit(f"FAIL: kiln info {kc} lists no i8 parameter:\n{info}")
    layouts = {}
    for name, _, count, axis, transposed in found:
        # The Kiln parameter's axis the slice cuts (the manifest counts it in the stored layout).
        kiln_axis = None if not count else (1 - int(axis) if transposed else int(axis))
        layouts[name] = (bool(transposed), kiln_axis, int(count or 1))

    def rows_quantized(w):
        s = w.abs().amax(dim=1) / torch.tensor(127.0, dtype=torch.float32)
        s = torch.where(s == 0, torch.ones_like(s), s)
        q = torch.clamp(torch.round(w / s[:, None]), -127, 127)
        return q * s[:, None]

    done = set()
    with torch.no_grad():
        for name, p in model.state_dict(keep_vars=True).items():
            match = [n for n in layouts if name == n or name.endswith("." + n)]
            if not match:
                continue
            transposed, kiln_axis, count = layouts[match[0]]
            w = p.detach().to(torch.float32)
            w = w.t() if transposed else w
            if kiln_axis == 1:
                w = torch.cat([rows_quantized(part) for part in w.chunk(count, dim=1)], dim=1)
            else:
                w = rows_quantized(w)
            p.copy_(w.t() if transposed else w)
            done.add(match[0])
    if done != set(layouts):
        sys.exit(f"FAIL: no model tensor for {sorted(set(layouts) - done)}")
    return set(layouts)


def bf16(c, tmp, family, dtype="bf16"):
    """--weight-dtype=bf16 against the same model with those weights rounded by torch; with
    dtype int8, the i8 weights quantized by torch (quantize_stored_int8) and the bf16 ones
    rounded."""
    torch.manual_seed(SEED)
    if family == "bert":
        # BertForPreTraining: token type embeddings (bf16 too), the pooler and the MLM head.
        cfg = bert_config()
        model = transformers.BertForPreTraining(cfg).eval()
        prompts = None
    elif family == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=331, n_positions=24, n_embd=32, n_layer=2,
                                      n_head=4, layer_norm_epsilon=1e-5,
                                      activation_function="gelu_new")
        model = transformers.GPT2LMHeadModel(cfg).eval()
        prompts, new = [[5, 17, 3], [9, 200, 41, 7, 7, 300]], 12
    else:
        cfg = transformers.LlamaConfig(vocab_size=277, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=4,
                                       num_key_value_heads=2, max_position_embeddings=32,
                                       rms_norm_eps=1e-6, rope_theta=500.0)
        model = transformers.LlamaForCausalLM(cfg).eval()
        prompts, new = [[5, 17, 3, 250]], 16
    redraw(model, SEED + 9)
    saved = os.path.join(tmp, f"{family}-f32")
    model.save_pretrained(saved, safe_serialization=True)
    gen = torch.Generator().manual_seed(SEED + 10)
    if family == "bert":
        inputs = bert_inputs()
    else:
        inputs = {"ids": token_ids(gen, cfg.vocab_size)}
    # The specialized artifact of a decoder runs one sequence (its prefill / decode are cut for
    # batch 1 too); BERT's has only forward.
    spec_rows = BATCH if family == "bert" else 1
    for how, extra, rows in (("whole entry points", [], BATCH),
                             (f"--specialize batch={spec_rows},seq={SEQ}",
                              ["--specialize", f"batch={spec_rows},seq={SEQ}"], spec_rows)):
        kc = c.compile(f"{family}-{dtype}-{'spec' if extra else 'whole'}", family, saved,
                       extra=[f"--weight-dtype={dtype}", *extra])
        rounded = copy.deepcopy(model)
        quantized = set()
        if dtype == "int8":
            quantized = quantize_stored_int8(c.args.kiln, kc, rounded)
        # With int8, GPT-2 has no bf16 table (its only one is its tied head); LLaMA's and
        # BERT's are checked by the count below.
        count, hf_names = round_stored_bf16(c.args.kiln, kc, rounded, required=dtype == "bf16")
        # Every linear weight is i8 (a tied head's too: GPT-2's wte); tables read only by an
        # embedding are bf16.
        if dtype == "int8" and (not quantized or quantized & hf_names):
            sys.exit(f"FAIL: i8 {sorted(quantized)} and bf16 {sorted(hf_names)} tensors")
        count += len(quantized)
        hf_names |= quantized
        # Every linear weight and every token embedding table (GPT-2's is its tied head) are
        # rounded; position tables stay f32, and BERT's next-sentence head is not in the model.
        expected = sum(1 for n, p in rounded.named_parameters()
                       if p.dim() == 2 and not n.endswith(("wpe.weight", "position_embeddings.weight"))
                       and "seq_relationship" not in n)
        if count != expected:
            sys.exit(f"FAIL: {count} {dtype} tensors, expected the {expected} weight matrices "
                     f"({sorted(hf_names)})")
        batch = {k: v[:rows] for k, v in inputs.items()}
        with torch.no_grad():
            if family == "bert":
                hf_in = dict(input_ids=batch["ids"], token_type_ids=batch["type-ids"],
                             attention_mask=batch["mask"])
                out, f32_out = rounded.bert(**hf_in), model.bert(**hf_in)
                refs = {"last_hidden_state": out.last_hidden_state,
                        "pooler_output": out.pooler_output,
                        "logits": rounded(**hf_in).prediction_logits}
                drift = float((refs["logits"] - model(**hf_in).prediction_logits).abs().max())
            else:
                refs = {"logits": rounded(batch["ids"]).logits}
                drift = float((refs["logits"] - model(batch["ids"]).logits).abs().max())
        print(f"{family} {dtype} ({how}): {count} tensors rounded ({len(quantized)} "
              f"quantized to int8); they move the logits by up to {drift:.3e}")
        case = f"{family} --weight-dtype={dtype} ({how})"
        c.check(case, kc, saved, batch, refs)
        if prompts is None:
            continue
        reference = os.path.join(tmp, f"{family}-rounded")
        shutil.rmtree(reference, ignore_errors=True)
        rounded.save_pretrained(reference, safe_serialization=True)
        c.check_generate(case + " greedy", kc, saved, prompts, new, reference=reference)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["gpt2", "bert", "llama"], required=True)
    ap.add_argument("--kilnc", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--weight-dtype", choices=["f32", "bf16", "int8"], default="f32",
                    help="bf16, int8: compile with kilnc --weight-dtype=bf16 (int8)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra kilnc --set for every compile (to check that a wrong config "
                         "fails the comparison)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(f"reference: transformers {transformers.__version__}, torch {torch.__version__} "
          f"(CPU, fp32, eval, eager attention)")
    shutil.rmtree(args.workdir, ignore_errors=True)
    tmp = os.path.join(args.workdir, "checkpoints")
    os.makedirs(tmp)
    c = Checker(args)
    if args.weight_dtype != "f32":
        bf16(c, tmp, args.model, args.weight_dtype)
    else:
        {"gpt2": gpt2, "bert": bert, "llama": llama}[args.model](c, tmp)
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed or not c.passed else 0


if __name__ == "__main__":
    sys.exit(main())
