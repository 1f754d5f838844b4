#!/usr/bin/env python3
"""A byte-counting TCP proxy for kiln's push benchmark (stdlib only).

    countproxy.py --upstream 127.0.0.1:5000 --port-file P --control-port-file C

Listens on 127.0.0.1 (a free port, written to --port-file) and forwards every
connection to --upstream, counting the bytes each way:

    up    bytes the clients sent (requests: headers and bodies)
    down  bytes the upstream sent back (responses)

A second listener (its port in --control-port-file) answers one line per
connection. Send "stats" and read back a JSON line
    {"up": N, "down": N, "conns": N, "active": N}
once the traffic has been quiet for --quiet-ms (default 300 ms; at most 10 s of
waiting), so that bytes still in flight from a client that just exited are
counted. "reset" zeroes the counters. The counters are cumulative: a benchmark
takes the difference between two "stats" replies around a run.

It only ever connects to --upstream, which must be a loopback address.
"""

import argparse
import json
import os
import socket
import sys
import threading
import time

BUF = 1 << 20


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.up = 0
        self.down = 0
        self.conns = 0
        self.active = 0
        self.last = time.monotonic()

    def add(self, field, n):
        with self.lock:
            setattr(self, field, getattr(self, field) + n)
            self.last = time.monotonic()

    def snapshot(self):
        with self.lock:
            return {"up": self.up, "down": self.down, "conns": self.conns, "active": self.active}

    def reset(self):
        with self.lock:
            self.up = self.down = self.conns = 0


def pump(src, dst, counters, field):
    buf = bytearray(BUF)
    view = memoryview(buf)
    try:
        while True:
            n = src.recv_into(buf)
            if n == 0:
                break
            counters.add(field, n)
            dst.sendall(view[:n])
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client, upstream, counters):
    try:
        server = socket.create_connection(upstream, timeout=30)
        server.settimeout(None)
    except OSError:
        client.close()
        with counters.lock:
            counters.active -= 1
        return
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = threading.Thread(target=pump, args=(server, client, counters, "down"), daemon=True)
    t.start()
    pump(client, server, counters, "up")
    t.join()
    client.close()
    server.close()
    with counters.lock:
        counters.active -= 1


def serve_proxy(lsock, upstream, counters):
    while True:
        client, _ = lsock.accept()
        with counters.lock:
            counters.conns += 1
            counters.active += 1
            counters.last = time.monotonic()
        threading.Thread(target=handle, args=(client, upstream, counters), daemon=True).start()


def serve_control(csock, counters, quiet):
    while True:
        conn, _ = csock.accept()
        with conn:
            try:
                f = conn.makefile("rwb")
                line = f.readline().strip().decode("ascii", "replace")
                if line == "reset":
                    counters.reset()
                    reply = {"ok": True}
                else:
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline:
                        with counters.lock:
                            idle = time.monotonic() - counters.last
                        if idle >= quiet:
                            break
                        time.sleep(0.05)
                    reply = counters.snapshot()
                f.write((json.dumps(reply) + "\n").encode())
                f.flush()
            except OSError:
                pass


def listen(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT (loopback) to forward to")
    ap.add_argument("--port", type=int, default=0, help="proxy port (default: a free one)")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--control-port-file", required=True)
    ap.add_argument("--quiet-ms", type=int, default=300)
    a = ap.parse_args()
    host, _, port = a.upstream.rpartition(":")
    host = host.strip("[]")
    if not (host.startswith("127.") or host in ("localhost", "::1")):
        sys.exit("countproxy: --upstream must be a loopback address")
    upstream = (host, int(port))
    counters = Counters()
    lsock = listen(a.port)
    csock = listen(0)
    threading.Thread(target=serve_control, args=(csock, counters, a.quiet_ms / 1000.0),
                     daemon=True).start()
    write_port(a.control_port_file, csock.getsockname()[1])
    write_port(a.port_file, lsock.getsockname()[1])
    try:
        serve_proxy(lsock, upstream, counters)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
