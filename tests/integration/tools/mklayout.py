#!/usr/bin/env python3
"""Writes an OCI image layout by hand from layer specs, for tests that need
layers kiln itself would refuse to build (hostile names, whiteouts).

usage: mklayout.py OUTDIR TAG LAYERSPEC.json...
A layer spec is a JSON list of entries: {"name": ..., "type": "file"|"dir"|
"symlink"|"hardlink", "data": "...", "target": "...", "mode": 420}.
"""
import gzip, hashlib, io, json, os, sys, tarfile

def layer_bytes(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.mode = e.get("mode", 0o755 if e["type"] == "dir" else 0o644)
            ti.mtime = 1700000000
            data = None
            if e["type"] == "dir":
                ti.type = tarfile.DIRTYPE
            elif e["type"] == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = e["target"]
            elif e["type"] == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = e["target"]
            else:
                data = e.get("data", "").encode()
                ti.size = len(data)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()

def put(out, b):
    d = hashlib.sha256(b).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(b)
    return "sha256:" + d

def main():
    out, tag, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    layers, diff_ids = [], []
    for s in specs:
        raw = layer_bytes(json.load(open(s)))
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, mtime=0)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "digest": put(out, gz), "size": len(gz)})
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "config": {}}).encode()
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": put(out, cfg), "size": len(cfg)},
                      "layers": layers}).encode()
    idx = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": put(out, man), "size": len(man),
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    json.dump(idx, open(os.path.join(out, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))

main()
