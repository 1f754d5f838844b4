#!/usr/bin/env python3
"""A tiny Docker registry token server (distribution's "token" auth) for kiln's tests.

    tokenserver.py --key KEY.pem --cert CERT.pem --issuer ISS --service SVC
                   [--user USER --password PASS | env TOKEN_USER/TOKEN_PASSWORD]
                   [--anonymous-pull] [--lifetime SECONDS] [--log FILE]
                   [--port-file FILE] [--port N]

GET /token?service=SVC&scope=repository:NAME:ACTIONS[&scope=...][&account=...]
    with optional Basic credentials. Replies
    {"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": RFC3339}.
POST /token (OAuth2, form: grant_type=password|refresh_token, username, password,
    refresh_token, service, scope, client_id): the same, plus a refresh_token when asked
    for (access_type=offline).

Wrong credentials -> 401. The right user is granted every action asked for; an
anonymous request gets "pull" only with --anonymous-pull, else nothing (the
registry then answers 401 insufficient_scope). Tokens are JWTs signed RS256 with
KEY (via `openssl dgst -sha256 -sign`, so only python's stdlib is needed); the
header carries x5c = [CERT], which distribution verifies against its
rootcertbundle. NB: distribution 2.8 allows 60 s of leeway on "exp", so a short
--lifetime only shortens what the *client* believes (expires_in), not what the
registry accepts.

Every request is logged to --log as one JSON object a line:
    {"time":..., "method":..., "user":..., "scopes":[...], "status":..., "token":..., "granted":[...]}
(the token itself is logged so that tests can check that it never leaks).
"""
import argparse
import base64
import datetime
import hmac
import json
import os
import secrets
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pem_to_der(path):
    lines = []
    inside = False
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("-----BEGIN CERTIFICATE"):
                inside = True
                continue
            if line.startswith("-----END CERTIFICATE"):
                break
            if inside:
                lines.append(line)
    if not lines:
        raise SystemExit("tokenserver: no certificate in %s" % path)
    return base64.b64decode("".join(lines))


class Config:
    pass


CFG = Config()
LOG_LOCK = threading.Lock()
REFRESH = {}  # refresh token -> user


def log(entry):
    entry["time"] = time.time()
    if not CFG.log:
        return
    with LOG_LOCK:
        with open(CFG.log, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def sign(data):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", CFG.key],
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        raise RuntimeError("openssl dgst -sign failed: %s" % p.stderr.decode(errors="replace"))
    return p.stdout


def make_jwt(user, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(CFG.cert_der).decode("ascii")]}
    claims = {
        "iss": CFG.issuer,
        "sub": user or "",
        "aud": CFG.service,
        "exp": now + CFG.lifetime,
        "nbf": now - 1,
        "iat": now,
        "jti": secrets.token_hex(16),
        "access": access,
    }
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    return signing_input + "." + b64url(sign(signing_input.encode("ascii")))


def parse_scope(scope):
    # repository:NAME:ACTIONS  (NAME has no ':' in distribution; be lenient with a
    # "repository(plugin):" class), registry:catalog:*
    parts = scope.split(":")
    if len(parts) < 3:
        return None
    typ = parts[0]
    actions = parts[-1]
    name = ":".join(parts[1:-1])
    if "(" in typ:
        typ = typ.split("(")[0]
    return {"type": typ, "name": name, "actions": [a for a in actions.split(",") if a]}


def grant(user, scopes):
    access = []
    for s in scopes:
        r = parse_scope(s)
        if r is None:
            continue
        if user is not None:
            acts = r["actions"]
        elif CFG.anonymous_pull and r["type"] == "repository":
            acts = [a for a in r["actions"] if a == "pull"]
        else:
            acts = []
        if acts:
            access.append({"type": r["type"], "name": r["name"], "actions": acts})
    return access


