#!/usr/bin/env python3
"""Checks Kiln's tokenizers id-for-id against Hugging Face `tokenizers`.

    compare.py --runner kiln-tokenizer-ref --kiln kiln [--work DIR] [--only NAME]

Generates the corpus (make_corpus.py), trains each tokenizer of train.py on it, and compares,
for every text: ids, type ids, attention and special-tokens masks, tokens, and the decoded
text with and without special tokens; for single texts (with and without special tokens),
for pairs with truncation (longest_first, only_first, only_second; right and left) and
padding, and for padded batches. `kiln tokenize --ids-only` is checked on the one-line texts.

Python `tokenizers` only takes str: Kiln gets the raw bytes, Hugging Face gets
bytes.decode("utf-8", errors="replace"); both must agree, which checks that Kiln replaces
each ill-formed sequence with one U+FFFD exactly as Python does.
Exits 1 on any difference, printing the first few.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ["TOKENIZERS_PARALLELISM"] = "false"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_corpus  # noqa: E402
import train  # noqa: E402


def read_records(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        nl = data.index(b"\n", i)
        n = int(data[i:nl])
        out.append(data[nl + 1:nl + 1 + n])
        i = nl + 1 + n + 1
    return out


def byte_offsets(enc, texts):
    """Hugging Face's offsets are code point indices into the Python str of their sequence;
    Kiln's are byte offsets into the UTF-8 of the same (repaired) text: map the former."""
    cums = []
    for t in texts:
        cum = [0]
        for ch in t:
            cum.append(cum[-1] + len(ch.encode("utf-8", "surrogatepass")))
        cums.append(cum)
    return [[b, e] if sid is None else [cums[sid][b], cums[sid][e]]
            for (b, e), sid in zip(enc.offsets, enc.sequence_ids)]


def hf_json(tok, enc, texts=None):
    j = {"ids": enc.ids, "type_ids": enc.type_ids, "attention_mask": enc.attention_mask,
         "special_tokens_mask": enc.special_tokens_mask, "tokens": enc.tokens,
         "decoded": tok.decode(enc.ids, skip_special_tokens=True),
         "decoded_special": tok.decode(enc.ids, skip_special_tokens=False)}
    if texts is not None:
        j["offsets"] = byte_offsets(enc, texts)
    return j


class Checker:
    def __init__(self):
        self.failures = 0
        self.checked = 0

    def compare(self, name, what, texts, ours, theirs):
        assert len(ours) == len(theirs), f"{name} {what}: {len(ours)} vs {len(theirs)} results"
        for k, (o, t) in enumerate(zip(ours, theirs)):
            self.checked += 1
            if "error" in t or "error" in o:
                if ("error" in t) != ("error" in o):
                    self.report(name, what, k, texts[k], "error", o.get("error"), t.get("error"))
                continue
            for field in ("ids", "type_ids", "attention_mask", "special_tokens_mask",
                          "tokens", "decoded", "decoded_special", "offsets"):
                if field == "offsets" and field not in t:
                    continue
                if o[field] != t[field]:
                    self.report(name, what, k, texts[k], field, o[field], t[field])
                    break

    def report(self, name, what, k, text, field, ours, theirs):
        self.failures += 1
        if self.failures <= 12:
            print(f"MISMATCH {name} {what} #{k} {field}\n  text:   {text!r}\n"
                  f"  kiln:   {ours!r}\n  hf:     {theirs!r}")


def run_runner(runner, tokfile, recfile, mode, extra=()):
    out = subprocess.run([runner, tokfile, recfile, mode, *extra], check=True,
                         capture_output=True).stdout.decode("utf-8")
    return [json.loads(l) for l in out.split("\n") if l]


