#!/usr/bin/env python3
"""Writes a GPT-2 124M GGUF with random weights, for llama.cpp's llama-bench beside Kiln's
kiln-model-bench (bench/README.md, "llama.cpp on the same machine").

The model is `examples/gpt2.kiln`'s: n_layer 12, n_head 12, n_embd 768, n_ff 3072, n_ctx 1024,
vocab 50257, pre-LN, LayerNorm eps 1e-5, tanh GELU, tied lm head (no output.weight: llama.cpp
falls back to token_embd.weight). Matrices normal(0, 0.02), LayerNorm weights 1, biases 0, one
seed, so the f32 and f16 files hold the same values.

The tokenizer is synthetic, GPT-2-style byte-level BPE (tokenizer.ggml.model "gpt2", pre
"gpt-2"): 256 byte tokens in GPT-2's bytes_to_unicode alphabet, 50000 two-character filler
tokens with matching merges and <|endoftext|> (50256) as bos / eos / unk. llama-bench feeds
random token ids, so the vocabulary only has to load.

    PYTHONPATH=<llama.cpp>/gguf-py python3 gpt2_gguf.py --outtype f32 --out gpt2-f32.gguf
    PYTHONPATH=<llama.cpp>/gguf-py python3 gpt2_gguf.py --outtype f16 --out gpt2-f16.gguf

f16 follows convert_hf_to_gguf.py --outtype f16: the 2-D matrices (token_embd, attn_qkv,
attn_output, ffn_up, ffn_down) F16, position_embd and the 1-D tensors F32. Q8_0 comes from
llama-quantize on the f32 file.
"""
import argparse

import numpy as np
import gguf

N_LAYER = 12
N_HEAD = 12
N_EMBD = 768
N_FF = 4 * N_EMBD
N_CTX = 1024
N_VOCAB = 50257
EPS = 1e-5
STD = 0.02


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]  # in GPT-2's id order for ids 0..255


def build_vocab():
    byte_chars = bytes_to_unicode()
    tokens = list(byte_chars)
    merges = []
    n_fill = N_VOCAB - 256 - 1  # 50000, same as real GPT-2
    done = False
    for a in byte_chars:
        for b in byte_chars:
            tokens.append(a + b)
            merges.append(f"{a} {b}")
            if len(merges) == n_fill:
                done = True
                break
        if done:
            break
    tokens.append("<|endoftext|>")
    assert len(tokens) == N_VOCAB and len(set(tokens)) == N_VOCAB
    toktypes = [gguf.TokenType.NORMAL] * (N_VOCAB - 1) + [gguf.TokenType.CONTROL]
    return tokens, toktypes, merges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--outtype", choices=["f32", "f16"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    f16 = args.outtype == "f16"
    rng = np.random.default_rng(args.seed)

    def rand(*shape):
        return (rng.standard_normal(shape, dtype=np.float32) * STD).astype(np.float32)

    def mat(a):  # 2-D matmul weights / token embedding
        return a.astype(np.float16) if f16 else a

    w = gguf.GGUFWriter(args.out, "gpt2")
    w.add_name("gpt2-124M-random")
    w.add_block_count(N_LAYER)
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_layer_norm_eps(EPS)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)

    tokens, toktypes, merges = build_vocab()
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(toktypes)
    w.add_token_merges(merges)
    w.add_bos_token_id(N_VOCAB - 1)
    w.add_eos_token_id(N_VOCAB - 1)
    w.add_unk_token_id(N_VOCAB - 1)

    # numpy shape = reversed GGUF ne, i.e. (out_features, in_features)
    w.add_tensor("token_embd.weight", mat(rand(N_VOCAB, N_EMBD)))
    w.add_tensor("position_embd.weight", rand(N_CTX, N_EMBD))  # F32 in both (as convert_hf_to_gguf)
    ones = np.ones(N_EMBD, dtype=np.float32)
    zeros = np.zeros(N_EMBD, dtype=np.float32)
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones.copy())
        w.add_tensor(p + "attn_norm.bias", zeros.copy())
        w.add_tensor(p + "attn_qkv.weight", mat(rand(3 * N_EMBD, N_EMBD)))
        w.add_tensor(p + "attn_qkv.bias", np.zeros(3 * N_EMBD, dtype=np.float32))
        w.add_tensor(p + "attn_output.weight", mat(rand(N_EMBD, N_EMBD)))
        w.add_tensor(p + "attn_output.bias", zeros.copy())
        w.add_tensor(p + "ffn_norm.weight", ones.copy())
        w.add_tensor(p + "ffn_norm.bias", zeros.copy())
        w.add_tensor(p + "ffn_up.weight", mat(rand(N_FF, N_EMBD)))
        w.add_tensor(p + "ffn_up.bias", np.zeros(N_FF, dtype=np.float32))
        w.add_tensor(p + "ffn_down.weight", mat(rand(N_EMBD, N_FF)))
        w.add_tensor(p + "ffn_down.bias", zeros.copy())
    w.add_tensor("output_norm.weight", ones.copy())
    w.add_tensor("output_norm.bias", zeros.copy())
    # no output.weight: tied LM head, llama.cpp falls back to token_embd.weight

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
