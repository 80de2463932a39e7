#!/usr/bin/env python3
"""Compares Kiln's normalizers and pre-tokenizers with Hugging Face over the code points.

    unicode_sweep.py --runner kiln-tokenizer-ref [--work DIR] [--sample N]

Hugging Face `tokenizers` mixes Unicode versions (Oniguruma and Rust std: 16.0;
unicode-normalization-alignments: 9.0; unicode_categories: 8.0); Kiln's tables follow each
(runtime/src/tokenizer/gen_unicode_tables.py). This sweep feeds every code point but the
surrogates (sampling 1 in 16 in the uniform ranges: private use, code points unassigned in
Python's Unicode past plane 1, CJK ideographs, Hangul syllables, Tangut), in context (after a letter, before a space, a digit,
an apostrophe), through each normalizer and pre-tokenizer on both sides and reports every
difference. Needs `unicodedata2` only to pick the code points, not for the expectations.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import unicodedata as unicodedata2
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
          r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

NORMALIZERS = {
    "NFC": normalizers.NFC(), "NFD": normalizers.NFD(), "NFKC": normalizers.NFKC(),
    "NFKD": normalizers.NFKD(), "Lowercase": normalizers.Lowercase(),
    "StripAccents": normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()]),
    "Nmt": normalizers.Nmt(), "Bert-uncased": normalizers.BertNormalizer(lowercase=True),
    "Bert-cased": normalizers.BertNormalizer(lowercase=False, strip_accents=False),
}
PRE_TOKENIZERS = {
    "ByteLevel": pre_tokenizers.ByteLevel(add_prefix_space=False),
    "Llama3": pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"),
    "Bert": pre_tokenizers.BertPreTokenizer(),
    "Whitespace": pre_tokenizers.Whitespace(),
    "WhitespaceSplit": pre_tokenizers.WhitespaceSplit(),
    "Digits": pre_tokenizers.Digits(individual_digits=False),
    "Punctuation": pre_tokenizers.Punctuation(),
    "Metaspace": pre_tokenizers.Metaspace(),
}


def code_points(sample=1):
    """Every code point whose properties vary, and a sample of the uniform ranges
    (unassigned, private use, and the big ideograph and syllable blocks). With sample > 1
    (the default test run), only every sample-th of those past U+0800."""
    out = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        name = unicodedata2.name(chr(c), "")
        cat = unicodedata2.category(chr(c))
        uniform = (cat == "Co" or (cat == "Cn" and c >= 0x20000 and not 0xE0000 <= c < 0xE1000)
                   or name.startswith(("CJK UNIFIED IDEOGRAPH-", "HANGUL SYLLABLE ",
                                       "TANGUT IDEOGRAPH-")))
        if not uniform or c % 16 == 0:
            out.append(c)
    return [c for i, c in enumerate(out) if c < 0x800 or i % sample == 0]


def records(sample=1):
    cps = code_points(sample)
    out = []
    for i in range(0, len(cps), 512):
        out.append("".join(f"{chr(c)}a{chr(c)} {chr(c)}1'{chr(c)}" for c in cps[i:i + 512]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runner", required=True)
    ap.add_argument("--work")
    ap.add_argument("--sample", type=int, default=1,
                    help="check every N-th code point past U+0800 (default: all)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="kiln-unicode-sweep-")
    os.makedirs(work, exist_ok=True)
    recs = records(args.sample)
    recfile = os.path.join(work, "sweep.rec")
    with open(recfile, "wb") as f:
        for r in recs:
            b = r.encode("utf-8")
            f.write(b"%d\n" % len(b) + b + b"\n")
    failures = 0
    for kind, table in (("normalize", NORMALIZERS), ("pretokenize", PRE_TOKENIZERS)):
        for name, comp in table.items():
            tok = Tokenizer(models.BPE())
            if kind == "normalize":
                tok.normalizer = comp
            else:
                tok.pre_tokenizer = comp
            path = os.path.join(work, f"{kind}-{name}.json")
            tok.save(path)
            out = subprocess.run([args.runner, path, recfile, kind], check=True,
                                 capture_output=True).stdout.decode("utf-8")
            ours = [json.loads(l) for l in out.split("\n") if l]
            diffs = 0
            for r, o in zip(recs, ours):
                t = comp.normalize_str(r) if kind == "normalize" else \
                    [p for p, _ in comp.pre_tokenize_str(r)]
                if o != t:
                    diffs += 1
                    if diffs <= 2:
                        first = next((i for i, (a, b) in enumerate(zip(o, t)) if a != b), None)
                        print(f"DIFF {kind} {name} record from U+{ord(r[0]):04X}: "
                              f"first difference at item {first}: "
                              f"kiln {o[first] if first is not None and first < len(o) else o[-3:]!r} "
                              f"hf {t[first] if first is not None and first < len(t) else t[-3:]!r}")
            print(f"{kind} {name}: {'ok' if not diffs else f'{diffs} records differ'}")
            failures += diffs
    print(f"unicode sweep: {failures} differing records")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
