#!/usr/bin/env python3
"""Describe a directory tree or a layer tarball in one comparable text format.

  treeinfo.py tree DIR [--mtime] [--exclude PREFIX]...
  treeinfo.py layer FILE [--mtime]        FILE: a layer tar, plain/gzip/zstd/bzip2/xz
  treeinfo.py names FILE                  raw member names, in archive order
  treeinfo.py hygiene FILE [--epoch N]    reproducibility/format problems, one a line

`tree` and `layer` print one line per path (the root itself excluded), sorted
bytewise:  path | type | mode | uid:gid | detail | xattrs | hardlink-group [| mtime]
  type: f d l c b p s;  mode: permission bits incl. setuid/setgid/sticky ("-" for
  symlinks, whose mode means nothing);  detail: size and sha256 for files, the
  target for symlinks, major,minor for devices;  xattrs: name=hex, sorted;
  hardlink-group: hl=<smallest path of the group> for paths sharing an inode.
Non-UTF-8 bytes in names are shown as \\xNN.
"""
import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import subprocess
import sys
import tarfile


def show(b):
    if isinstance(b, str):
        b = b.encode("utf-8", "surrogateescape")
    return b.decode("utf-8", "backslashreplace").replace("\n", "\\n")


def line(path, typ, mode, uid, gid, detail, xattrs, hl, mtime, with_mtime):
    xs = ",".join("%s=%s" % (show(k), v.hex()) for k, v in sorted(xattrs.items()))
    fields = [show(path), typ, mode, "%d:%d" % (uid, gid), detail, xs or "-", hl or "-"]
    if with_mtime:
        fields.append("mtime=%d" % int(mtime))
    return " | ".join(fields)


def tree(root, with_mtime, excludes):
    root = os.fsencode(root)
    ents = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root)
            if any(rel == e or rel.startswith(e + b"/") for e in excludes):
                continue
            ents.append((rel, full))
    ents.sort()
    groups = {}
    sts = {}
    for rel, full in ents:
        st = os.lstat(full)
        sts[rel] = st
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            groups.setdefault((st.st_dev, st.st_ino), []).append(rel)
    leader = {}
    for members in groups.values():
        if len(members) > 1:
            for m in members:
                leader[m] = min(members)
    out = []
    for rel, full in ents:
        st = sts[rel]
        m = st.st_mode
        mode = "%04o" % stat.S_IMODE(m)
        detail = ""
        if stat.S_ISREG(m):
            typ = "f"
            with open(full, "rb") as f:
                detail = "%d:%s" % (st.st_size, hashlib.sha256(f.read()).hexdigest())
        elif stat.S_ISDIR(m):
            typ = "d"
        elif stat.S_ISLNK(m):
            typ, mode, detail = "l", "-", "-> " + show(os.readlink(full))
        elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
            typ = "c" if stat.S_ISCHR(m) else "b"
            detail = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        elif stat.S_ISFIFO(m):
            typ = "p"
        elif stat.S_ISSOCK(m):
            typ = "s"
        else:
            typ = "?"
        xattrs = {}
        try:
            for name in os.listxattr(full, follow_symlinks=False):
                xattrs[name.encode("utf-8", "surrogateescape")] = os.getxattr(full, name, follow_symlinks=False)
        except OSError:
            pass
        hl = ("hl=" + show(leader[rel])) if rel in leader else ""
        out.append(line(rel, typ, mode, st.st_uid, st.st_gid, detail, xattrs, hl, st.st_mtime, with_mtime))
    return out


