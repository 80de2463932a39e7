#!/usr/bin/env python3
"""Kiln's logits processors and sampler against numpy written from the Hugging Face definitions.

    reference_test.py KILN_SAMPLER_REF [--cases N] [--seed S]

The references below follow transformers' RepetitionPenaltyLogitsProcessor,
TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper (generation/logits_process.py),
applied in generate()'s order, and the sampling draw documented in docs/generation.md
(xoshiro256** seeded by SplitMix64, inverse CDF over ids in ascending order). torch is not
needed: every processor is a few lines of numpy. Random cases cover ties, -inf, huge and tiny
logits, duplicate history ids and vocabularies from 1 id to GPT-2's 50257.

Processors must match bit for bit (float32 arithmetic is the same); top-p's softmax is
computed in float64 on both sides; sampled tokens must be identical.
"""
import argparse
import subprocess
import sys

import numpy as np

MASK = (1 << 64) - 1
NEG_INF = np.float32(-np.inf)


# --- the Hugging Face processors, from their definitions --------------------------------------

def repetition_penalty(scores, input_ids, penalty):
    """score = gather(scores, ids); where(score < 0, score * p, score / p); scatter back."""
    s = scores.copy()
    if len(input_ids) == 0:
        return s
    ids = np.asarray(input_ids, dtype=np.int64)
    score = s[ids]
    score = np.where(score < 0, score * np.float32(penalty), score / np.float32(penalty))
    s[ids] = score.astype(np.float32)
    return s


def temperature(scores, t):
    with np.errstate(over="ignore"):
        return (scores / np.float32(t)).astype(np.float32)


def top_k(scores, k):
    """indices_to_remove = scores < topk(scores, k).values[-1]; min_tokens_to_keep = 1."""
    k = min(max(k, 1), scores.size)
    kth = np.sort(scores)[::-1][k - 1]
    s = scores.copy()
    s[s < kth] = NEG_INF
    return s


def softmax64(x):
    x = x.astype(np.float64)
    m = x.max()
    if np.isposinf(m):  # the limit of the softmax: +inf logits share the mass
        w = (x == np.inf).astype(np.float64)
    elif np.isneginf(m):
        return np.zeros_like(x)
    else:
        w = np.exp(x - m)
    return w / w.sum()


def top_p(scores, p):
    """Sort ascending (ties: ascending id), cumulative softmax, remove <= 1 - top_p, keep the
    last one."""
    if p >= 1.0 or np.isneginf(scores.max()):
        return scores.copy()
    order = np.argsort(scores, kind="stable")
    cum = np.cumsum(softmax64(scores[order]))
    remove_sorted = cum <= (1.0 - np.float64(np.float32(p)))
    remove_sorted[-1] = False
    remove = np.zeros(scores.size, dtype=bool)
    remove[order] = remove_sorted
    s = scores.copy()
    s[remove] = NEG_INF
    return s


# --- the documented draw --------------------------------------------------------------------

class Rng:
    """xoshiro256** (Blackman and Vigna), state from four SplitMix64 outputs of the seed."""

    def __init__(self, seed):
        x = seed & MASK
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53


def draw(scores, u):
    x = scores.astype(np.float64)
    m = x.max()
    if np.isneginf(m):
        return None
    w = (x == np.inf).astype(np.float64) if np.isposinf(m) else np.exp(x - m)
    cum = np.cumsum(w)  # sequential, in id order
    hit = np.nonzero((cum > u * cum[-1]) & (w > 0))[0]
    return int(hit[0]) if hit.size else int(np.nonzero(w > 0)[0][-1])


def sample_chain(logits, history, t, k, p, r, seed, steps):
    rng = Rng(seed)
    ids = list(history)
    out = []
    for _ in range(steps):
        s = logits.copy()
        if r != 1.0:
            s = repetition_penalty(s, ids, r)
        if t == 0.0:
            tok = int(np.argmax(s))  # first maximum: the lowest id
            if np.isneginf(s[tok]):
                return out + ["error"]
        else:
            s = temperature(s, t)
            if k > 0:
                s = top_k(s, k)
            s = top_p(s, p)
            tok = draw(s, rng.uniform())
            if tok is None:
                return out + ["error"]
        ids.append(tok)
        out.append(tok)
    return out


