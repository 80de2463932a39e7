#!/usr/bin/env python3
"""Writes the multilingual tokenizer test corpus, deterministically (seeded).

    make_corpus.py OUT [--lines N] [--seed S]

OUT holds one record per text as `<byte length>\\n<bytes>\\n`, so texts may contain newlines
and invalid UTF-8. The hand-written lines of handwritten.txt come first, then generated ones
that mix English (with contractions), Korean (Hangul syllables, NFD jamo, mixed with
English), Japanese, Chinese, emoji (ZWJ sequences, skin tones), combining marks in NFC and
NFD, runs of spaces/tabs/newlines, leading and trailing spaces, 300-character words, invalid
UTF-8 bytes, and characters whose properties changed between Unicode versions.
"""
import argparse
import os
import random
import unicodedata

EN = ("the quick brown fox jumps over lazy dog model token kiln compiler runtime "
      "transformer attention layer norm weight gradient batch sequence hello world "
      "New York ZZtop university caf\u00e9 na\u00efve r\u00e9sum\u00e9 co-operate e-mail "
      "I you he she it we they data 2024 3.14 42 1,000,000 v1.2.3").split()
CONTRACTIONS = ["I'm", "don't", "it's", "they've", "we'll", "he'd", "you're", "CAN'T",
                "IT'S", "She'LL", "o'clock", "rock'n'roll", "'s", "''", "Y'ALL", "l'homme"]
PUNCT = list(".,;:!?()[]{}<>\"'`~@#$%^&*-_=+/\\|") + ["...", "--", "\u2014", "\u00bf",
                                                      "\u00a1", "\u300c", "\u300d", "\u3002"]
JA = ("\u3053\u3093\u306b\u3061\u306f \u4e16\u754c \u30c8\u30fc\u30af\u30ca\u30a4\u30b6\u30fc "
      "\u6771\u4eac\u90fd \u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca \u65e5\u672c\u8a9e "
      "\u3067\u3059 \u307e\u3057\u305f \uff8a\uff9d\uff76\uff78\uff76\uff80\uff76\uff85").split()
ZH = ("\u4f60\u597d \u4e16\u754c \u5206\u8bcd\u5668 \u6a21\u578b \u8bad\u7ec3 \u6570\u636e "
      "\u4e2d\u534e\u4eba\u6c11\u5171\u548c\u56fd \u5317\u4eac \u7e41\u9ad4\u5b57 "
      "\u9ad8\u901f \U00020000\U0002a6d6").split()
EMOJI = ["\U0001F600", "\U0001F44D", "\U0001F44D\U0001F3FB", "\U0001F44D\U0001F3FF",
         "\U0001F469\u200D\U0001F4BB", "\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466",
         "\U0001F3F3\uFE0F\u200D\U0001F308", "\U0001F9D1\U0001F3FD\u200D\U0001F91D\u200D\U0001F9D1\U0001F3FB",
         "\u2764\uFE0F", "\U0001F1EF\U0001F1F5", "\U0001F970", "\U0001FAE0", "#\uFE0F\u20E3"]
COMBINING = ["e\u0301", "\u00e9", "a\u0316\u0301", "a\u0301\u0316", "o\u0308\u0304",
             "\u1e69", "s\u0323\u0307", "s\u0307\u0323", "A\u030a", "\u212b", "\u00c5",
             "Z\u0335\u0321\u0334\u0327\u030d\u0300", "\u0915\u093f", "\u0e01\u0e34\u0e4a",
             "n\u0303o", "\u1ec7", "e\u0323\u0302", "\u05e9\u05c1\u05b8", "\u0627\u064e"]
ODD = ["\u017f", "\u0130", "\u03a3\u03b1\u03c3", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3",
       "stra\u00dfe", "\ufb01ne", "\uff28\uff45\uff4c\uff4c\uff4f", "\u2460\u2461", "\u212a",
       "\u00bd", "x\u00b2", "\u3300", "\u1c89\u1c8a", "\ua7cb", "\u0378", "\U000105c9",
       "\u166d", "\u061d", "\u00a0", "\u2009", "\u3000", "\u200b", "\u00ad", "\ufeff", "\u2581",
       "\ue000", "\u0085", "\u2028", "\u1680", "\u0007", "\u001f", "\u007f", "\u00b5", "\u1e9e",
       "\u0149", "\u01c5", "\u1f88", "\u0345", "\u10a0", "\u2126", "\ufffd", "\U0001d400"]
INVALID = [b"\xff", b"\xfe\xfe", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xf0\x9f\x98",
           b"\xed\xa0\x80", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"\x80\x80",
           b"\xf8\x88\x80\x80\x80", b"\xef\xbf\xbe"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", " \t ", "\n", "\n\n", "\r\n", "\n \n", "    \n",
          "\u3000", "\u00a0 "]


def hangul(rng, n):
    return "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(n))


def word(rng):
    r = rng.random()
    if r < 0.35:
        w = rng.choice(EN)
        return w.capitalize() if rng.random() < 0.15 else w
    if r < 0.45:
        return rng.choice(CONTRACTIONS)
    if r < 0.55:
        return hangul(rng, rng.randint(1, 4))
    if r < 0.60:
        return unicodedata.normalize("NFD", hangul(rng, rng.randint(1, 3)))
    if r < 0.66:
        return rng.choice(JA)
    if r < 0.72:
        return rng.choice(ZH)
    if r < 0.77:
        return rng.choice(EMOJI)
    if r < 0.83:
        return rng.choice(COMBINING) + rng.choice(["", "x", "ing"])
    if r < 0.88:
        return rng.choice(ODD)
    if r < 0.93:
        return rng.choice(PUNCT)
    return str(rng.randint(0, 10 ** rng.randint(1, 8)))


def line(rng):
    kind = rng.random()
    if kind < 0.03:  # 300-character words
        c = rng.choice(["a", "\u00e9", "\ud55c", "\u6f22", "1", "\U0001F600", "ab"])
        w = (c * 300)[:300] if len(c) == 1 else "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(300))
        return (rng.choice(["", " ", "x "]) + w + rng.choice(["", ".", " end"])).encode()
    parts = []
    for _ in range(rng.randint(1, 14)):
        parts.append(word(rng))
        parts.append(rng.choice(SPACES) if rng.random() < 0.25 else " ")
    text = "".join(parts)
    if rng.random() < 0.2:
        text = rng.choice(SPACES) + text
    if rng.random() < 0.25:
        text = text.rstrip(" ") + rng.choice(["", " ", "  ", "\t", "\n"])
    data = text.encode("utf-8")
    if kind > 0.93:  # invalid UTF-8
        pos = rng.randint(0, len(data))
        # Insert between characters or, sometimes, inside one.
        data = data[:pos] + rng.choice(INVALID) + data[pos:]
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "handwritten.txt"), "rb") as f:
        records = [l for l in f.read().split(b"\n") if l]
    records = [r.replace(b"\\n", b"\n").replace(b"\\t", b"\t") for r in records]
    records += [b"", b" ", b"\n", b"\t \n"]
    while len(records) < args.lines:
        records.append(line(rng))
    with open(args.out, "wb") as f:
        for r in records:
            f.write(b"%d\n" % len(r) + r + b"\n")


if __name__ == "__main__":
    main()
