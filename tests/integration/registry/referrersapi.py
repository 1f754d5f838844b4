#!/usr/bin/env python3
"""A minimal registry WITH the OCI 1.1 referrers API, written for kiln's tests
(t-76): none ships in Debian 12 (docker-registry 2.8 has no referrers API).
It is ours and minimal: in memory, no auth, one process; only what kiln uses:

  GET /v2/                                  200
  HEAD/GET /v2/NAME/blobs/DIGEST            the blob, or 404
  POST /v2/NAME/blobs/uploads/ (?mount=...) 202 + Location (mounts are refused)
  PATCH  the upload URL                     appends the body
  PUT    the upload URL ?digest=D           appends the body, checks D, 201
  HEAD/GET/PUT /v2/NAME/manifests/REF       by tag or digest; a PUT of a manifest
                                            with a subject answers OCI-Subject
  GET /v2/NAME/referrers/DIGEST[?artifactType=T]
                                            the referrers list (an OCI index of
                                            descriptors with artifactType and
                                            annotations); with a filter, the
                                            header OCI-Filters-Applied: artifactType

usage: referrersapi.py PORTFILE LOGFILE
"""
import hashlib, http.server, json, socketserver, sys, threading, urllib.parse, uuid

PORTFILE, LOG = sys.argv[1], sys.argv[2]
BLOBS, MANIFESTS, TAGS, UPLOADS = {}, {}, {}, {}
REFERRERS = {}  # (repo, subject digest) -> [descriptor]
LOCK = threading.Lock()
INDEX = "application/vnd.oci.image.index.v1+json"


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (getattr(self, "command", "-"), getattr(self, "path", "-")))

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def split(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        p = u.path
        for kind in ("/blobs/uploads/", "/blobs/", "/manifests/", "/referrers/"):
            i = p.find(kind)
            if p.startswith("/v2/") and i > 4:
                return p[4:i], kind, p[i + len(kind):], q
        return None, None, p, q

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def handle_any(self):
        data = self.body() if self.command in ("POST", "PATCH", "PUT") else b""
        if self.path in ("/v2/", "/v2"):
            return self.send(200, b"{}", [("Docker-Distribution-API-Version", "registry/2.0")])
        repo, kind, rest, q = self.split()
        with LOCK:
            if kind == "/blobs/uploads/":
                return self.upload(repo, rest, q, data)
            if kind == "/blobs/" and self.command in ("GET", "HEAD"):
                b = BLOBS.get(rest)
                if b is None:
                    return self.send(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
                return self.send(200, b, [("Docker-Content-Digest", rest),
                                          ("Content-Type", "application/octet-stream")])
            if kind == "/manifests/":
                return self.manifest(repo, rest, data)
            if kind == "/referrers/" and self.command == "GET":
                ms = list(REFERRERS.get((repo, rest), []))
                hdrs = [("Content-Type", INDEX)]
                want = q.get("artifactType", [None])[0]
                if want:
                    ms = [m for m in ms if m.get("artifactType") == want]
                    hdrs.append(("OCI-Filters-Applied", "artifactType"))
                body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": ms}).encode()
                return self.send(200, body, hdrs)
        self.send(404, b'{"errors":[{"code":"NOT_FOUND"}]}')

    def upload(self, repo, rest, q, data):
        if self.command == "POST":
            uid = uuid.uuid4().hex
            UPLOADS[uid] = data
            return self.send(202, b"", [("Location", "/v2/%s/blobs/uploads/%s" % (repo, uid)),
                                        ("Range", "0-0")])
        uid = rest.strip("/")
        if uid not in UPLOADS:
            return self.send(404, b'{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}')
        UPLOADS[uid] += data
        if self.command == "PATCH":
            n = len(UPLOADS[uid])
            return self.send(202, b"", [("Location", "/v2/%s/blobs/uploads/%s" % (repo, uid)),
                                        ("Range", "0-%d" % max(n - 1, 0))])
        want = q.get("digest", [""])[0]
        b = UPLOADS.pop(uid)
        if digest(b) != want:
            return self.send(400, b'{"errors":[{"code":"DIGEST_INVALID"}]}')
        BLOBS[want] = b
        return self.send(201, b"", [("Location", "/v2/%s/blobs/%s" % (repo, want)),
                                    ("Docker-Content-Digest", want)])

    def manifest(self, repo, ref, data):
        if self.command == "PUT":
            d = digest(data)
            if ref.startswith("sha256:") and ref != d:
                return self.send(400, b'{"errors":[{"code":"DIGEST_INVALID"}]}')
            m = json.loads(data)
            mt = self.headers.get("Content-Type") or m.get("mediaType")
            MANIFESTS[(repo, d)] = (data, mt)
            if not ref.startswith("sha256:"):
                TAGS[(repo, ref)] = d
            hdrs = [("Docker-Content-Digest", d), ("Location", "/v2/%s/manifests/%s" % (repo, d))]
            sub = m.get("subject")
            if isinstance(sub, dict) and "digest" in sub:
                desc = {"mediaType": mt, "digest": d, "size": len(data)}
                at = m.get("artifactType") or m.get("config", {}).get("mediaType")
                if at:
                    desc["artifactType"] = at
                if m.get("annotations"):
                    desc["annotations"] = m["annotations"]
                lst = REFERRERS.setdefault((repo, sub["digest"]), [])
                if not any(x["digest"] == d for x in lst):
                    lst.append(desc)
                hdrs.append(("OCI-Subject", sub["digest"]))
            return self.send(201, b"", hdrs)
        d = ref if ref.startswith("sha256:") else TAGS.get((repo, ref))
        got = MANIFESTS.get((repo, d)) if d else None
        if not got:
            return self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        return self.send(200, got[0], [("Content-Type", got[1]), ("Docker-Content-Digest", d)])


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


srv = S(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
