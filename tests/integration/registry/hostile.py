#!/usr/bin/env python3
"""A hostile registry for kiln's tests: each repository name selects a misbehaviour.

usage: hostile.py PORTFILE LOGFILE [OTHERPORT]
Repositories (GET /v2/<repo>/manifests/<ref> and blobs):
  ok/*            a valid one-layer image (the baseline)
  big/*           a 5 MiB manifest
  endless/*       the layer blob never ends
  wrongdigest/*   a Docker-Content-Digest that is not the manifest's
  badblob/*       the layer blob's bytes do not match its digest
  loop/*          the manifest redirects to itself, forever
  away/*          the layer blob redirects to OTHERPORT (another host:port); the
                  request there is logged with whether it carried Authorization
  stall/*         the manifest answer stops after the headers
Every request that needs auth (all but /v2/) requires "Authorization: Basic ..."
(any credentials), so the redirect test can see whether it leaks.
"""
import gzip, hashlib, http.server, io, json, socketserver, sys, tarfile, threading, time

PORTFILE, LOG = sys.argv[1], sys.argv[2]
OTHER = int(sys.argv[3]) if len(sys.argv) > 3 else 0

def layer():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("hello.txt"); data = b"hello\n"; ti.size = len(data); ti.mtime = 0
        t.addfile(ti, io.BytesIO(data))
    r = raw.getvalue()
    return r, gzip.compress(r, mtime=0)

RAW, GZ = layer()
def d(b): return "sha256:" + hashlib.sha256(b).hexdigest()
CFG = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [d(RAW)]}}).encode()
def manifest(pad=0):
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(CFG), "size": len(CFG)},
         "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(GZ), "size": len(GZ)}]}
    if pad:
        m["annotations"] = {"pad": "x" * pad}
    return json.dumps(m).encode()
MAN = manifest()

def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self): self.do_GET()
    def do_GET(self):
        auth = self.headers.get("Authorization")
        log("%s %s auth=%s" % (self.command, self.path, "yes" if auth else "no"))
        if self.path == "/v2/":
            return self.send(401, b"{}", [("WWW-Authenticate", 'Basic realm="hostile"')]) if not auth else self.send(200, b"{}")
        if self.path.startswith("/elsewhere/"):
            return self.send(200, GZ)
        if not auth:
            return self.send(401, b"{}", [("WWW-Authenticate", 'Basic realm="hostile"')])
        parts = self.path.split("/")  # ['', 'v2', kind, 'app', 'manifests'|'blobs', ref]
        kind, what, ref = parts[2], parts[4], parts[5]
        if what == "manifests":
            if kind == "big":
                body = manifest(pad=5 * 1024 * 1024)
                return self.send(200, body, [("Content-Type", "application/vnd.oci.image.manifest.v1+json")])
            if kind == "loop":
                return self.send(307, b"", [("Location", self.path)])
            if kind == "stall":
                self.send_response(200); self.send_header("Content-Length", str(len(MAN))); self.end_headers()
                self.wfile.flush(); time.sleep(30); return
            hdrs = [("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                    ("Docker-Content-Digest", "sha256:" + "0" * 64 if kind == "wrongdigest" else d(MAN))]
            return self.send(200, MAN, hdrs)
        if what == "blobs":
            if ref == d(CFG):
                return self.send(200, CFG)
            if kind == "endless":
                self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
                chunk = b"\0" * 65536
                try:
                    for _ in range(100000):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            if kind == "badblob":
                return self.send(200, GZ[:-4] + b"XXXX")
            if kind == "away":
                return self.send(307, b"", [("Location", "http://127.0.0.1:%d/elsewhere/%s" % (OTHER, ref))])
            return self.send(200, GZ)
        self.send(404, b"{}")

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

srv = S(("127.0.0.1", 0), H)
with open(PORTFILE, "w") as f:
    f.write("%d\n" % srv.server_address[1])
srv.serve_forever()
