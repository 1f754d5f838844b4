#!/usr/bin/env python3
"""Deterministic synthetic file tree for kiln's `big` benchmark corpus (stdlib only).

    gencorpus.py DIR [--seed 1] [--files 63000] [--text-mib 560] [--logs 8x40] [--random 4x64]

Writes under DIR/opt/synth/ (DIR itself must exist):
  src/pNNN/...     --files small text files in 250 directories, sizes log-uniform from
                   64 B to 64 KiB, lines drawn from a seeded pool of source-code-like and
                   prose-like lines (compresses about 2.5x with gzip -6); every 7th file
                   is 0755; one relative symlink per directory
  logs/*.log       large, very compressible log files (timestamps, levels, templates)
  blobs/*.bin      large incompressible files (seeded pseudo-random bytes, like media or
                   already-compressed archives)
Every file, directory and symlink gets the mtime 1700000000, so the same seed gives
the same tree (and the same tar) on every machine. Prints a one-line summary.
"""

import argparse
import os
import random

MTIME = 1700000000
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def vocabulary(rng, n):
    words = set()
    while len(words) < n:
        k = max(2, min(14, int(rng.expovariate(1 / 6.0)) + 2))
        words.add("".join(rng.choices(LETTERS, k=k)))
    return sorted(words)


def line_pool(rng, words, n):
    # Zipf-like weights: a few words are very common, most are rare.
    cum, acc = [], 0.0
    for i in range(len(words)):
        acc += 1.0 / (i + 1)
        cum.append(acc)
    kws = ["if", "for", "return", "static", "int", "const", "struct", "while", "else",
           "def", "import", "class", "self", "None", "void", "char", "size_t", "NULL"]
    ops = [" = ", " == ", " + ", " - ", " * ", " != ", " < ", " > ", ", ", "->", "."]
    pool = []
    for _ in range(n):
        kind = rng.random()
        indent = " " * (4 * rng.randint(0, 4))
        toks = rng.choices(words, cum_weights=cum, k=rng.randint(2, 12))
        if kind < 0.55:  # code-like
            parts = [rng.choice(kws), " "]
            for t in toks:
                parts.append(t)
                parts.append(rng.choice(ops) if rng.random() < 0.5 else "_")
            if rng.random() < 0.4:
                parts.append(str(rng.randint(0, 1 << rng.randint(1, 31))))
            parts.append(rng.choice([";", ":", " {", ")", ""]))
            pool.append(indent + "".join(parts))
        elif kind < 0.85:  # prose-like (comments, docs)
            s = " ".join(toks)
            pool.append(indent + rng.choice(["# ", "// ", " * ", ""]) + s[:1].upper() + s[1:] + ".")
        else:  # config-like
            pool.append("%s_%s=%s" % (toks[0].upper(), toks[-1].upper(),
                                      rng.choice([str(rng.randint(0, 99999)), "/".join(toks[:3]),
                                                  "true", "false"])))
    return pool


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.utime(path, (MTIME, MTIME))


