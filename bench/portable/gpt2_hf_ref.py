"""GPT-2 124M logits from transformers for weights in Kiln names (`kiln init` output).

    gpt2_hf_ref.py WEIGHTS IDS OUT.npy

The Kiln-named tensors are mapped to GPT2LMHeadModel's (fused c_attn, Conv1D layouts) by hand here,
independently of the model file's hf names; used by bench/portable as the numerics check of code
built for another machine.
"""
import sys
import numpy as np
import torch
import transformers
from safetensors.torch import load_file

weights, ids, out = sys.argv[1], sys.argv[2], sys.argv[3]
kw = load_file(weights)
cfg = transformers.GPT2Config(n_layer=12, n_embd=768, n_head=12, n_inner=3072, vocab_size=50257,
                              n_positions=1024, activation_function="gelu_new",
                              layer_norm_epsilon=1e-5)
model = transformers.GPT2LMHeadModel(cfg).eval()
sd = {"wte.weight": kw["wte.weight"], "wpe.weight": kw["wpe.weight"],
      "ln_f.weight": kw["ln_f.weight"], "ln_f.bias": kw["ln_f.bias"]}
for i in range(12):
    p = f"h.{i}."
    for ln in ("ln_1", "ln_2"):
        for t in ("weight", "bias"):
            sd[p + f"{ln}.{t}"] = kw[p + f"{ln}.{t}"]
    sd[p + "attn.c_attn.weight"] = torch.cat([kw[p + f"attn.{x}.weight"].T for x in "qkv"], 1)
    sd[p + "attn.c_attn.bias"] = torch.cat([kw[p + f"attn.{x}.bias"] for x in "qkv"], 0)
    sd[p + "attn.c_proj.weight"] = kw[p + "attn.o.weight"].T.contiguous()
    sd[p + "attn.c_proj.bias"] = kw[p + "attn.o.bias"]
    sd[p + "mlp.c_fc.weight"] = kw[p + "mlp.up.weight"].T.contiguous()
    sd[p + "mlp.c_fc.bias"] = kw[p + "mlp.up.bias"]
    sd[p + "mlp.c_proj.weight"] = kw[p + "mlp.down.weight"].T.contiguous()
    sd[p + "mlp.c_proj.bias"] = kw[p + "mlp.down.bias"]
missing, unexpected = model.transformer.load_state_dict(sd, strict=False)
missing = [m for m in missing if not m.endswith("attn.bias") and not m.endswith("masked_bias")]
assert not missing and not unexpected, (missing, unexpected)
model.tie_weights()
with torch.no_grad():
    logits = model(torch.tensor([[int(x) for x in ids.split(",")]])).logits
np.save(out, logits.numpy().astype(np.float32))
print("reference logits", logits.shape, float(logits.abs().max()))
