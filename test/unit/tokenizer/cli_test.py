#!/usr/bin/env python3
"""Checks `kiln tokenize`: options, exit codes, stdin line splitting and output formats.

    cli_test.py KILN TINY_TOKENIZER_JSON

The expected ids come from Hugging Face `tokenizers` loading the same file.
"""
import os
import subprocess
import sys
import tempfile

from tokenizers import Tokenizer

kiln, tiny = sys.argv[1], sys.argv[2]
hf = Tokenizer.from_file(tiny)
failures = []


def run(args, stdin=b""):
    p = subprocess.run([kiln, "tokenize", *args], input=stdin, capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


rc, out, _ = run(["--help"])
check(rc == 0 and "--ids-only" in out and "--no-special-tokens" in out, "--help")
rc, _, err = run(["hello"])
check(rc == 2 and "--tokenizer" in err, "missing --tokenizer is a usage error")
rc, _, err = run(["--tokenizer", tiny, "--bogus", "x"])
check(rc == 2 and "--bogus" in err, "unknown option is a usage error")
rc, _, err = run(["--tokenizer"])
check(rc == 2, "--tokenizer without a value")
rc, _, err = run(["--tokenizer", "/nonexistent.json", "x"])
check(rc == 1 and "/nonexistent.json" in err, "missing file: exit 1 naming it")
with tempfile.TemporaryDirectory() as d:
    bad = os.path.join(d, "bad.json")
    open(bad, "w").write('{"model": {"type": "Nope"}}')
    rc, _, err = run(["--tokenizer", bad, "x"])
    check(rc == 1 and bad in err and "unknown model type 'Nope'" in err, "bad model: exit 1")
    open(bad, "w").write('{"model": ')
    rc, _, err = run(["--tokenizer", bad, "x"])
    check(rc == 1 and bad in err and "malformed JSON" in err, "malformed JSON: exit 1")

# TEXT arguments, --ids-only.
texts = ["hello world", "  hello\t", "hello\xff".encode("latin1").decode("latin1")]
rc, out, _ = run(["--tokenizer", tiny, "--ids-only", "hello world", "world hello"])
want = [" ".join(map(str, hf.encode(t).ids)) for t in ["hello world", "world hello"]]
check(rc == 0 and out.split("\n") == want + [""], f"ids-only args: {out!r} vs {want}")

# stdin: lines split on \n only; trailing spaces, tabs and \r stay in the text; a final
# line without \n counts; an empty line is an empty text.
stdin = b"hello world  \nhello\r\n\n\t world\xffhello"
lines = [l.decode("utf-8", "replace") for l in stdin.split(b"\n")]
rc, out, _ = run(["--tokenizer", tiny, "--ids-only"], stdin)
want = [" ".join(map(str, hf.encode(l).ids)) for l in lines]
check(rc == 0 and out.split("\n") == want + [""], f"stdin lines: {out!r} vs {want}")

rc, out, _ = run(["--tokenizer", tiny, "--ids-only", "--no-special-tokens", "hello"])
check(rc == 0 and out == " ".join(map(str, hf.encode("hello", add_special_tokens=False).ids)) + "\n",
      "--no-special-tokens")
rc, out, _ = run(["--tokenizer", tiny, "--ids-only", "--pair", "world", "hello"])
check(rc == 0 and out == " ".join(map(str, hf.encode("hello", "world").ids)) + "\n", "--pair")

# Full output: header, then index, id, type id, piece, byte offsets.
rc, out, _ = run(["--tokenizer", tiny, "--pair", "world", "hello"])
enc = hf.encode("hello", "world")
rows = out.split("\n")
check(rc == 0 and rows[0] == f"text 1: {len(enc.ids)} tokens "
      "(index id type_id piece byte_begin:byte_end)", f"header: {rows[0]!r}")
for k, (i, t, ty) in enumerate(zip(enc.ids, enc.tokens, enc.type_ids)):
    f = rows[1 + k].split(" ")
    check(f[:4] == [str(k), str(i), str(ty), t.replace(" ", "\\x20")], f"row {k}: {rows[1 + k]!r}")
check(rows[2].split(" ")[4] == "0:5", f"offsets of 'hello': {rows[2]!r}")

# Offsets are UTF-8 bytes: Hugging Face's character offsets mapped through the text (the
# reference tests check multi-byte text; this tiny vocabulary is ASCII only).
text = "  hello   world hello"
rc, out, _ = run(["--tokenizer", tiny, "--no-special-tokens", text])
enc = hf.encode(text, add_special_tokens=False)
want = [f"{len(text[:b].encode())}:{len(text[:e].encode())}" for b, e in enc.offsets]
got = [r.split(" ")[4] for r in out.split("\n")[1:] if r]
check(rc == 0 and got == want, f"byte offsets of {text!r}: {got} vs {want}")

print("cli: ok" if not failures else f"cli: {len(failures)} failures")
sys.exit(1 if failures else 0)
