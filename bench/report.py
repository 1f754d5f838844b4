#!/usr/bin/env python3
"""Markdown tables from bench/run.sh's raw results (stdlib only).

    report.py build RESULTS.tsv CORPUS     the build table of one corpus + reproducibility
    report.py push RESULTS.tsv             the push table

RESULTS.tsv has one line per measured run, tab-separated, with the columns of COLS.
Medians are taken over the successful runs of a row, each metric on its own.
"""

import statistics
import sys

COLS = ["corpus", "section", "id", "label", "base", "run", "rc", "wall", "cpu", "rss_kib",
        "bytes", "digest", "up", "down", "reqs", "note", "other"]

NOISY = 0.3   # CPUs used by other processes during a run: flag the row

SECTION_TITLE = {
    "dir": "directory",
    "tar": "tarball",
    "limit": "limit",
    "yocto": "directory",
}


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != len(COLS):
                continue
            rows.append(dict(zip(COLS, parts)))
    return rows


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt_s(v):
    if v is None:
        return "—"
    if v < 1:
        return "%.3f" % v
    if v < 100:
        return "%.2f" % v
    return "%.0f" % v


def fmt_mib(kib):
    return "—" if kib is None else "%.0f" % (kib / 1024.0) if kib >= 10240 else "%.1f" % (kib / 1024.0)


def fmt_bytes(b):
    if b is None:
        return "—"
    b = int(b)
    s = "{:,}".format(b)
    if b >= 10 * 2**20:
        return "%s (%.1f MiB)" % (s, b / 2**20)
    return s


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%.2f×" % (a / b)


def group(rows):
    """Rows grouped by (section, id), in order of first appearance."""
    order, g = [], {}
    for r in rows:
        k = (r["section"], r["id"])
        if k not in g:
            g[k] = []
            order.append(k)
        g[k].append(r)
    return order, g


def summarize(runs):
    ok = [r for r in runs if r["rc"] == "0"]
    failed = [r for r in runs if r["rc"] != "0"]
    s = {
        "n": len(runs),
        "ok": len(ok),
        "wall": med([num(r["wall"]) for r in ok]),
        "cpu": med([num(r["cpu"]) for r in ok]),
        "rss": med([num(r["rss_kib"]) for r in ok]),
        "bytes": med([num(r["bytes"]) for r in ok]),
        "up": med([num(r["up"]) for r in ok]),
        "down": med([num(r["down"]) for r in ok]),
        "reqs": med([num(r["reqs"]) for r in ok]),
        # other load is only meaningful over runs long enough for the 10 ms tick
        "other": max([num(r["other"]) or 0 for r in runs if (num(r["wall"]) or 0) >= 1.0] or [0]),
        "label": runs[0]["label"],
        "base": runs[0]["base"],
        "notes": [],
    }
    for r in runs:
        if r["note"] and r["note"] not in s["notes"]:
            s["notes"].append(r["note"])
    if failed:
        s["notes"].insert(0, "**failed %d of %d runs** (rc %s)" % (
            len(failed), len(runs), ",".join(sorted({r["rc"] for r in failed}))))
    return s


