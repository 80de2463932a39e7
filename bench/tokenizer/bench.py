#!/usr/bin/env python3
"""Encode throughput of Kiln's tokenizers beside Hugging Face `tokenizers`, one thread each.

    bench.py --bench build/.../kiln-tokenizer-bench [--repeats 5] [--work DIR]

Trains the reference tokenizers of test/reference/tokenizer/train.py on the multilingual test
corpus, then encodes, line by line, tinyshakespeare (../shared/data beside the repository, or --shakespeare)
and the multilingual corpus with both. Hugging Face runs with TOKENIZERS_PARALLELISM=false
and is timed two ways: encode_batch over all lines (one call, no Python per line), and
encode per line. Kiln is timed encoding each line (kiln-tokenizer-bench). Prints MB/s
(10^6 input bytes per second), medians of --repeats runs, by wall clock and by the thread's
CPU time (the steadier figure on a shared machine), and the ratios Kiln / HF batch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "..", "test", "reference", "tokenizer")
sys.path.insert(0, REF)
import make_corpus  # noqa: E402
import train  # noqa: E402
from compare import read_records  # noqa: E402


def hf_rate(tok, lines, nbytes, repeats, batch):
    """(wall MB/s, thread CPU MB/s), medians."""
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        if batch:
            tok.encode_batch(lines)
        else:
            for l in lines:
                tok.encode(l)
        cpu.append(time.thread_time() - c0)
        times.append(time.perf_counter() - t0)
    return nbytes / statistics.median(times) / 1e6, nbytes / statistics.median(cpu) / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--work")
    ap.add_argument("--shakespeare", default=os.path.normpath(
        os.path.join(HERE, "..", "..", "..", "shared", "data", "tinyshakespeare.txt")))
    ap.add_argument("--only")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="kiln-tok-bench-")
    os.makedirs(work, exist_ok=True)
    rec = os.path.join(work, "corpus.rec")
    sys.argv = ["make_corpus.py", rec]
    make_corpus.main()
    raw = read_records(rec)
    texts = [r.decode("utf-8", "replace") for r in raw]
    multi = os.path.join(work, "multilingual.txt")
    with open(multi, "w", encoding="utf-8") as f:  # one line per text, valid UTF-8
        f.write("\n".join(t.replace("\n", " ") for t in texts))
    files = {"tinyshakespeare": args.shakespeare, "multilingual": multi}
    print(f"{'':34} {'wall MB/s':>28}  {'CPU-time MB/s':>28}")
    print(f"{'tokenizer':16} {'corpus':16} {'MB':>5} {'kiln':>7} {'hf batch':>8} {'hf loop':>7} "
          f"{'ratio':>6} {'kiln':>7} {'hf batch':>8} {'hf loop':>7} {'ratio':>6}")
    for name, make in train.TOKENIZERS.items():
        if args.only and name != args.only:
            continue
        tok = make(texts)
        path = os.path.join(work, name + ".json")
        tok.save(path)
        for cname, cfile in files.items():
            data = open(cfile, "rb").read()
            lines = [l.decode("utf-8", "replace") for l in data.split(b"\n")]
            k = json.loads(subprocess.run([args.bench, path, cfile, str(args.repeats)],
                                          check=True, capture_output=True).stdout)
            hb, hbc = hf_rate(tok, lines, len(data), args.repeats, True)
            hl, hlc = hf_rate(tok, lines, len(data), max(1, args.repeats // 2), False)
            print(f"{name:16} {cname:16} {len(data) / 1e6:5.2f} {k['mb_per_s']:7.2f} {hb:8.2f} "
                  f"{hl:7.2f} {k['mb_per_s'] / hb:5.1f}x {k['cpu_mb_per_s']:7.2f} {hbc:8.2f} "
                  f"{hlc:7.2f} {k['cpu_mb_per_s'] / hbc:5.1f}x", flush=True)


if __name__ == "__main__":
    main()
