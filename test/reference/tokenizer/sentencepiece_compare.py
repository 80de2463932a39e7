#!/usr/bin/env python3
"""Checks Kiln on SentencePiece models against `sentencepiece` and `tokenizers`.

    sentencepiece_compare.py --runner kiln-tokenizer-ref --kiln kiln [--work DIR]
                             [--lines N] [--only unigram|bpe]

Trains a Unigram and a BPE SentencePiece model on the spot (PyPI `sentencepiece`, default
`nmt_nfkc` normalization, so the model carries a precompiled charsmap) on the corpus of
make_corpus.py, then checks:
  * native: Kiln loading the `.model` file (libsentencepiece) gives the ids, pieces and
    decoded text of `sentencepiece.SentencePieceProcessor`; `kiln tokenize --ids-only` too;
  * converted: the model converted to tokenizer.json by `transformers`' converters
    (T5Converter for Unigram: Precompiled + Strip + Replace + Metaspace, `</s>` appended;
    SpmConverter for BPE) gives the ids, tokens, masks and decoded text of `tokenizers`,
    which checks Kiln's Precompiled normalizer.
Invalid UTF-8: Kiln gets the raw bytes, the Python packages the text decoded with
errors="replace". Exits 1 on any difference.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import types

os.environ["TOKENIZERS_PARALLELISM"] = "false"
# sentencepiece 0.1.x ships _pb2 modules older than the protobuf runtime accepts in C++ mode.
os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402
import make_corpus  # noqa: E402


def train_spm(texts, prefix, model_type, vocab_size):
    import sentencepiece as spm
    sentences = [l for t in texts for l in t.split("\n") if l.strip()]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=prefix, model_type=model_type,
        vocab_size=vocab_size, character_coverage=0.98, byte_fallback=(model_type == "bpe"),
        user_defined_symbols=["<sep>"], max_sentence_length=1 << 16,
        hard_vocab_limit=False, minloglevel=2, num_threads=1)
    return prefix + ".model"


def convert(model_file, model_type):
    import importlib
    cst = importlib.import_module("transformers.convert_slow_tokenizer")
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=model_file)
    shim = types.SimpleNamespace(
        vocab_file=model_file, add_prefix_space=True, legacy=True, _extra_ids=4,
        convert_tokens_to_ids=sp.piece_to_id, convert_ids_to_tokens=sp.id_to_piece)
    if model_type == "unigram":
        return cst.T5Converter(shim).converted()

    class BpeConverter(cst.SpmConverter):
        """SpmConverter's BPE, ranked by piece score, with byte fallback and the LLaMA decoder
        (Precompiled + Strip + Replace normalizer, Metaspace, BPE)."""
        handle_byte_fallback = True
        decoder = cst.LlamaConverter.decoder

        def tokenizer(self, proto):
            from tokenizers import AddedToken, Tokenizer
            from tokenizers.models import BPE
            vocab_scores = self.vocab(proto)
            vocab = {w: i for i, (w, _) in enumerate(vocab_scores)}
            merges = cst.generate_merges(vocab, vocab_scores)
            tok = Tokenizer(BPE(vocab, merges, unk_token=proto.trainer_spec.unk_piece,
                                fuse_unk=True, byte_fallback=True))
            tok.add_tokens([AddedToken(p.piece, normalized=False, special=p.type == 3)
                            for p in proto.pieces if p.type in (3, 4)])
            return tok

    return BpeConverter(shim).converted()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--work")
    ap.add_argument("--only")
    ap.add_argument("--lines", type=int, default=2400)
    args = ap.parse_args()
    import sentencepiece as spm
    work = args.work or tempfile.mkdtemp(prefix="kiln-spm-ref-")
    os.makedirs(work, exist_ok=True)
    recfile = os.path.join(work, "corpus.rec")
    sys.argv = ["make_corpus.py", recfile, "--lines", str(args.lines)]
    make_corpus.main()
    raw = compare.read_records(recfile)
    texts = [r.decode("utf-8", errors="replace") for r in raw]
    chk = compare.Checker()
    for model_type, vocab in (("unigram", 3000), ("bpe", 4000)):
        if args.only and args.only != model_type:
            continue
        name = "spm-" + model_type
        before = chk.failures
        model = train_spm(texts, os.path.join(work, name), model_type, vocab)
        sp = spm.SentencePieceProcessor(model_file=model)
        # Native .model through libsentencepiece.
        ours = compare.run_runner(args.runner, model, recfile, "single-plain")
        for k, (o, t) in enumerate(zip(ours, texts)):
            chk.checked += 1
            ids = sp.encode(t)
            want = {"ids": ids, "tokens": [sp.id_to_piece(i) for i in ids],
                    "decoded": sp.decode(ids)}
            for field in ("ids", "tokens", "decoded"):
                if o.get(field) != want[field]:
                    chk.report(name, "native", k, t, field, o.get(field), want[field])
                    break
        lines = [r for r in raw if b"\n" not in r]
        cli = subprocess.run([args.kiln, "tokenize", "--tokenizer", model, "--ids-only"],
                             input=b"\n".join(lines) + b"\n", capture_output=True, check=True)
        got = cli.stdout.decode().split("\n")[:-1]
        want = [" ".join(map(str, sp.encode(l.decode("utf-8", "replace")))) for l in lines]
        chk.checked += len(want)
        if got != want:
            k = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), len(got))
            chk.report(name, "native cli", k, lines[k] if k < len(lines) else b"", "ids",
                       got[k] if k < len(got) else None, want[k] if k < len(want) else None)
        # Converted tokenizer.json (Precompiled normalizer) against `tokenizers`.
        tok = convert(model, model_type)
        tokfile = os.path.join(work, name + ".json")
        tok.save(tokfile)
        for mode, special in (("single", True), ("single-plain", False)):
            ours = compare.run_runner(args.runner, tokfile, recfile, mode)
            theirs = [compare.hf_json(tok, tok.encode(t, add_special_tokens=special), [t])
                      for t in texts]
            chk.compare(name + "-converted", mode, texts, ours, theirs)
        print(f"{name}: {'ok' if chk.failures == before else 'MISMATCHES'} "
              f"(vocab {sp.get_piece_size()})")
    print(f"checked {chk.checked} encodings, {chk.failures} mismatches")
    return 1 if chk.failures else 0


if __name__ == "__main__":
    sys.exit(main())