def build_table(rows, corpus):
    rows = [r for r in rows if r["corpus"] == corpus]
    timed = [r for r in rows if r["section"] in ("dir", "tar", "limit", "yocto")]
    if not timed:
        return "_no build results for %s_\n" % corpus
    order, g = group(timed)
    summ = {k: summarize(g[k]) for k in order}
    by_id = {k[1]: summ[k] for k in order}
    out = []
    nruns = max(s["n"] for s in summ.values())
    out.append("| input | tool / command | wall s | CPU s | peak RSS MiB | layer bytes "
               "| × kiln time | × kiln size | notes |")
    out.append("|---|---|--:|--:|--:|--:|--:|--:|---|")
    for k in order:
        s = summ[k]
        base = by_id.get(s["base"])
        notes = list(s["notes"])
        if s["other"] >= NOISY:
            notes.append("⚠ other processes used up to %.1f CPUs during a run" % s["other"])
        if k[0] == "limit" and base and s["wall"] and base["wall"]:
            notes.insert(0, "kiln%s takes %.2f× the time of this" % (
                " zstd" if "zstd" in s["label"] else "", base["wall"] / s["wall"]))
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            SECTION_TITLE.get(k[0], k[0]), s["label"], fmt_s(s["wall"]), fmt_s(s["cpu"]),
            fmt_mib(s["rss"]), fmt_bytes(s["bytes"]),
            fmt_ratio(s["wall"], base["wall"] if base else None),
            fmt_ratio(s["bytes"], base["bytes"] if base else None),
            "; ".join(notes)))
    out.append("")
    out.append("Median of %d run(s) each. `× kiln` compares with the plain `kiln build` of the "
               "same input kind (directory rows with `kiln --rootfs`, tarball rows with "
               "`kiln --tar`; the limit rows with the kiln row they bound)." % nruns)
    out.append("")
    # reproducibility: every digest kiln printed for one configuration, timed or not
    repro = []
    kiln_ids = []
    for r in rows:
        if r["id"].startswith("kiln") and r["digest"] not in ("", "-") and r["rc"] == "0":
            if r["id"] not in kiln_ids:
                kiln_ids.append(r["id"])
    digests = {i: [r["digest"] for r in rows if r["id"] == i and r["rc"] == "0"
                   and r["digest"] not in ("", "-")] for i in kiln_ids}
    for i in kiln_ids:
        if i.endswith("-j1"):
            continue
        d = digests[i]
        if len(d) < 2:
            continue
        label = next(r["label"] for r in rows if r["id"] == i)
        distinct = sorted(set(d))
        mark = "✓" if len(distinct) == 1 and len(d) >= 2 else ("✗" if len(distinct) > 1 else "?")
        line = "- %s %s: %d builds, %d distinct manifest digest%s (%s)" % (
            mark, label, len(d), len(distinct), "" if len(distinct) == 1 else "s",
            ", ".join(x[:19] + "…" for x in distinct))
        j1 = digests.get(i + "-j1")
        if j1:
            same = set(j1) == set(distinct) and len(distinct) == 1
            line += "; with `-j1`: %s" % ("same ✓" if same else "different ✗ (%s)" % j1[0][:19])
        repro.append(line)
    if repro:
        out.append("Reproducibility (`SOURCE_DATE_EPOCH` set; the same build run again):")
        out.append("")
        out.extend(repro)
        out.append("")
    return "\n".join(out) + "\n"


def push_table(rows):
    rows = [r for r in rows if r["section"] in ("push-first", "push-re")]
    if not rows:
        return "_no push results_\n"
    order, g = group(rows)
    ids = []
    for sec, i in order:
        if i not in ids:
            ids.append(i)
    out = []
    nruns = max(len(v) for v in g.values())
    out.append("| client | first push wall s | CPU s | sent | received | requests "
               "| re-push wall s | re-push sent | re-push requests | notes |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for i in ids:
        f = summarize(g[("push-first", i)]) if ("push-first", i) in g else None
        r = summarize(g[("push-re", i)]) if ("push-re", i) in g else None
        label = (f or r)["label"]
        notes = []
        for s, tag in ((f, "first"), (r, "re-push")):
            if s:
                for n in s["notes"]:
                    n2 = n if not n.startswith("**failed") else "%s: %s" % (tag, n)
                    if n2 not in notes:
                        notes.append(n2)
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label,
            fmt_s(f["wall"]) if f else "—", fmt_s(f["cpu"]) if f else "—",
            fmt_bytes(f["up"]) if f else "—", fmt_bytes(f["down"]) if f else "—",
            "%d" % f["reqs"] if f and f["reqs"] is not None else "—",
            fmt_s(r["wall"]) if r else "—",
            fmt_bytes(r["up"]) if r else "—",
            "%d" % r["reqs"] if r and r["reqs"] is not None else "—",
            "; ".join(notes)))
    out.append("")
    out.append("Median of %d run(s); every run pushes to a fresh registry. *sent* = bytes the "
               "client sent (requests, headers and bodies) and *received* = response bytes, "
               "both counted by `bench/countproxy.py`; *requests* = lines in the registry's "
               "access log." % nruns)
    out.append("")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    kind, path = sys.argv[1], sys.argv[2]
    rows = load(path)
    if kind == "build":
        sys.stdout.write(build_table(rows, sys.argv[3]))
    elif kind == "push":
        sys.stdout.write(push_table(rows))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
