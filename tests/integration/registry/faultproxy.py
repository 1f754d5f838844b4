#!/usr/bin/env python3
"""A fault-injecting HTTP reverse proxy for kiln's registry tests (stdlib only).

    faultproxy.py --upstream HOST:PORT [--rules JSON | --rules @FILE] [--log FILE]
                  [--port N] [--port-file FILE]

Sits in front of a plain-http registry, forwards every request as it is (the Host
header too, so the registry's absolute Location URLs point back at the proxy) and
streams bodies in both directions (blobs of any size are never held in memory).

--rules is a JSON list of rules (or @FILE: re-read, and counters reset, whenever
the file changes). A rule:

  {"method": "PUT",                 # optional; default any method
   "path": "/blobs/uploads/",       # optional regex, re.search()ed on the request URI (with query)
   "min_length": 4000000,           # optional: only requests with a Content-Length >= this
   "on": 1,                         # which matching requests fire it: N, [N, M...], "all",
                                    #   or {"from": N, "to": M}; default 1 (the first only)
   "action": "...", ...parameters}

Each rule counts the requests that match its method and path (1-based); the first
rule whose count is in its "on" set acts on the request. Actions:

  drop               close the connection mid-body. "where": "request" (default when the
                     request has a body) forwards the first "after" bytes (default 0) of
                     the request body to the registry, then closes both connections;
                     "response" forwards the request, relays the response headers and the
                     first "after" bytes of its body, then closes.
  status             answer "status" (default 503) without forwarding, after reading and
                     discarding the request body; optional "retry_after" (Retry-After
                     header), "headers" {name: value}, "body" (default: a registry-style
                     JSON error).
  relative-location  forward, and rewrite an absolute Location header of the response into
                     a relative one (path and query only).
  expire-token       answer 401 with the registry's own Bearer challenge plus
                     error="invalid_token" (realm/service taken from the upstream's GET /v2/
                     unless given as "realm"/"service"; scope from the request path). The
                     request's Bearer token is then "expired": every later request that
                     carries it gets the same 401 (logged as action "expired-token").
  paginate-tags      GET .../tags/list: serve the upstream's full list sorted, in pages of at
                     most "page" (default 100) tags (or the client's n if smaller), honouring
                     "last", with a Link: <...>; rel="next" header (distribution 2.8 ignores n).
  delay              sleep "seconds" (default 1), then forward.
  strip-header       forward, and leave the response header "header" out (a registry that
                     does not send Docker-Content-Digest, say).
  mount-202          POST .../blobs/uploads/?mount=…&from=…: forward it without its mount and
                     from parameters, so that the registry answers 202 with an upload session
                     instead of mounting, as ECR and Harbor often do (aws/containers-roadmap#2860,
                     goharbor/harbor#17097).

The log (--log) gets one line per request once it is done:
    METHOD URI STATUS ACTION REQUEST_BODY_BYTES ARRIVAL_TIME
(ARRIVAL_TIME in seconds since the epoch; STATUS is "DROP" for a dropped connection; ACTION is "forward" when no rule fired).
"""
import argparse
import http.client
import json
import os
import re
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
       "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "expect"}
BUF = 64 * 1024


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.counts = []
        self.rules_file = None
        self.rules_mtime = None
        self.upstream = None
        self.log = None
        self.challenge = None
        self.expired = set()


S = State()


def load_rules(text):
    rules = json.loads(text) if text.strip() else []
    if isinstance(rules, dict):
        rules = [rules]
    for r in rules:
        r["_re"] = re.compile(r.get("path", ""))
    return rules


def maybe_reload():
    if not S.rules_file:
        return
    try:
        st = os.stat(S.rules_file)
        m = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        return
    if m != S.rules_mtime:
        with open(S.rules_file) as f:
            S.rules = load_rules(f.read())
        S.counts = [0] * len(S.rules)
        S.rules_mtime = m


def fires(on, n):
    if on is None:
        return n == 1
    if on == "all":
        return True
    if isinstance(on, int):
        return n == on
    if isinstance(on, list):
        return n in on
    if isinstance(on, dict):
        return on.get("from", 1) <= n <= on.get("to", 1 << 62)
    return False


def pick_rule(method, uri, length):
    with S.lock:
        maybe_reload()
        chosen = None
        for i, r in enumerate(S.rules):
            m = r.get("method")
            if m and m != "*" and m.upper() != method:
                continue
            if not r["_re"].search(uri):
                continue
            if "min_length" in r and (length is None or length < int(r["min_length"])):
                continue
            S.counts[i] += 1
            if chosen is None and fires(r.get("on"), S.counts[i]):
                chosen = r
        return chosen


def write_log(method, uri, status, action, nbytes, t0):
    if not S.log:
        return
    with S.lock:
        with open(S.log, "a") as f:
            f.write("%s %s %s %s %d %.3f\n" % (method, uri, status, action, nbytes, t0))