def check_basic(header):
    """Returns (ok, user): ok False = credentials given and wrong."""
    if not header:
        return True, None
    try:
        kind, _, value = header.partition(" ")
        if kind.lower() != "basic":
            return False, None
        user, _, pw = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except Exception:  # noqa: BLE001 - malformed header
        return False, None
    return check_password(user, pw)


def check_password(user, pw):
    if CFG.user is not None and hmac.compare_digest(user, CFG.user) and \
            hmac.compare_digest(pw, CFG.password):
        return True, user
    return False, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kiln-test-tokenserver/1"

    def log_message(self, fmt, *args):  # quiet: we keep our own log
        if CFG.verbose:
            sys.stderr.write("tokenserver: " + (fmt % args) + "\n")

    def reply(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def issue(self, method, user, scopes, offline=False):
        access = grant(user, scopes)
        tok = make_jwt(user, access)
        out = {
            "token": tok,
            "access_token": tok,
            "expires_in": CFG.lifetime,
            "issued_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        entry = {"method": method, "user": user, "scopes": scopes, "status": 200,
                 "token": tok, "granted": access}
        if offline and user is not None:
            rt = secrets.token_hex(24)
            REFRESH[rt] = user
            out["refresh_token"] = rt
            entry["refresh_token"] = rt
        log(entry)
        self.reply(200, out)

    def unauthorized(self, method, scopes, why):
        log({"method": method, "user": None, "scopes": scopes, "status": 401, "error": why})
        self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": why}]},
                   {"WWW-Authenticate": 'Basic realm="kiln-test-token"'})

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        q = urllib.parse.parse_qs(u.query)
        scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
        if q.get("service", [CFG.service])[0] != CFG.service:
            log({"method": "GET", "status": 400, "scopes": scopes, "error": "wrong service"})
            self.reply(400, {"errors": [{"code": "DENIED", "message": "unknown service"}]})
            return
        ok, user = check_basic(self.headers.get("Authorization"))
        if not ok:
            self.unauthorized("GET", scopes, "invalid username or password")
            return
        self.issue("GET", user, scopes, offline=q.get("offline_token", ["false"])[0] == "true")

    def do_POST(self):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        if u.path != "/token":
            self.reply(404, {"error": "not found"})
            return
        f = urllib.parse.parse_qs(body)
        scopes = [s for v in f.get("scope", []) for s in v.split(" ") if s]
        gt = f.get("grant_type", [""])[0]
        if gt == "password":
            ok, user = check_password(f.get("username", [""])[0], f.get("password", [""])[0])
            if not ok or user is None:
                self.unauthorized("POST", scopes, "invalid username or password")
                return
        elif gt == "refresh_token":
            user = REFRESH.get(f.get("refresh_token", [""])[0])
            if user is None:
                self.unauthorized("POST", scopes, "invalid refresh token")
                return
        else:
            log({"method": "POST", "status": 400, "scopes": scopes, "error": "grant_type"})
            self.reply(400, {"error": "unsupported_grant_type"})
            return
        self.issue("POST", user, scopes, offline=f.get("access_type", [""])[0] == "offline")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--issuer", default="kiln-test-issuer")
    ap.add_argument("--service", default="kiln-test-registry")
    ap.add_argument("--user", default=os.environ.get("TOKEN_USER"))
    ap.add_argument("--password", default=os.environ.get("TOKEN_PASSWORD"))
    ap.add_argument("--anonymous-pull", action="store_true")
    ap.add_argument("--lifetime", type=int, default=300)
    ap.add_argument("--log")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    CFG.key, CFG.issuer, CFG.service = a.key, a.issuer, a.service
    CFG.cert_der = pem_to_der(a.cert)
    CFG.user, CFG.password = a.user, a.password or ""
    CFG.anonymous_pull, CFG.lifetime, CFG.log, CFG.verbose = a.anonymous_pull, a.lifetime, a.log, a.verbose
    socketserver.TCPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
