#!/usr/bin/env python3
"""A small HTTP/1.1 keep-alive backend that tells the caller exactly what it received.

turnout's demo and end-to-end tests put two of these ("blue" and "green") behind the proxy.
Python standard library only.

Endpoints (any method):
  /download?bytes=N[&chunked=1]  N bytes of a repeating 0..255 pattern, streamed in 64 KiB
                                 pieces, framed by Content-Length or chunked.
  /slow?ms=N                     sleeps N milliseconds (at most 60000), then the default answer.
  /status?code=N                 the default answer with status N.
  /__stats                       {"accepted": TCP connections accepted, "requests": requests
                                 served, this one excluded}.
  anything else                  200, JSON: backend name, method, path, query, the request
                                 headers in received order and spelling, body size and SHA-256.

For parallel runs (docs/parallel-run.md), the default answer takes two more knobs:
  ?fields=1                      adds "price": 10 and "meta": {"timestamp": now,
                                 "nonce": random} to the JSON and "X-Version: 1" to the head;
                                 the meta values differ on every answer (noise).
  ?diff=KIND with --differ       this backend answers differently: KIND status gives 500,
                                 header gives X-Version: 2, field gives "price": 12, ignored
                                 gives "meta.timestamp": -1. Without --differ, diff is ignored.
  --delay-ms N                   every answer waits N milliseconds first (a slow version).
"""

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PIECE = bytes(range(256)) * 256  # 64 KiB; a multiple of 256, so every piece starts at 0.
MAX_SLOW_MS = 60000
MAX_LINE = 65536


class CountingServer(ThreadingHTTPServer):
    """Counts accepted connections and served requests for /__stats."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, name, verbose, differ=False, delay_ms=0):
        super().__init__(address, handler)
        self.name = name
        self.verbose = verbose
        self.differ = differ
        self.delay_ms = delay_ms
        self.lock = threading.Lock()
        self.accepted = 0
        self.requests = 0

    def get_request(self):
        # Called once per accept(), so it counts TCP connections, not requests.
        conn = super().get_request()
        with self.lock:
            self.accepted += 1
        return conn

    def count_request(self):
        with self.lock:
            self.requests += 1

    def stats(self):
        with self.lock:
            return {"accepted": self.accepted, "requests": self.requests}


class BodyError(Exception):
    """The request body is malformed; the connection cannot be reused."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle's algorithm and
    # delayed ACKs would add 40 ms to many keep-alive responses.
    disable_nagle_algorithm = True

    def __getattr__(self, attr):
        # BaseHTTPRequestHandler looks up do_<METHOD>; answer every method the same way.
        if attr.startswith("do_"):
            return self.serve
        raise AttributeError(attr)

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.server.name, fmt % args))

    def serve(self):
        try:
            body = self.read_body()
        except BodyError as err:
            self.close_connection = True
            self.answer_text(400, "bad body: %s\n" % err)
            return

        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/__stats":
            self.answer_json(200, self.server.stats())
            return

        self.server.count_request()
        if self.server.delay_ms > 0:
            time.sleep(min(self.server.delay_ms, MAX_SLOW_MS) / 1000.0)
        if url.path == "/download":
            self.download(query)
        elif url.path == "/slow":
            time.sleep(min(int_param(query, "ms", 0), MAX_SLOW_MS) / 1000.0)
            self.answer_json(200, self.echo(url, body))
        elif url.path == "/status":
            self.answer_json(int_param(query, "code", 200), self.echo(url, body))
        elif query.get("fields", ["0"])[0] == "1":
            self.answer_fields(query, self.echo(url, body))
        else:
            self.answer_json(200, self.echo(url, body))

    def read_body(self):
        # RFC 9112 section 6.3: Transfer-Encoding wins over Content-Length.
        encoding = self.headers.get("Transfer-Encoding", "")
        if "chunked" in encoding.lower():
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise BodyError("content-length %r" % length)
        return self.read_exact(size)

    def read_chunked(self):
        # chunk = size [;ext] CRLF data CRLF; ends with a 0 chunk, trailers, CRLF.
        parts = []
        while True:
            line = self.rfile.readline(MAX_LINE)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BodyError("chunk size %r" % line[:40])
            if size == 0:
                break
            parts.append(self.read_exact(size))
            if self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n"):
                raise BodyError("chunk not followed by CRLF")

        # Trailer fields are read and dropped.
        while self.rfile.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(parts)

    def read_exact(self, size):
        data = self.rfile.read(size)
        if len(data) != size:
            raise BodyError("body ended after %d of %d bytes" % (len(data), size))
        return data

    def echo(self, url, body):
        return {
            "backend": self.server.name,
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "headers": [[name, value] for name, value in self.headers.items()],
            "body_bytes": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }

    def answer_fields(self, query, obj):
        # The same answer on every backend but for the noise in meta, unless this backend
        # was started with --differ and the request asks for a difference.
        diff = query.get("diff", [""])[0] if self.server.differ else ""
        obj["price"] = 12 if diff == "field" else 10
        obj["meta"] = {
            "timestamp": -1 if diff == "ignored" else time.time(),
            "nonce": os.urandom(8).hex(),
        }
        status = 500 if diff == "status" else 200
        version = "2" if diff == "header" else "1"
        self.answer(status, "application/json", json.dumps(obj).encode() + b"\n",
                    [("X-Version", version)])

    def download(self, query):
        total = int_param(query, "bytes", 0)
        chunked = query.get("chunked", ["0"])[0] == "1"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("X-Backend", self.server.name)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        if self.command == "HEAD":
            return

        sent = 0
        while sent < total:
            piece = PIECE[: min(len(PIECE), total - sent)]
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            sent += len(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def answer_json(self, status, obj):
        self.answer(status, "application/json", json.dumps(obj).encode() + b"\n")

    def answer_text(self, status, text):
        self.answer(status, "text/plain", text.encode())

    def answer(self, status, content_type, payload, extra_headers=()):
        # 1xx, 204 and 304 answers carry no body (RFC 9110 sections 15.2, 15.3.5, 15.4.5).
        bodiless = status < 200 or status in (204, 304)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Backend", self.server.name)
        for name, value in extra_headers:
            self.send_header(name, value)
        if not bodiless:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not bodiless and self.command != "HEAD":
            self.wfile.write(payload)


def int_param(query, name, default):
    try:
        return int(query.get(name, [default])[0])
    except ValueError:
        return default


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="reported in x-backend and the body")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="one stderr line per request")
    parser.add_argument("--differ", action="store_true",
                        help="answer ?fields=1&diff=KIND requests differently (parallel runs)")
    parser.add_argument("--delay-ms", type=int, default=0,
                        help="wait this long before every answer")
    args = parser.parse_args()

    server = CountingServer((args.host, args.port), Handler, args.name, args.verbose,
                            args.differ, args.delay_ms)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
