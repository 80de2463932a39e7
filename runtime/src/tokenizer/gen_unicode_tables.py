#!/usr/bin/env python3
"""Generates UnicodeTables.inc, the character data Kiln's tokenizers use.

Run with Python 3.11 (whose str.lower is Unicode 14.0) and the packages
`unicodedataplus==16.0.0.post1` (Unicode 16.0 plus the `age` property) and
`unicodedata2==17.0.0`, giving the Unicode 8.0 database header of the unicodedata2 8.0.0
source package (`pip download unicodedata2==8.0.0`); the output is checked in, so building
Kiln never needs Python:

    python3 gen_unicode_tables.py path/to/unicodedata2-8.0.0/unicodedata2/unicodedata_db.h \
        > UnicodeTables.inc

Hugging Face `tokenizers` does not use one Unicode version: its split regexes (Oniguruma)
follow Unicode 16.0, Rust's char functions (is_whitespace, is_numeric, to_lowercase) 17.0,
its normalizers (the `unicode-normalization-alignments` crate) 9.0, and the BERT normalizer
and pre-tokenizer (the `unicode_categories` crate) 8.0. To be id-for-id equal, each table
below follows the version of the component it stands in for; characters assigned after that
version are unassigned there. test/reference/tokenizer/unicode_sweep.py checks every code
point against `tokenizers`. See docs/tokenizers.md.
"""
import re
import sys
import unicodedata as py_ud

import unicodedata2 as ud17
import unicodedataplus as ud

PY_LOWER_VERSION = tuple(int(x) for x in py_ud.unidata_version.split(".")[:2])
assert ud.unidata_version == "16.0.0", ud.unidata_version
assert ud17.unidata_version == "17.0.0", ud17.unidata_version

CPS = range(0x110000)


def age(c):
    a = ud.age(chr(c))
    if not a or not a[0].isdigit():
        return (99, 0)
    return tuple(int(x) for x in a.split("."))


AGES = [age(c) for c in CPS]
V_NORM = (9, 0)


def read_v8_categories(path):
    """General categories of Unicode 8.0 from CPython's unicodedata_db.h of that version."""
    text = open(path).read()
    names = re.search(r"_PyUnicode_CategoryNames\[\] = \{(.*?)NULL", text, re.S).group(1)
    names = re.findall(r'"(\w+)"', names)
    recs = re.search(r"_PyUnicode_Database_Records\[\] = \{(.*?)\n\};", text, re.S).group(1)
    recs = [int(m) for m in re.findall(r"\{(\d+),", recs)]
    shift = int(re.search(r"#define SHIFT (\d+)", text).group(1))
    idx1 = [int(x) for x in re.findall(r"\d+", re.search(
        r"static unsigned char index1\[\] = \{(.*?)\};", text, re.S).group(1))]
    idx2 = [int(x) for x in re.findall(r"\d+", re.search(
        r"static unsigned short index2\[\] = \{(.*?)\};", text, re.S).group(1))]
    out = []
    for c in CPS:
        i = idx1[c >> shift]
        i = idx2[(i << shift) + (c & ((1 << shift) - 1))]
        out.append(names[recs[i]])
    return out


V8_CATEGORY = read_v8_categories(sys.argv[1])

def cat(c):
    return ud.category(chr(c))