# --- random cases ---------------------------------------------------------------------------

def random_logits(rng, vocab):
    kind = rng.integers(0, 6)
    x = rng.standard_normal(vocab)
    if kind == 0:
        x = np.round(x * 2) / 2  # many ties
    elif kind == 1:
        x = x * 1e30  # huge
    elif kind == 2:
        x = x * 1e-20  # tiny
    elif kind == 3:
        x = np.round(x)  # very many ties
        x[rng.random(vocab) < 0.3] = -np.inf
    elif kind == 4:
        x = x * 5
        x[rng.random(vocab) < 0.1] = -np.inf
    x = x.astype(np.float32)
    if np.all(np.isneginf(x)):
        x[rng.integers(0, vocab)] = 0.0
    return x


def fmt(v):
    return "%.9g" % float(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runner")
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    cases = []  # (op, vocab, t, k, p, r, seed, steps, history, logits)
    for op in ["penalty", "temperature", "topk", "topp", "sample"]:
        for i in range(args.cases):
            vocab = int(rng.choice([1, 2, 3, 5, 17, 64, 300])) if i % 50 else 50257 if i == 0 else 1000
            logits = random_logits(rng, vocab)
            hist = [int(v) for v in rng.integers(0, vocab, int(rng.integers(0, 12)))]
            t = float(np.float32(rng.choice([0.0, 1.0, rng.uniform(0.05, 3.0), 1e-38]))) \
                if op == "sample" else float(np.float32(rng.uniform(0.05, 3.0)))
            k = int(rng.choice([0, 1, 2, rng.integers(0, vocab + 3)]))
            p = float(np.float32(rng.choice([0.0, 1.0, rng.uniform(0, 1), rng.uniform(0.8, 1)])))
            r = float(np.float32(rng.choice([1.0, rng.uniform(0.5, 2.5)])))
            seed = int(rng.integers(0, 2**63))
            cases.append((op, vocab, t, k, p, r, seed, 12, hist, logits))

    text = []
    for op, vocab, t, k, p, r, seed, steps, hist, logits in cases:
        text.append(f"{op} {vocab} {fmt(t)} {k} {fmt(p)} {fmt(r)} {seed} {steps}")
        text.append(" ".join(map(str, hist)))
        text.append(" ".join(fmt(v) for v in logits))
    run = subprocess.run([args.runner], input="\n".join(text) + "\n", capture_output=True,
                         text=True, timeout=600)
    if run.returncode != 0:
        print("runner failed:", run.stderr)
        return 1
    lines = run.stdout.splitlines()
    if len(lines) != len(cases):
        print(f"expected {len(cases)} result lines, got {len(lines)}")
        return 1

    failures = 0
    counts = {}
    for (op, vocab, t, k, p, r, seed, steps, hist, logits), line in zip(cases, lines):
        if op == "sample":
            want = [str(v) for v in sample_chain(logits, hist, t, k, p, r, seed, steps)]
            got = line.split()
            ok = got == want
        else:
            want = {"penalty": lambda: repetition_penalty(logits, hist, r),
                    "temperature": lambda: temperature(logits, t),
                    "topk": lambda: top_k(logits, k),
                    "topp": lambda: top_p(logits, p)}[op]()
            got = np.array([np.float32(float(w)) for w in line.split()], dtype=np.float32)
            ok = got.shape == want.shape and np.array_equal(got, want)
        counts[op] = counts.get(op, 0) + 1
        if not ok:
            failures += 1
            if failures <= 5:
                print(f"FAIL {op} vocab={vocab} t={t} k={k} p={p} r={r} seed={seed} hist={hist}")
                print("  logits:", " ".join(fmt(v) for v in logits[:40]))
                print("  want:  ", want if op == "sample" else " ".join(fmt(v) for v in want[:40]))
                print("  got:   ", got if op == "sample" else " ".join(fmt(v) for v in got[:40]))
    print("cases:", ", ".join(f"{op} {n}" for op, n in counts.items()), "- failures:", failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