class Dropped(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kiln-test-faultproxy/1"

    def log_message(self, fmt, *args):
        pass

    # ------------------------------------------------------------ request body
    def body_kind(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            return "chunked", None
        cl = self.headers.get("Content-Length")
        if cl is not None:
            return "length", int(cl)
        return "none", 0

    def body_pieces(self):
        """Yields the request body's payload in pieces (chunked framing decoded)."""
        kind, n = self.body_kind()
        if kind == "length":
            left = n
            while left > 0:
                b = self.rfile.read(min(BUF, left))
                if not b:
                    raise Dropped("client closed mid-body")
                left -= len(b)
                yield b
        elif kind == "chunked":
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise Dropped("client closed mid-chunk")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return
                left = size
                while left > 0:
                    b = self.rfile.read(min(BUF, left))
                    if not b:
                        raise Dropped("client closed mid-chunk")
                    left -= len(b)
                    yield b
                self.rfile.readline(3)

    def discard_body(self):
        n = 0
        for b in self.body_pieces():
            n += len(b)
        return n

    # ------------------------------------------------------------ helpers
    def abort(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def simple(self, status, body, headers=None, close=False):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if not any(k.lower() == "content-type" for k in (headers or {})):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def upstream_conn(self):
        return http.client.HTTPConnection(S.upstream, timeout=300)

    def send_upstream(self, uri=None, body_limit=None):
        """Sends the request upstream. body_limit: forward only that many body bytes,
        then close (raises Dropped). Returns (conn, response, request body bytes)."""
        conn = self.upstream_conn()
        conn.putrequest(self.command, uri or self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() in HOP or k.lower() == "content-length":
                continue
            conn.putheader(k, v)
        kind, n = self.body_kind()
        if kind == "length":
            conn.putheader("Content-Length", str(n))
        elif kind == "chunked":
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        sent = 0
        for b in self.body_pieces():
            if body_limit is not None and sent + len(b) >= body_limit:
                b = b[:body_limit - sent]
                if b:
                    conn.send(b"%x\r\n%s\r\n" % (len(b), b) if kind == "chunked" else b)
                sent += len(b)
                conn.close()
                raise Dropped(sent)
            conn.send(b"%x\r\n%s\r\n" % (len(b), b) if kind == "chunked" else b)
            sent += len(b)
        if body_limit is not None:  # the body was shorter than the limit: drop anyway
            conn.close()
            raise Dropped(sent)
        if kind == "chunked":
            conn.send(b"0\r\n\r\n")
        return conn, conn.getresponse(), sent

    def relay(self, resp, rewrite_location=False, body_limit=None, extra_headers=None, strip=None):
        """Relays resp to the client; body_limit: send only that many body bytes, then close."""
        self.send_response_only(resp.status, resp.reason)
        chunked = False
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP:
                if lk == "transfer-encoding" and "chunked" in v.lower():
                    chunked = True
                continue
            if strip and lk == strip.lower():
                continue
            if lk == "location" and rewrite_location:
                v = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+", "", v) or "/"
            self.send_header(k, v)
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        until_close = not no_body and not chunked and resp.getheader("Content-Length") is None
        if chunked and not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        if until_close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if no_body:
            resp.read()
            return
        sent = 0
        while True:
            b = resp.read1(BUF) if hasattr(resp, "read1") else resp.read(BUF)
            if not b:
                break
            if body_limit is not None and sent + len(b) >= body_limit:
                b = b[:body_limit - sent]
                if b:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b) if chunked else b)
                raise Dropped("response")
            self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b) if chunked else b)
            sent += len(b)
        if body_limit is not None:
            raise Dropped("response")
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def registry_challenge(self):
        if S.challenge is None:
            c = self.upstream_conn()
            c.request("GET", "/v2/", headers={"Host": self.headers.get("Host", S.upstream)})
            r = c.getresponse()
            r.read()
            S.challenge = r.getheader("WWW-Authenticate") or ""
            c.close()
        return S.challenge

    # ------------------------------------------------------------ dispatch
    def handle_any(self):
        method, uri = self.command, self.path
        t0 = time.time()
        authz = self.headers.get("Authorization") or ""
        if authz and authz in S.expired:  # (checked before the rules: counts no occurrence)
            rule, action = {"action": "expire-token"}, "expired-token"
        else:
            kind, n = self.body_kind()
            rule = pick_rule(method, uri, n if kind == "length" else None)
            action = rule["action"] if rule else "forward"
        status = "-"
        nbytes = 0
        conn = None
        try:
            if action == "status":
                consume = rule.get("consume", True)
                if consume:
                    nbytes = self.discard_body()
                code = int(rule.get("status", 503))
                hdrs = dict(rule.get("headers", {}))
                if "retry_after" in rule:
                    hdrs["Retry-After"] = str(rule["retry_after"])
                body = rule.get("body")
                if body is None:
                    body = json.dumps({"errors": [{"code": "UNAVAILABLE" if code >= 500 else
                                                   ("TOOMANYREQUESTS" if code == 429 else "UNKNOWN"),
                                                   "message": "injected by faultproxy: HTTP %d" % code,
                                                   "detail": None}]})
                self.simple(code, body, hdrs, close=not consume)
                status = str(code)
            elif action in ("expire-token", "expired-token"):
                if authz.lower().startswith("bearer "):
                    with S.lock:
                        S.expired.add(authz)
                nbytes = self.discard_body()
                ch = rule.get("challenge")
                if ch is None:
                    if "realm" in rule:
                        ch = 'Bearer realm="%s",service="%s"' % (rule["realm"], rule.get("service", ""))
                    else:
                        ch = self.registry_challenge()
                        ch = re.sub(r',?\s*(scope|error)="[^"]*"', "", ch)
                    m = re.match(r"/v2/(.+?)/(blobs|manifests|tags)/", urllib.parse.urlsplit(uri).path)
                    if m and "scope" not in rule:
                        acts = "pull" if method in ("GET", "HEAD") else "pull,push"
                        ch += ',scope="repository:%s:%s"' % (m.group(1), acts)
                    elif "scope" in rule:
                        ch += ',scope="%s"' % rule["scope"]
                    ch += ',error="%s"' % rule.get("error", "invalid_token")
                self.simple(401, json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                                         "message": "authentication required (token expired, injected by faultproxy)",
                                                         "detail": None}]}),
                            {"WWW-Authenticate": ch})
                status = "401"
            elif action == "drop":
                where = rule.get("where")
                if where is None:
                    where = "request" if self.body_kind()[0] != "none" else "response"
                after = int(rule.get("after", 0))
                if where == "request":
                    try:
                        self.send_upstream(body_limit=after)
                    except Dropped:
                        pass
                    nbytes = after
                    raise Dropped("request")
                conn, resp, nbytes = self.send_upstream()
                status = "DROP"
                self.relay(resp, body_limit=after)
            elif action == "paginate-tags" and method == "GET":
                nbytes = self.discard_body()
                u = urllib.parse.urlsplit(uri)
                q = urllib.parse.parse_qs(u.query)
                conn, resp, _ = self.send_upstream(uri=u.path)
                data = resp.read()
                if resp.status != 200:
                    self.simple(resp.status, data, {"Content-Type": resp.getheader("Content-Type", "application/json")})
                    status = str(resp.status)
                else:
                    doc = json.loads(data)
                    tags = sorted(doc.get("tags") or [])
                    last = q.get("last", [None])[0]
                    if last is not None:
                        tags = [t for t in tags if t > last]
                    page = int(rule.get("page", 100))
                    if "n" in q:
                        page = min(page, int(q["n"][0]))
                    hdrs = {}
                    if len(tags) > page:
                        hdrs["Link"] = '<%s?%s>; rel="next"' % (
                            u.path, urllib.parse.urlencode({"n": page, "last": tags[page - 1]}))
                    tags = tags[:page]
                    self.simple(200, json.dumps({"name": doc.get("name"), "tags": tags}), hdrs)
                    status = "200"
            else:
                if action == "delay":
                    time.sleep(float(rule.get("seconds", 1)))
                fwd = None
                if action == "mount-202":
                    # the registry opens an upload session instead of mounting
                    u = urllib.parse.urlsplit(uri)
                    q = [(k, v) for k, v in urllib.parse.parse_qsl(u.query) if k not in ("mount", "from")]
                    fwd = u.path + ("?" + urllib.parse.urlencode(q) if q else "")
                conn, resp, nbytes = self.send_upstream(uri=fwd) if fwd else self.send_upstream()
                status = str(resp.status)
                self.relay(resp, rewrite_location=(action == "relative-location"),
                           strip=rule.get("header") if action == "strip-header" else None)
        except Dropped:
            status = "DROP"
            self.abort()
        except (OSError, http.client.HTTPException) as e:
            status = "ERROR:" + type(e).__name__
            self.abort()
        finally:
            if conn is not None:
                conn.close()
            write_log(method, uri, status, action, nbytes, t0)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the plain-http registry")
    ap.add_argument("--rules", default="[]", help="JSON list of rules, or @FILE")
    ap.add_argument("--log")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    a = ap.parse_args()
    S.upstream, S.log = a.upstream, a.log
    if a.rules.startswith("@"):
        S.rules_file = a.rules[1:]
        maybe_reload()
    else:
        S.rules = load_rules(a.rules)
        S.counts = [0] * len(S.rules)
    socketserver.TCPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.request_queue_size = 64
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