WHITE_SPACE = [0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B)) + \
    [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
ASCII_PUNCT = {ord(x) for x in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}

F_LETTER, F_NUMBER, F_SPACE, F_BERT_PUNCT, F_BERT_CONTROL, F_BERT_MN, F_WORD, F_MARK9 = (
    1, 2, 4, 8, 16, 32, 64, 128)
F_NUMERIC17 = 256
# The enclosed letters that are Other_Alphabetic (so Alphabetic, so \w in Oniguruma).
ENCLOSED_ALPHABETIC = re.compile(r"^(CIRCLED LATIN|(NEGATIVE )?(SQUARED|CIRCLED) LATIN CAPITAL)")
# Unicode 9.0 made these nonspacing marks (Lo in 8.0).
MARKS_SINCE_9 = {0x1885, 0x1886}


def flags(c):
    f = 0
    g = cat(c)
    if g[0] == "L":
        f |= F_LETTER
    if g[0] == "N":
        f |= F_NUMBER
    if c in WHITE_SPACE:
        f |= F_SPACE
    # Oniguruma's \w: Alphabetic, marks, decimal digits, connector punctuation, joiners.
    name = ud.name(chr(c), "")
    if (g[0] in "LM" or g in ("Nd", "Nl", "Pc") or c in (0x200C, 0x200D) or
            (g == "So" and ENCLOSED_ALPHABETIC.match(name))):
        f |= F_WORD
    # Marks as of Unicode 9.0: those of 8.0, and the 9.0 additions.
    if V8_CATEGORY[c][0] == "M" or (AGES[c] == V_NORM and g[0] == "M") or c in MARKS_SINCE_9:
        f |= F_MARK9
    if ud17.category(chr(c))[0] == "N":
        f |= F_NUMERIC17
    b = V8_CATEGORY[c]
    if b[0] == "P" or c in ASCII_PUNCT:
        f |= F_BERT_PUNCT
    if b in ("Cc", "Cf", "Co", "Cs"):
        f |= F_BERT_CONTROL
    if b == "Mn":
        f |= F_BERT_MN
    return f


def two_stage(values, name, ctype):
    """Emits a two-stage lookup table (256-entry blocks, shared when equal)."""
    blocks, index, stage1 = {}, [], []
    for hi in range(0x110000 >> 8):
        blk = tuple(values[hi << 8:(hi + 1) << 8])
        if blk not in blocks:
            blocks[blk] = len(index)
            index.append(blk)
        stage1.append(blocks[blk])
    assert len(index) < 65536
    out = [f"static const uint16_t {name}Stage1[{len(stage1)}] = {{"]
    for i in range(0, len(stage1), 24):
        out.append("  " + ",".join(str(x) for x in stage1[i:i + 24]) + ",")
    out.append("};")
    out.append(f"static const {ctype} {name}Stage2[{len(index)}][256] = {{")
    for blk in index:
        out.append("  {" + ",".join(str(x) for x in blk) + "},")
    out.append("};")
    return "\n".join(out)


def main():
    w = sys.stdout.write
    w("// Generated by gen_unicode_tables.py from Unicode 16.0 data (unicodedataplus). Do not edit.\n")
    w("// NOLINTBEGIN\n")
    w(two_stage([flags(c) for c in CPS], "kFlags", "uint16_t") + "\n")

    # Canonical combining classes (Unicode 9.0, the normalizers' version).
    ccc = [ud.combining(chr(c)) if AGES[c] <= V_NORM else 0 for c in CPS]
    w(two_stage(ccc, "kCcc", "uint8_t") + "\n")

    # Full decompositions (canonical and compatibility), Hangul syllables excluded (algorithmic).
    data, canon, compat = [], [], []
    for c in CPS:
        if 0xAC00 <= c <= 0xD7A3 or 0xD800 <= c <= 0xDFFF or AGES[c] > V_NORM:
            continue
        ch = chr(c)
        d = ud.normalize("NFD", ch)
        k = ud.normalize("NFKD", ch)
        if d != ch:
            canon.append((c, len(data), len(d)))
            data.extend(ord(x) for x in d)
        if k != ch:
            compat.append((c, len(data), len(k)))
            data.extend(ord(x) for x in k)
    w(f"static const uint32_t kDecompData[{len(data)}] = {{\n")
    for i in range(0, len(data), 16):
        w("  " + ",".join(hex(x) for x in data[i:i + 16]) + ",\n")
    w("};\n")
    for name, lst in (("kCanonDecomp", canon), ("kCompatDecomp", compat)):
        w(f"static const DecompEntry {name}[{len(lst)}] = {{\n")
        for c, off, n in lst:
            w(f"  {{{hex(c)},{off},{n}}},\n")
        w("};\n")

    # Primary composites: canonical pairs that NFC recomposes.
    pairs = []
    for c in CPS:
        if 0xAC00 <= c <= 0xD7A3 or 0xD800 <= c <= 0xDFFF or AGES[c] > V_NORM:
            continue
        dec = ud.decomposition(chr(c))
        if not dec or dec.startswith("<"):
            continue
        parts = [int(x, 16) for x in dec.split()]
        if len(parts) != 2:
            continue
        if ud.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(c):
            pairs.append((parts[0], parts[1], c))
    pairs.sort()
    w(f"static const CompositionEntry kCompositions[{len(pairs)}] = {{\n")
    for a, b, c in pairs:
        w(f"  {{{hex(a)},{hex(b)},{hex(c)}}},\n")
    w("};\n")

    # Lowercase mappings (full, context free, as Rust's char::to_lowercase, Unicode 17.0).
    # Python's own str.lower (Unicode 14.0) supplies those of older characters; an upper- or
    # titlecase letter added in 15.0-17.0 maps to the small letter of the same name.
    assert PY_LOWER_VERSION == (14, 0), PY_LOWER_VERSION
    low = []
    for c in CPS:
        if 0xD800 <= c <= 0xDFFF:
            continue
        if AGES[c] <= (14, 0):
            l = chr(c).lower()
            if l != chr(c):
                low.append((c, [ord(x) for x in l]))
        elif ud17.category(chr(c)) in ("Lu", "Lt"):
            name = ud17.name(chr(c))
            try:
                small = ud17.lookup(name.replace("CAPITAL", "SMALL"))
            except KeyError:
                continue
            if ud17.category(small) == "Ll":
                low.append((c, [ord(small)]))
    w(f"static const LowerEntry kLower[{len(low)}] = {{\n")
    for c, l in low:
        l = l + [0] * (3 - len(l))
        w(f"  {{{hex(c)},{{{','.join(hex(x) for x in l)}}}}},\n")
    w("};\n")
    w("// NOLINTEND\n")


if __name__ == "__main__":
    main()