def gen_text(root, rng, nfiles, text_bytes_hint):
    words = vocabulary(rng, 4000)
    pool = line_pool(rng, words, 200000)
    ndirs = 250
    total = 0
    lo, hi = 64, 64 * 1024
    import math
    for d in range(ndirs):
        dpath = os.path.join(root, "p%03d" % d)
        os.makedirs(dpath, exist_ok=True)
        names = []
        count = nfiles // ndirs + (1 if d < nfiles % ndirs else 0)
        for i in range(count):
            size = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            lines = rng.choices(pool, k=size // 30 + 2)
            data = ("\n".join(lines) + "\n").encode()[:size]
            ext = rng.choice([".c", ".h", ".py", ".txt", ".conf", ".md", ".json", ".sh"])
            name = "%s%05d%s" % (rng.choice(words)[:10], i, ext)
            mode = 0o755 if i % 7 == 0 else 0o644
            write(os.path.join(dpath, name), data, mode)
            names.append(name)
            total += len(data)
        if names:
            link = os.path.join(dpath, "latest")
            os.symlink(names[0], link)
            os.utime(link, (MTIME, MTIME), follow_symlinks=False)
    for d in range(ndirs):
        os.utime(os.path.join(root, "p%03d" % d), (MTIME, MTIME))
    return total


def gen_logs(root, rng, n, mib):
    os.makedirs(root, exist_ok=True)
    comps = ["net", "db", "auth", "cache", "http", "sched", "io", "kiln", "worker", "api"]
    levels = ["INFO"] * 8 + ["DEBUG"] * 4 + ["WARN", "ERROR"]
    tmpl = [
        "request %s %s from 10.%d.%d.%d took %dms status=%d",
        "connection %d closed after %d bytes",
        "cache miss for key user:%d:profile, loading from backend (%d ms)",
        "job %d finished: %d items processed, %d skipped",
        "retrying upstream call attempt=%d backoff=%dms",
    ]
    def message():
        j = rng.randrange(len(tmpl))
        if j == 0:
            return tmpl[0] % (rng.choice(["GET", "GET", "POST", "PUT"]),
                              "/api/v1/" + rng.choice(comps) + "/" + str(rng.randint(1, 5000)),
                              rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254),
                              rng.randint(1, 900), rng.choice([200, 200, 200, 204, 404, 500]))
        if j == 1:
            return tmpl[1] % (rng.randint(1, 1 << 20), rng.randint(0, 1 << 24))
        if j == 2:
            return tmpl[2] % (rng.randint(1, 100000), rng.randint(1, 50))
        if j == 3:
            return tmpl[3] % (rng.randint(1, 1 << 16), rng.randint(0, 10000), rng.randint(0, 50))
        return tmpl[4] % (rng.randint(1, 5), rng.choice([100, 200, 400, 800, 1600]))

    # a pool of level/component/message tails; each line gets its own timestamp
    pool = ["%-5s [%s] %s" % (rng.choice(levels), rng.choice(comps), message())
            for _ in range(100000)]
    total = 0
    target = mib << 20
    for k in range(n):
        t0 = 1700000000 + k * 86400
        nlines = target // 60 + 1
        tails = rng.choices(pool, k=nlines)
        ms = sorted(rng.randrange(86400 * 1000) for _ in range(nlines))
        out = ["%d.%03d %s" % (t0 + m // 1000, m % 1000, tl) for m, tl in zip(ms, tails)]
        data = ("\n".join(out) + "\n").encode()
        data = data[:target]
        write(os.path.join(root, "service%02d.log" % k), data)
        total += len(data)
    os.utime(root, (MTIME, MTIME))
    return total


def gen_random(root, rng, n, mib):
    os.makedirs(root, exist_ok=True)
    total = 0
    for k in range(n):
        data = rng.randbytes(mib << 20)
        write(os.path.join(root, "asset%02d.bin" % k), data)
        total += len(data)
    os.utime(root, (MTIME, MTIME))
    return total


def nxm(s):
    n, m = s.lower().split("x")
    return int(n), int(m)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=63000)
    ap.add_argument("--logs", default="8x40", help="COUNTxMiB of compressible log files")
    ap.add_argument("--random", default="4x64", help="COUNTxMiB of incompressible files")
    a = ap.parse_args()
    os.umask(0o022)
    base = os.path.join(a.dir, "opt", "synth")
    os.makedirs(base, exist_ok=True)
    rng = random.Random(a.seed)
    t = gen_text(os.path.join(base, "src"), rng, a.files, 0)
    ln, lm = nxm(a.logs)
    lg = gen_logs(os.path.join(base, "logs"), random.Random(a.seed * 1000 + 1), ln, lm)
    rn, rm = nxm(a.random)
    rd = gen_random(os.path.join(base, "blobs"), random.Random(a.seed * 1000 + 2), rn, rm)
    for p in (os.path.join(base, "src"), base, os.path.join(a.dir, "opt")):
        os.utime(p, (MTIME, MTIME))
    print("synthetic tree (seed %d): %d text files %.0f MiB, %d log files %.0f MiB, "
          "%d random files %.0f MiB" % (a.seed, a.files, t / 2**20, ln, lg / 2**20, rn, rd / 2**20))


if __name__ == "__main__":
    main()