def read_stream(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-dcq"], input=data, stdout=subprocess.PIPE, check=True).stdout
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    return data


def open_tar(path):
    data = read_stream(path)
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:", encoding="utf-8", errors="surrogateescape")


def norm(name):
    b = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    while b.startswith(b"./"):
        b = b[2:]
    b = b.lstrip(b"/")
    while b.endswith(b"/"):
        b = b[:-1]
    return b


def member_xattrs(m):
    xs = {}
    for k, v in m.pax_headers.items():
        if k.startswith("SCHILY.xattr."):
            xs[k[len("SCHILY.xattr."):].encode("utf-8", "surrogateescape")] = v.encode("utf-8", "surrogateescape")
    return xs


def layer(path, with_mtime):
    tf = open_tar(path)
    members = tf.getmembers()
    byname = {}
    order = []
    for m in members:
        n = norm(m.name)
        if n in (b"", b"."):
            continue
        if n not in byname:
            order.append(n)
        byname[n] = m
    # hard link groups
    parent = {}
    for n in order:
        m = byname[n]
        if m.islnk():
            t = norm(m.linkname)
            while t in parent:
                t = parent[t]
            parent[n] = t
    groups = {}
    for n, t in parent.items():
        groups.setdefault(t, {t}).add(n)
    leader = {}
    for t, ms in groups.items():
        for x in ms:
            leader[x] = min(ms)
    out = []
    for n in sorted(order):
        m = byname[n]
        src = byname.get(parent[n], m) if n in parent else m
        mode = "%04o" % (src.mode & 0o7777)
        detail = ""
        if src.isreg():
            typ = "f"
            data = tf.extractfile(src).read()
            detail = "%d:%s" % (len(data), hashlib.sha256(data).hexdigest())
        elif src.isdir():
            typ = "d"
        elif src.issym():
            typ, mode, detail = "l", "-", "-> " + show(src.linkname)
        elif src.ischr() or src.isblk():
            typ = "c" if src.ischr() else "b"
            detail = "%d,%d" % (src.devmajor, src.devminor)
        elif src.isfifo():
            typ = "p"
        elif src.islnk():
            typ = "?hardlink-to-missing:" + show(src.linkname)
        else:
            typ = "?type-%r" % src.type
        hl = ("hl=" + show(leader[n])) if n in leader else ""
        out.append(line(n, typ, mode, src.uid, src.gid, detail, member_xattrs(src), hl, m.mtime, with_mtime))
    return out


def names(path):
    tf = open_tar(path)
    return [show(m.name) for m in tf.getmembers()]


def hygiene(path, epoch):
    tf = open_tar(path)
    probs = []
    seen = set()
    dirs = set()
    prefixed = 0
    members = tf.getmembers()
    for m in members:
        raw = m.name.encode("utf-8", "surrogateescape")
        n = norm(raw)
        if raw.startswith(b"./"):
            prefixed += 1
        if raw.startswith(b"/"):
            probs.append("absolute: " + show(raw))
        if b".." in raw.split(b"/"):
            probs.append("dotdot: " + show(raw))
        if n in seen:
            probs.append("dup: " + show(n))
        seen.add(n)
        par = n.rsplit(b"/", 1)[0] if b"/" in n else None
        if par is not None and par not in dirs:
            probs.append("parent-after-child-or-missing: " + show(n))
        if m.isdir():
            dirs.add(n)
        for k in m.pax_headers:
            if k in ("atime", "ctime"):
                probs.append("pax-%s: %s" % (k, show(n)))
            if k.startswith("LIBARCHIVE.xattr.") and ("SCHILY.xattr." + k[len("LIBARCHIVE.xattr."):]) not in m.pax_headers:
                probs.append("xattr-not-schily: %s %s" % (show(n), k))
        if m.uname or m.gname:
            probs.append("uname-gname: %s %r %r" % (show(n), m.uname, m.gname))
        if epoch is not None and m.mtime > epoch:
            probs.append("mtime-after-epoch: %s %s" % (show(n), m.mtime))
    if 0 < prefixed < len(members):
        probs.append("mixed-dot-slash-prefix: %d of %d" % (prefixed, len(members)))
    return probs


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    cmd, target, rest = argv[1], argv[2], argv[3:]
    with_mtime = "--mtime" in rest
    if cmd == "tree":
        excl = [os.fsencode(rest[i + 1]) for i, a in enumerate(rest) if a == "--exclude"]
        out = tree(target, with_mtime, excl)
    elif cmd == "layer":
        out = layer(target, with_mtime)
    elif cmd == "names":
        out = names(target)
    elif cmd == "hygiene":
        epoch = int(rest[rest.index("--epoch") + 1]) if "--epoch" in rest else None
        out = hygiene(target, epoch)
    else:
        sys.stderr.write(__doc__)
        return 2
    sys.stdout.write("".join(l + "\n" for l in out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
