#!/usr/bin/env python3
"""Compare what `docker build` and `kiln build -f` made of one Dockerfile.

  dfcompare.py config DOCKER_INSPECT.json KILN_INSPECT.json
      the container config fields a Dockerfile sets, field by field (null, [] and
      {} are the same: docker writes some of them empty, kiln leaves them out)
  dfcompare.py fs DOCKER_EXPORT.tar KILN_EXPORT.tar
      the filesystems of a container of each (`docker export`): paths, types,
      modes, owners, symlink targets, hardlinks and contents; mtimes are not
      compared (kiln clamps them to SOURCE_DATE_EPOCH), nor what docker itself
      puts into every container (.dockerenv, /etc/hosts, /dev, ...)

Prints one line per difference and exits 1 if there is any.
"""
import hashlib
import json
import sys
import tarfile

FIELDS = ["Env", "Entrypoint", "Cmd", "WorkingDir", "User", "ExposedPorts", "Volumes",
          "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild"]
DOCKER_ADDS = {".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab",
               "dev", "proc", "sys", "etc"}


def norm(v):
    if v in (None, [], {}, ""):
        return None
    return v


def config(a, b):
    da = json.load(open(a))[0]["Config"]
    db = json.load(open(b))[0]["Config"]
    bad = 0
    for f in FIELDS:
        va, vb = norm(da.get(f)), norm(db.get(f))
        if va != vb:
            print("config %s: docker %s, kiln %s" % (f, json.dumps(va), json.dumps(vb)))
            bad = 1
    return bad


def entries(path):
    out = {}
    with tarfile.open(path) as t:
        for m in t:
            name = m.name.rstrip("/")
            if name.startswith("./"):
                name = name[2:]
            top = name.split("/")[0]
            if name in DOCKER_ADDS or top in ("dev", "proc", "sys"):
                continue
            if m.isreg():
                h = hashlib.sha256(t.extractfile(m).read()).hexdigest()[:16]
                detail = "size=%d sha=%s" % (m.size, h)
                typ = "f"
            elif m.isdir():
                typ, detail = "d", ""
            elif m.issym():
                typ, detail = "l", "-> " + m.linkname
            elif m.islnk():
                typ, detail = "h", "=> " + m.linkname.lstrip("./")
            elif m.ischr() or m.isblk():
                typ, detail = "c" if m.ischr() else "b", "%d,%d" % (m.devmajor, m.devminor)
            elif m.isfifo():
                typ, detail = "p", ""
            else:
                typ, detail = "?", ""
            mode = "-" if typ == "l" else "%04o" % (m.mode & 0o7777)
            out[name] = "%s %s %d:%d %s" % (typ, mode, m.uid, m.gid, detail)
    return out


def fs(a, b):
    ea, eb = entries(a), entries(b)
    # a hardlink is compared as a file with its group's content, whichever
    # path docker or kiln wrote first
    for e in (ea, eb):
        for n, v in list(e.items()):
            if v.startswith("h "):
                tgt = v.split("=> ", 1)[1]
                if tgt in e:
                    parts = v.split(" ")
                    e[n] = "f %s %s %s" % (parts[1], parts[2], e[tgt].split(" ", 3)[3])
    bad = 0
    for n in sorted(set(ea) | set(eb)):
        if ea.get(n) != eb.get(n):
            print("/%s: docker [%s], kiln [%s]" % (n, ea.get(n, "missing"), eb.get(n, "missing")))
            bad = 1
    return bad


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("config", "fs"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    rc = (config if sys.argv[1] == "config" else fs)(sys.argv[2], sys.argv[3])
    sys.exit(rc)


if __name__ == "__main__":
    main()
