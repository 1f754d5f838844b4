#!/usr/bin/env python3
"""Copies the first image of an OCI layout with one deliberate fault, every
other digest, size and name made to match again, so that the fault is the
only thing wrong; optionally also writes it as a docker-archive (the
manifest.json form docker load reads). For kiln validate's tests: each fault
is shown refused by a real consumer, and flagged by kiln validate.

usage: breakimage.py SRC_LAYOUT FAULT OUT_LAYOUT [DOCKER_ARCHIVE TAG]
FAULT: none, diff-id, layer-count, blob-size[=DELTA], blob-digest, mixed-config,
       mixed-layer, dotdot, hardlink, hardlink-lower, layers=N, same-layer-whiteout, latin1, history, truncated, no-oci-layout, layout-version, workdir-rel, workdir=PATH, nocmd, entrypoint=PATH,
       user=NAME, noexec=PATH
"""
import gzip, hashlib, io, json, os, shutil, sys, tarfile


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def put(layout, b):
    d = hashlib.sha256(b).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(b)
    return "sha256:" + d


def tar_of(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, arg in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            ti.mode = 0o644
            data = None
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            else:
                data = arg.encode()
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def add_layer(layout, man, cfg, raw):
    gz = gzip.compress(raw, mtime=0)
    man["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                          "digest": put(layout, gz), "size": len(gz)})
    cfg["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw).hexdigest())
    cfg.setdefault("history", []).append({"created_by": "breakimage.py"})


def main():
    src, fault, out = sys.argv[1], sys.argv[2], sys.argv[3]
    shutil.copytree(src, out)
    for f in os.listdir(out):  # kiln's lock file is no part of a layout
        if f.startswith(".kiln"):
            os.remove(os.path.join(out, f))
    idx = json.load(open(os.path.join(out, "index.json")))
    desc = idx["manifests"][0]
    man = json.load(open(blob_path(out, desc["digest"])))
    cfg = json.load(open(blob_path(out, man["config"]["digest"])))
    cc = cfg.setdefault("config", {})
    last = man["layers"][-1]
    name, _, arg = fault.partition("=")
    if name == "diff-id":
        cfg["rootfs"]["diff_ids"][-1] = "sha256:" + hashlib.sha256(b"not the layer").hexdigest()
    elif name == "layer-count":
        cfg["rootfs"]["diff_ids"].append(cfg["rootfs"]["diff_ids"][-1])
    elif name == "blob-size":  # =-1: smaller than the blob, else larger
        last["size"] += int(arg or 1)
    elif name == "blob-digest":
        p = blob_path(out, last["digest"])
        b = bytearray(open(p, "rb").read())
        b[len(b) // 2] ^= 0xFF
        os.chmod(p, 0o644)
        open(p, "wb").write(bytes(b))
    elif name == "mixed-config":
        man["config"]["mediaType"] = "application/vnd.docker.container.image.v1+json"
    elif name == "mixed-layer":
        for l in man["layers"]:
            l["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    elif name == "dotdot":
        add_layer(out, man, cfg, tar_of([("../escape", "file", "outside\n")]))
    elif name == "hardlink":
        add_layer(out, man, cfg, tar_of([("data", "dir", None),
                                         ("data/link", "hardlink", "data/nowhere")]))
    elif name == "layers":  # =N: N layers in all, each one small file
        for i in range(len(man["layers"]), int(arg)):
            add_layer(out, man, cfg, tar_of([("l%03d" % i, "file", "%d\n" % i)]))
    elif name == "same-layer-whiteout":  # a file, then its whiteout, in one layer
        add_layer(out, man, cfg, tar_of([("kept", "file", "the specs keep me\n"),
                                         (".wh.kept", "file", "")]))
    elif name == "latin1":  # a Latin-1 (not UTF-8) name, twice in one layer
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT,
                          encoding="iso-8859-1") as t:
            for data in (b"1\n", b"2\n"):
                ti = tarfile.TarInfo("caf\xe9")
                ti.size, ti.mtime = len(data), 1700000000
                t.addfile(ti, io.BytesIO(data))
        add_layer(out, man, cfg, raw.getvalue())
    elif name == "truncated":  # the last layer cut in half, its descriptor made to match
        b = open(blob_path(out, last["digest"]), "rb").read()
        b = b[:len(b) // 2]
        last["digest"], last["size"] = put(out, b), len(b)
    elif name == "no-oci-layout":
        os.remove(os.path.join(out, "oci-layout"))
    elif name == "layout-version":
        open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"2.0.0"}')
    elif name == "history":  # one history entry more than there are layers
        cfg["history"] = [{"created_by": "layer %d" % i} for i in range(len(man["layers"]) + 1)]
    elif name == "hardlink-lower":  # a hardlink to a file of the layer below
        add_layer(out, man, cfg, tar_of([("bin/linked", "hardlink", "bin/busybox")]))
    elif name == "workdir-rel":
        cc["WorkingDir"] = "data"
    elif name == "workdir":
        cc["WorkingDir"] = arg
    elif name == "nocmd":
        cc["Entrypoint"] = None
        cc["Cmd"] = None
    elif name == "entrypoint":
        cc["Entrypoint"] = [arg]
        cc["Cmd"] = None
    elif name == "user":
        cc["User"] = arg
    elif name == "noexec":
        add_layer(out, man, cfg, tar_of([("app", "dir", None),
                                         (arg.lstrip("/"), "file", "#!/bin/sh\necho hi\n")]))
        cc["Entrypoint"] = [arg]
        cc["Cmd"] = None
    elif name != "none":
        sys.exit("unknown fault " + fault)
    cfgb = json.dumps(cfg).encode()
    man["config"]["digest"] = put(out, cfgb)
    man["config"]["size"] = len(cfgb)
    manb = json.dumps(man).encode()
    desc["digest"] = put(out, manb)
    desc["size"] = len(manb)
    idx["manifests"] = [desc]
    json.dump(idx, open(os.path.join(out, "index.json"), "w"))
    if len(sys.argv) > 5:
        darch, tag = sys.argv[4], sys.argv[5]
        entry = {"Config": "blobs/sha256/" + man["config"]["digest"][7:],
                 "RepoTags": [tag],
                 "Layers": ["blobs/sha256/" + l["digest"][7:] for l in man["layers"]]}
        with tarfile.open(darch, "w") as t:
            mj = json.dumps([entry]).encode()
            ti = tarfile.TarInfo("manifest.json")
            ti.size = len(mj)
            t.addfile(ti, io.BytesIO(mj))
            for p in [entry["Config"]] + entry["Layers"]:
                t.add(os.path.join(out, p), p)


if __name__ == "__main__":
    main()