def hf_apply(tok, fn):
    try:
        return fn()
    except Exception as e:  # truncation errors, as Kiln's
        return {"error": str(e)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--work")
    ap.add_argument("--only")
    ap.add_argument("--lines", type=int, default=2400)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="kiln-tok-ref-")
    os.makedirs(work, exist_ok=True)
    recfile = os.path.join(work, "corpus.rec")
    sys.argv = ["make_corpus.py", recfile, "--lines", str(args.lines)]
    make_corpus.main()
    raw = read_records(recfile)
    texts = [r.decode("utf-8", errors="replace") for r in raw]
    print(f"corpus: {len(raw)} texts, {sum(map(len, raw))} bytes, "
          f"{sum(1 for r in raw if r.decode('utf-8', 'replace').encode() != r)} with invalid UTF-8")
    chk = Checker()
    for name, make in train.TOKENIZERS.items():
        if args.only and name != args.only:
            continue
        tok = make(texts)
        tokfile = os.path.join(work, name + ".json")
        tok.save(tokfile)
        before = chk.failures
        # Single texts, with and without special tokens.
        for mode, special in (("single", True), ("single-plain", False)):
            ours = run_runner(args.runner, tokfile, recfile, mode)
            theirs = [hf_json(tok, tok.encode(t, add_special_tokens=special), [t])
                      for t in texts]
            chk.compare(name, mode, texts, ours, theirs)
        # Pairs with truncation and padding.
        pairs = [(texts[i], texts[i + 1]) for i in range(0, len(texts) - 1, 2)]
        shown = [f"{a!r} / {b!r}" for a, b in pairs]
        for strategy, direction, maxlen in (("longest_first", "right", 24),
                                            ("longest_first", "left", 7),
                                            ("only_first", "right", 30),
                                            ("only_second", "left", 30)):
            tok.enable_truncation(maxlen, strategy=strategy, direction=direction)
            tok.enable_padding(pad_id=0, pad_token="<PAD>", pad_to_multiple_of=8)
            ours = run_runner(args.runner, tokfile, recfile, "pair",
                              ["--max-length", str(maxlen), "--strategy", strategy,
                               "--direction", direction, "--pad-multiple", "8",
                               "--pad-token", "<PAD>"])
            theirs = [hf_apply(tok, lambda: hf_json(tok, tok.encode(a, b), [a, b]))
                      for a, b in pairs]
            chk.compare(name, f"pair {strategy} {direction} {maxlen}", shown, ours, theirs)
            tok.no_truncation()
            tok.no_padding()
        # Padded batches of pairs (longest in the batch), truncated to 40.
        tok.enable_truncation(40)
        tok.enable_padding(pad_id=1, pad_token="<PAD>")
        ours = run_runner(args.runner, tokfile, recfile, "batch-pair",
                          ["--max-length", "40", "--pad-id", "1", "--pad-token", "<PAD>",
                           "--batch", "8"])
        theirs = []
        for i in range(0, len(pairs) - 7, 8):
            theirs += [hf_json(tok, e, pairs[i + k]) for k, e in
                       enumerate(tok.encode_batch(pairs[i:i + 8]))]
        chk.compare(name, "batch-pair", shown, ours, theirs)
        tok.no_truncation()
        tok.no_padding()
        # The CLI, on the texts without a newline.
        lines = [r for r in raw if b"\n" not in r]
        cli = subprocess.run([args.kiln, "tokenize", "--tokenizer", tokfile, "--ids-only"],
                             input=b"\n".join(lines) + b"\n", capture_output=True, check=True)
        got = cli.stdout.decode().split("\n")[:-1]
        want = [" ".join(map(str, tok.encode(l.decode("utf-8", "replace")).ids)) for l in lines]
        shown_l = [l.decode("utf-8", "replace") for l in lines]
        for k, (g, w) in enumerate(zip(got, want)):
            chk.checked += 1
            if g != w:
                chk.report(name, "cli", k, shown_l[k], "ids", g, w)
        if len(got) != len(want):
            chk.report(name, "cli", -1, "", "line count", len(got), len(want))
        print(f"{name}: {'ok' if chk.failures == before else 'MISMATCHES'} "
              f"(vocab {tok.get_vocab_size()})")
    print(f"checked {chk.checked} encodings, {chk.failures} mismatches")
    return 1 if chk.failures else 0


if __name__ == "__main__":
    sys.exit(main())
