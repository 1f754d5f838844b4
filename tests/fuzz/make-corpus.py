#!/usr/bin/env python3
"""Regenerates the seed corpora in tests/fuzz/corpus/ (see README.md).

    python3 tests/fuzz/make-corpus.py path/to/kiln

Images come from the kiln binary given (built trees, an index, archives);
tarballs from Python's tarfile and GNU tar; headers, references and auth
files are the shapes real registries and tools use. Every seed is small:
the whole corpus stays well under 2 MB.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def out(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def trim_tar(b):
    """Drops the record padding after the two end-of-archive blocks."""
    end = len(b)
    while end >= 512 and b[end - 512:end] == b"\0" * 512:
        end -= 512
    return b[:end] + b"\0" * 1024


# ---------------------------------------------------------------- references
def references():
    refs = [
        "alpine", "alpine:3.19", "library/alpine:latest", "docker.io/library/alpine:3.19",
        "index.docker.io/library/ubuntu:22.04", "registry-1.docker.io/nginx",
        "ghcr.io/owner/repo:v1.2.3", "quay.io/org/image_name__x:tag-1.0",
        "localhost:5000/a/b/c:dev", "localhost/app", "[::1]:5000/x:y", "[fe80::1]/x",
        "127.0.0.1:5000/team/app:1.0_rc.2",
        "registry.example.com:443/a-b.c/d--e:X.Y",
        "alpine@sha256:" + "a" * 64,
        "gcr.io/distroless/static:nonroot@sha256:" + "0123456789abcdef" * 4,
        "Alpine", "alpine:", ":tag", "a//b", "-x/y", "x:-t", "host:99999/x", "a" * 300,
    ]
    for i, r in enumerate(refs):
        out("fuzz_reference", "ref-%02d" % i, r)
    plats = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/x86_64", "linux/aarch64",
             "windows/amd64", "linux/arm64/v9.2", "linux/amd64/v3", "linux/riscv64", "linux/"]
    specs = ["oci:/tmp/layout:1.0", "oci-archive:image.tar:latest", "docker-archive:img.tar",
             "oci:dir/", "oci:a:b:c", "oci-archive:/x/y.tar", "docker-archive:a:b",
             "oci-archive:ps-oci.tar:localhost/ba-oci:1", "oci:a\\:b/c:v1", "oci:d:@0",
             "docker-archive:two.tar:img1:v1", "docker-archive:two.tar:@1",
             "docker://127.0.0.1:99999/x:1", "dokcer-archive:x", "oci:a\\\\:x@y+z--w"]
    args = ['["/bin/sh","-c","echo hello"]', "sh -c 'echo \"a b\"' \\$HOME",
            'python3 -m http.server "8000"', '  [ "a" , "b" ]', "echo a\\\nb",
            '"unterminated', "'single", "trailing\\", '["x",1]', "[]", ""]
    for i in range(max(len(plats), len(specs), len(args))):
        parts = [refs[i % len(refs)], plats[i % len(plats)], specs[i % len(specs)],
                 args[i % len(args)]]
        out("fuzz_reference", "combo-%02d" % i, "\0".join(parts))
    out("fuzz_reference", "combo-extra", "\0".join(["a:b", "linux/amd64", "oci:x", "[]",
                                                    "ghcr.io/x/y:z", "localhost:1/q"]))


# ---------------------------------------------------------- WWW-Authenticate
def challenges():
    hs = [
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"',
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:owner/repo:pull"',
        'Bearer realm="https://quay.io/v2/auth",service="quay.io",'
        'scope="repository:org/repo:pull,push"',
        'Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",'
        'scope="repository:library/nginx:pull"',
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push",error="insufficient_scope"',
        'Bearer realm="https://gitlab.example.com/jwt/auth",service="container_registry",'
        'scope="repository:group/project:push,pull"',
        'Basic realm="Registry Realm"',
        'Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",'
        'service="ecr.amazonaws.com"',
        'basic realm=basic-realm',
        'Basic realm="a", Bearer realm="https://b/token",service=c',
        'Negotiate\nBasic realm="x"',
        'Basic realm="x"\nBearer realm="https://t/token", service="s"',
        'Bearer realm="https://t/\\"quoted\\"",service="s"',
        'Bearer realm="unterminated',
        'Bearer service="no-realm"',
        'Digest realm="x", nonce="y", qop="auth"',
        ', , Bearer ,realm = "sp aced" , scope=x',
    ]
    for i, h in enumerate(hs):
        out("fuzz_www_authenticate", "chal-%02d" % i, h)


# --------------------------------------------------------------- URLs, Link
def urls():
    us = [
        "https://registry-1.docker.io/v2/library/alpine/blobs/sha256:" + "a" * 64 + "\n"
        "https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/"
        "aa/" + "a" * 64 + "/data?verify=1700000000-abc%2Bdef",
        "http://127.0.0.1:5000/v2/x/blobs/uploads/\n"
        "/v2/x/blobs/uploads/3f2b6c1e-1f0a-4a7e-9e0b-1c2d3e4f5a6b?_state=abc%3D%3D",
        "https://ghcr.io/v2/o/r/tags/list?n=100\n/v2/o/r/tags/list?last=v1&n=100",
        "https://quay.io/v2/org/r/tags/list?n=100\n?last=b&n=100",
        "https://localhost:5000/v2/a/b/c/manifests/latest\n../../d/manifests/x\n//other:1/p",
        "https://[::1]:5000/v2/\nhttps://[::1]:5001/v2/x",
        "https://host/v2/\nhttp://user:pass@evil.example/x#frag",
        "https://host/v2/\nhttps://HOST:443/V2/%2e%2e/x",
        "https://s3.amazonaws.com/bucket/x?X-Amz-Signature=abc&X-Amz-Expires=1200\n"
        "https://s3.us-east-1.amazonaws.com/b/k",
        "not a url\nalso not",
        "https://auth.docker.io/token?service=registry.docker.io&scope=repository:a/b:pull",
    ]
    for i, u in enumerate(us):
        out("fuzz_http_headers", "url-%02d" % i, u)


def links():
    ls = [
        '</v2/library/alpine/tags/list?last=3.19&n=100>; rel="next"',
        '<https://ghcr.io/v2/o/r/tags/list?last=v1&n=100>; rel=next',
        '</v2/x/tags/list?n=100&last=a>; rel="prev", </v2/x/tags/list?n=100&last=z>; rel="next"',
        '</a>; rel="prev next"; type="application/json"',
        '  </v2/x/tags/list?last=b>  ;  rel = "NEXT"  ',
        '</a>; rel="prev"',
        '</a>; title="next"; rel="last"',
        '</a>; rel="first"; rel="next"',
        '</a>; rel="nextpage"',
        '</a>; rel="n\\ext"; anchor="#x"',
        '</a>; rel="prev"\n</b>; rel="next"',
        '<>; rel="next"',
        '</a> rel="next"',
        '</a; rel="next"',
        'rel="next" </a>',
        '</a b>; rel="next"',
        '</a>; rel="next',
        '</a>; =x; rel=next',
        '5', ' 120 ', '18446744073709551616', '-1', '3 s',
    ]
    for i, v in enumerate(ls):
        out("fuzz_link", "link-%02d" % i, v)
    # whole header blocks, one line each, as libcurl hands them over
    hs = [
        'HTTP/1.1 200 OK\nContent-Type: application/json\n'
        'Link: </v2/x/tags/list?last=a&n=100>; rel="next"\nContent-Length: 42',
        'HTTP/1.1 100 Continue\nHTTP/1.1 202 Accepted\nLocation: /v2/x/blobs/uploads/3f2b?_state=a\n'
        'Range: 0-1023\nDocker-Upload-UUID: 3f2b\nOCI-Chunk-Min-Length: 1048576',
        'HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Bearer realm="https://a/token"\n'
        'WWW-Authenticate: Basic realm="r"\nWWW-Authenticate: x\nWWW-Authenticate: y\n'
        'WWW-Authenticate: z',
        'HTTP/1.1 429 Too Many Requests\nRetry-After: 7\nlink: </a>; rel=prev\nLINK: </b>; rel=next',
        'HTTP/2 307\nlocation: https://other.example/blob?sig=1\ndocker-content-digest: sha256:' + 'a' * 64,
        'HTTP/1.1 99999999999999999999 Big\nContent-Length: 99999999999999999999999',
    ]
    for i, v in enumerate(hs):
        out("fuzz_link", "headers-%02d" % i, v)


# ---------------------------------------------------------------- auth files
def auth_files():
    import base64
    b = lambda s: base64.b64encode(s.encode()).decode()
    fs = {
        "docker-hub": {"auths": {"https://index.docker.io/v1/": {"auth": b("user:pass")}}},
        "docker-full": {
            "auths": {"https://index.docker.io/v1/": {"auth": b("u:p:with:colons")},
                      "ghcr.io": {"auth": b("gh:token")},
                      "localhost:5000": {}},
            "HttpHeaders": {"User-Agent": "Docker-Client/24.0.7 (linux)"},
            "psFormat": "table {{.ID}}", "currentContext": "default",
            "plugins": {"-x-cli-hints": {"enabled": "true"}}},
        "podman": {"auths": {"docker.io": {"auth": b("podman:secret")},
                             "quay.io": {"auth": b("q:p")},
                             "registry.example.com:5000/team": {"auth": b("t:p")}}},
        "identity-token": {"auths": {"localhost:5000": {"auth": "", "identitytoken": "eyJhbGc"}}},
        "user-pass": {"auths": {"ghcr.io": {"username": "u", "password": "p"},
                                "http://localhost:5000/v1/": {"username": "l", "password": ""}}},
        "creds-store": {"auths": {"https://index.docker.io/v1/": {}}, "credsStore": "desktop"},
        "cred-helpers": {"credHelpers": {"ghcr.io": "gh", "localhost:5000": "pass",
                                         "docker.io": "../../bin/true"}},
        "bad-base64": {"auths": {"docker.io": {"auth": "!!!!"}}},
        "no-colon": {"auths": {"docker.io": {"auth": b("nocolon")}}},
        "registry-1": {"auths": {"registry-1.docker.io": {"auth": b(":emptyuser")}}},
        "types": {"auths": {"docker.io": {"auth": 5, "username": ["x"]}}, "credsStore": 1},
    }
    for name, j in fs.items():
        out("fuzz_auth_file", name, json.dumps(j, indent=1))
    out("fuzz_auth_file", "not-json", "{\"auths\": {\"docker.io\": ")
    out("fuzz_auth_file", "empty", "")


# -------------------------------------------------------------------- tars
def ti(name, type=tarfile.REGTYPE, data=b"", **kw):
    t = tarfile.TarInfo(name)
    t.type = type
    t.mtime = kw.pop("mtime", 1700000000)
    t.mode = kw.pop("mode", 0o755 if type == tarfile.DIRTYPE else 0o644)
    for k, v in kw.items():
        setattr(t, k, v)
    if type == tarfile.REGTYPE:
        t.size = len(data)
    return t, data


def mktar(members, fmt=tarfile.USTAR_FORMAT, pax_headers=None):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt, pax_headers=pax_headers or {}) as tf:
        for t, data in members:
            tf.addfile(t, io.BytesIO(data) if t.type == tarfile.REGTYPE else None)
    return trim_tar(bio.getvalue())


def tars(work):
    T = {}
    T["basic"] = mktar([ti("etc", tarfile.DIRTYPE), ti("etc/motd", data=b"hello\n"),
                        ti("bin", tarfile.DIRTYPE),
                        ti("bin/sh", data=b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0),
                        ti("usr/lib/libx.so.1", data=b"\x7fELF"),
                        ti("usr/lib/libx.so", tarfile.SYMTYPE, linkname="libx.so.1"),
                        ti("etc/motd.hard", tarfile.LNKTYPE, linkname="etc/motd")])
    T["dotslash"] = mktar([ti("./", tarfile.DIRTYPE), ti("./a", tarfile.DIRTYPE),
                           ti("./a/b", data=b"x"), ti(".//a/./c", data=b"y"),
                           ti("a/b", data=b"dup-last-wins")])
    long = "d" * 60 + "/" + "e" * 70 + "/" + "f" * 80
    T["pax-long"] = mktar([ti(long, data=b"long"),
                           ti("l", tarfile.SYMTYPE, linkname="/" + "t" * 150),
                           ti("h", tarfile.LNKTYPE, linkname=long),
                           ti("big-ids", data=b"", uid=3000000, gid=4000000, uname="u" * 40)],
                          fmt=tarfile.PAX_FORMAT)
    T["gnu-long"] = mktar([ti(long, data=b"gnu"), ti("gl", tarfile.SYMTYPE, linkname="x" * 120)],
                          fmt=tarfile.GNU_FORMAT)
    t, d = ti("xattr-file", data=b"caps")
    t.pax_headers = {"SCHILY.xattr.user.comment": "hi",
                     "SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
                     "SCHILY.xattr.security.selinux": "system_u:object_r:bin_t:s0"}
    T["pax-xattrs"] = mktar([(t, d)], fmt=tarfile.PAX_FORMAT)
    T["whiteouts"] = mktar([ti("etc", tarfile.DIRTYPE), ti("etc/.wh.motd"),
                            ti("var", tarfile.DIRTYPE), ti("var/.wh..wh..opq"),
                            ti("var/new", data=b"n"), ti(".wh.gone")])
    T["dotdot"] = mktar([ti("ok", data=b"ok"), ti("../evil", data=b"x")])
    T["dotdot-inner"] = mktar([ti("a/../../b", data=b"x")])
    T["dotdot-hardlink"] = mktar([ti("h", tarfile.LNKTYPE, linkname="../etc/passwd")])
    T["absolute"] = mktar([ti("/etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n"),
                           ti("/abs-link", tarfile.SYMTYPE, linkname="/etc/shadow")])
    T["devices"] = mktar([ti("dev", tarfile.DIRTYPE),
                          ti("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
                          ti("dev/loop0", tarfile.BLKTYPE, devmajor=7, devminor=0),
                          ti("run/fifo", tarfile.FIFOTYPE)])
    T["hardlink-chain"] = mktar([ti("z", data=b"data"), ti("y", tarfile.LNKTYPE, linkname="z"),
                                 ti("a", tarfile.LNKTYPE, linkname="y"),
                                 ti("m", tarfile.LNKTYPE, linkname="missing"),
                                 ti("self", tarfile.LNKTYPE, linkname="self")])
    T["symlink-escape"] = mktar([ti("link", tarfile.SYMTYPE, linkname="/"),
                                 ti("link/etc/evil", data=b"x"),
                                 ti("up", tarfile.SYMTYPE, linkname="../../.."),
                                 ti("up/evil2", data=b"y"),
                                 ti("dir", tarfile.DIRTYPE),
                                 ti("dir/rel", tarfile.SYMTYPE, linkname="../../x"),
                                 ti("dir/rel/evil3", data=b"z"),
                                 ti("hl", tarfile.LNKTYPE, linkname="link/etc/passwd")])
    T["replace-types"] = mktar([ti("p", tarfile.DIRTYPE), ti("p/x", data=b"1"),
                                ti("p", data=b"now a file"),
                                ti("q", data=b"f"), ti("q", tarfile.DIRTYPE),
                                ti("s", tarfile.SYMTYPE, linkname="q"), ti("s/in", data=b"i")])
    T["modes"] = mktar([ti("ro", tarfile.DIRTYPE, mode=0o500), ti("ro/f", data=b"f", mode=0o000),
                        ti("sticky", tarfile.DIRTYPE, mode=0o1777),
                        ti("old", data=b"o", mtime=0), ti("neg", data=b"n", mtime=-1),
                        ti("future", data=b"f", mtime=8000000000)], fmt=tarfile.PAX_FORMAT)
    T["utf8-names"] = mktar([ti("caf\u00e9/\u65e5\u672c", data=b"u")], fmt=tarfile.PAX_FORMAT)
    T["empty"] = b"\0" * 1024
    # GNU tar: a sparse member and an incremental-style archive
    sp = os.path.join(work, "sparse")
    os.makedirs(sp, exist_ok=True)
    with open(os.path.join(sp, "holes"), "wb") as f:
        f.seek(64 * 1024)
        f.write(b"end")
    subprocess.run(["tar", "--sparse", "--format=gnu", "-C", sp, "-cf",
                    os.path.join(work, "sparse.tar"), "holes"], check=True)
    subprocess.run(["tar", "--sparse", "--format=pax", "-C", sp, "-cf",
                    os.path.join(work, "sparse-pax.tar"), "holes"], check=True)
    T["gnu-sparse"] = trim_tar(open(os.path.join(work, "sparse.tar"), "rb").read())
    T["pax-sparse"] = trim_tar(open(os.path.join(work, "sparse-pax.tar"), "rb").read())
    return T


def compressed(data, work):
    res = {"gz": gzip.compress(data, 9, mtime=0)}
    for ext, cmd in (("zst", ["zstd", "-q", "-c"]), ("xz", ["xz", "-c"]),
                     ("bz2", ["bzip2", "-c"])):
        if shutil.which(cmd[0]):
            res[ext] = subprocess.run(cmd, input=data, capture_output=True, check=True).stdout
    return res


def tar_seeds(work, kiln_layers):
    T = tars(work)
    for name, data in T.items():
        out("fuzz_tar_input", name + ".tar", data)
        out("fuzz_unpack", name + ".tar", data)
    for ext, data in compressed(T["basic"], work).items():
        out("fuzz_tar_input", "basic.tar." + ext, data)
        out("fuzz_unpack", "basic.tar." + ext, data)
    for name, data in kiln_layers.items():
        out("fuzz_tar_input", "kiln-" + name, data)
        out("fuzz_unpack", "kiln-" + name, data)
    # a damaged second header (libarchive: ARCHIVE_RETRY, no pathname); only
    # here: kiln_unpack crashed on it (regressions/fuzz_unpack)
    out("fuzz_tar_input", "damaged-header.tar", T["basic"][:512] + b"x" * 512 + b"\0" * 1024)
    sep = b"--kiln-layer--"
    lower = mktar([ti("etc", tarfile.DIRTYPE), ti("etc/motd", data=b"old"),
                   ti("var", tarfile.DIRTYPE), ti("var/a", data=b"a"), ti("var/d", tarfile.DIRTYPE),
                   ti("var/d/b", data=b"b"), ti("keep", data=b"k")])
    upper = mktar([ti("etc", tarfile.DIRTYPE), ti("etc/.wh.motd"), ti("var", tarfile.DIRTYPE),
                   ti("var/.wh..wh..opq"), ti("var/new", data=b"n"), ti("keep", tarfile.SYMTYPE,
                                                                        linkname="/etc")])
    out("fuzz_unpack", "two-layers-whiteouts", lower + sep + upper)
    dirs = mktar([ti("a", tarfile.DIRTYPE), ti("a/keep", tarfile.DIRTYPE)])
    swap = mktar([ti("a", tarfile.SYMTYPE, linkname="../../../x")])
    out("fuzz_unpack", "two-layers-dir-to-symlink", dirs + sep + swap)
    out("fuzz_unpack", "three-layers", T["basic"] + sep + T["whiteouts"] + sep + T["devices"])
    validate_seeds(T, lower, upper)


def validate_seeds(T, lower, upper):
    """fuzz_validate: an image config, then its layers."""
    sep = b"--kiln-layer--"

    def cfg(config, n):
        return json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                           "rootfs": {"type": "layers", "diff_ids": [sha(b"x")] * n}}).encode()
    base = mktar([ti("bin", tarfile.DIRTYPE), ti("bin/app", data=b"#!/bin/app\n", mode=0o755),
                  ti("bin/sh", tarfile.SYMTYPE, linkname="app"), ti("etc", tarfile.DIRTYPE),
                  ti("etc/passwd", data=b"root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n"),
                  ti("etc/group", data=b"root:x:0:\n")])
    out("fuzz_validate", "runtime", cfg({"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"],
                                         "User": "app:root", "WorkingDir": "/srv",
                                         "Env": ["PATH=/bin"]}, 1) + sep + base)
    out("fuzz_validate", "path-lookup", cfg({"Cmd": ["sh"], "User": "nobody"}, 1) + sep + base)
    out("fuzz_validate", "whiteouts", cfg({"Entrypoint": ["/etc/motd"]}, 2) + sep + lower + sep +
        upper)
    out("fuzz_validate", "hostile", cfg({"Entrypoint": ["/link/x"], "WorkingDir": "rel"}, 4) +
        sep + T["dotdot"] + sep + T["hardlink-chain"] + sep + T["symlink-escape"] + sep +
        T["dotdot-hardlink"])
    out("fuzz_validate", "not-json", b"{\"config\": [" + sep + T["basic"])


# ------------------------------------------------------------ image documents
def read_layout(d):
    blobs = {}
    bd = os.path.join(d, "blobs", "sha256")
    for n in os.listdir(bd):
        blobs["sha256:" + n] = open(os.path.join(bd, n), "rb").read()
    return open(os.path.join(d, "index.json"), "rb").read(), blobs


def layout_parts(index_json, blobs):
    """index.json and the documents it reaches, in an order where each part
    points only to later ones, with digests replaced by @@k."""
    order = []
    queue = [index_json]
    seen = set()
    docs = [index_json]
    while queue:
        doc = queue.pop(0)
        j = json.loads(doc)
        refs = [m["digest"] for m in j.get("manifests", [])]
        if isinstance(j.get("config"), dict) and "digest" in j["config"]:
            refs.append(j["config"]["digest"])
        for r in refs:
            if r in blobs and r not in seen:
                seen.add(r)
                order.append(r)
                docs.append(blobs[r])
                queue.append(blobs[r])
    assert len(docs) <= 8, len(docs)
    parts = []
    for i, doc in enumerate(docs):
        for k, dg in enumerate(order, start=1):
            if k > i:
                doc = doc.replace(dg.encode(), b"@@%d" % k)
        parts.append(doc)
    return parts


def flags(mode, tag=False, what=0, plat=0):
    return bytes([mode | (4 if tag else 0) | (what << 3) | (plat << 6)])


def docs_seeds(work, kiln):
    img = os.path.join(work, "img")
    os.makedirs(img)
    root = os.path.join(img, "root")
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc", "motd"), "w") as f:
        f.write("hello\n")
    os.symlink("motd", os.path.join(root, "etc", "motd.link"))

    def k(*a):
        subprocess.run([kiln, *a], check=True, capture_output=True, cwd=img)

    common = ["--source-date-epoch", "1700000000", "--rootfs", "root"]
    k("build", *common, "--entrypoint", '["/bin/sh"]', "--cmd", "-c 'echo hi'", "--env", "A=1",
      "--workdir", "/app", "--user", "1000:1000", "--port", "8080/tcp", "--volume", "/data",
      "--label", "a=b", "--annotation", "org.opencontainers.image.title=x",
      "--stop-signal", "SIGTERM", "--author", "me", "-t", "app:1.0",
      "-o", "oci:amd:t", "-o", "docker-archive:app-docker.tar", "-o", "oci-archive:app-oci.tar:t")
    k("build", *common, "--platform", "linux/arm64", "--compression", "zstd", "-o", "oci:arm")
    k("build", *common, "--platform", "linux/arm/v7", "--compression", "none", "-o", "oci:armv7")
    k("index", "-o", "oci:multi:t", "oci:amd:t", "oci:arm", "oci:armv7")

    ij, blobs = read_layout(os.path.join(img, "amd"))
    single = layout_parts(ij, blobs)
    ij2, blobs2 = read_layout(os.path.join(img, "multi"))
    multi = layout_parts(ij2, blobs2)
    D = "fuzz_json_docs"
    for what in range(8):
        out(D, "oci-single-%d" % what, flags(0, False, what) + b"\0".join(single))
    out(D, "oci-single-tag", flags(0, True, 0) + b"\0".join(single))
    out(D, "oci-multi-summary", flags(0, True, 0) + b"\0".join(multi))
    out(D, "oci-multi-json-arm64", flags(0, True, 1, 2) + b"\0".join(multi))
    out(D, "oci-multi-config-armv7", flags(0, True, 3, 3) + b"\0".join(multi))
    out(D, "oci-multi-open", flags(0, True, 5) + b"\0".join(multi))
    out(D, "ociarchive-single", flags(1, False, 0) + b"\0".join(single))
    out(D, "ociarchive-multi-amd64", flags(1, True, 2, 1) + b"\0".join(multi))

    # a docker-archive: manifest.json, the config and a layer as blob1, blob2
    with tarfile.open(os.path.join(img, "app-docker.tar")) as tf:
        man = json.loads(tf.extractfile("manifest.json").read())
        cfg = tf.extractfile(man[0]["Config"]).read()
        layer = tf.extractfile(man[0]["Layers"][0]).read()
    dman = [{"Config": "blob1", "RepoTags": ["app:1.0"], "Layers": ["blob2"]}]
    out(D, "docker-archive", flags(2, False, 0) + json.dumps(dman).encode() + b"\0" + cfg +
        b"\0" + layer[:2048])
    out(D, "docker-archive-json", flags(2, False, 1) + json.dumps(
        [{"Config": "./blob1", "RepoTags": None, "Layers": ["/blob2", "blob2"]}]).encode() +
        b"\0" + cfg + b"\0" + b"plain layer bytes")
    out(D, "docker-archive-missing", flags(2, False, 4) + json.dumps(
        [{"Config": "nope", "Layers": ["blob1"]}]).encode() + b"\0" + cfg)
    out(D, "raw-docker-archive", flags(3 | 4, False, 0) +
        open(os.path.join(img, "app-docker.tar"), "rb").read())
    out(D, "raw-oci-archive", flags(3, False, 1) +
        open(os.path.join(img, "app-oci.tar"), "rb").read())

    # registry-style documents: a Docker manifest list, a schema2 manifest
    dcfg = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-27T00:00:00.123456789Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"]},
        "history": [{"created": "2024-01-27T00:00:00Z",
                     "created_by": "/bin/sh -c #(nop) ADD file:abc in / "}],
        "rootfs": {"type": "layers", "diff_ids": [sha(b"layer")]}}).encode()
    dman2 = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(dcfg), "digest": "@@3"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3408729, "digest": sha(b"gz-layer")},
                   {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                    "size": 1, "digest": sha(b"foreign"), "urls": ["https://x/y"]}]}).encode()
    dlist = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "size": len(dman2), "digest": "@@2",
                       "platform": {"architecture": "amd64", "os": "linux"}},
                      {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                       "size": 528, "digest": sha(b"other"),
                       "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
                      {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "size": 566, "digest": sha(b"att"),
                       "platform": {"architecture": "unknown", "os": "unknown"},
                       "annotations": {"vnd.docker.reference.type": "attestation-manifest"}}]})
    idx = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
         "digest": "@@1", "size": len(dlist),
         "annotations": {"org.opencontainers.image.ref.name": "t"}}]})
    docs = [idx.encode(), dlist.encode(), dman2, dcfg]
    out(D, "docker-list-amd64", flags(0, True, 0, 1) + b"\0".join(docs))
    out(D, "docker-list-all", flags(0, False, 1, 0) + b"\0".join(docs))
    schema1 = json.dumps({"schemaVersion": 1, "name": "x", "tag": "latest", "fsLayers": [],
                          "signatures": []})
    idx1 = json.dumps({"schemaVersion": 2, "manifests": [{"digest": "@@1", "size": 1}]})
    out(D, "schema1", flags(0) + idx1.encode() + b"\0" + schema1.encode())
    nested = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                         "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                        "digest": "@@2", "size": 1}]})
    out(D, "nested-index", flags(0) + idx1.encode() + b"\0" + nested.encode() + b"\0{}")
    # kiln's own layers, for the tar targets
    layers = {}
    for ref in ("amd", "arm", "armv7"):
        _, bl = read_layout(os.path.join(img, ref))
        for dg, data in bl.items():
            if data[:2] == b"\x1f\x8b":
                layers["layer-%s.tar.gz" % ref] = data
            elif data[:4] == b"\x28\xb5\x2f\xfd":
                layers["layer-%s.tar.zst" % ref] = data
            elif len(data) >= 512 and data[257:262] == b"ustar":
                layers["layer-%s.tar" % ref] = trim_tar(data)
    return layers


def dockerfiles():
    """fuzz_dockerfile: the Dockerfiles and .dockerignore of t-98-dockerfile.sh, and edge cases."""
    import re
    t = "fuzz_dockerfile"
    src = open(os.path.join(HERE, "..", "integration", "t-98-dockerfile.sh")).read()
    for m in re.finditer(r"cat >\"\$C/Dockerfile\.(\w+)\" <<'EOF'\n(.*?)\nEOF\n", src, re.S):
        out(t, "dockerfile-" + m.group(1), m.group(2) + "\n")
    ign = re.search(r"cat >\"\$C/\.dockerignore\" <<'EOF'\n(.*?)\nEOF\n", src, re.S).group(1)
    paths = ["README.md", "docs/x.md", "docs/keep.md", "build/keep/k", "build/drop/d", "a.log",
             "dir/sub/../f"]
    out(t, "ignore-with-exceptions", "FROM scratch\nCOPY . /\n\0" + ign + "\n\0" + "\0".join(paths))
    out(t, "directives-escape", b"\xef\xbb\xbf# syntax=docker/dockerfile:1\r\n# escape=`\r\n"
        b"FROM scratch\r\nCOPY a `\r\n  # c\r\n  b /x/\r\n"
        b"ENV X=${A:-`$B} Y=\"$EMPTY\" Z='${A}'\r\n")
    out(t, "heredoc", "FROM scratch\nCOPY <<EOF /x\nhi\nEOF\n")
    out(t, "globs", "FROM x\n\0**/*.go\n!a/**/keep\n/abs/\n[a-c]?\\*\n\0a/b/keep\0src/x.go\0b1*\0abs/q")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make-corpus.py path/to/kiln")
    kiln = os.path.abspath(sys.argv[1])
    for t in os.listdir(CORPUS) if os.path.isdir(CORPUS) else []:
        shutil.rmtree(os.path.join(CORPUS, t))
    work = tempfile.mkdtemp(prefix="kiln-corpus-")
    try:
        references()
        challenges()
        urls()
        links()
        auth_files()
        dockerfiles()
        layers = docs_seeds(work, kiln)
        tar_seeds(work, layers)
    finally:
        shutil.rmtree(work)
    total = sum(os.path.getsize(os.path.join(dp, f))
                for dp, _, fs in os.walk(CORPUS) for f in fs)
    print("corpus: %d bytes" % total)


if __name__ == "__main__":
    main()
