#!/usr/bin/env python3
"""Sends N requests to 127.0.0.1:PORT and reads every answer, for bench/instr.sh.

Usage: request_loop.py PORT N MODE

MODE is one of bench/run.sh's cases: small, 1k, 64k, hdr20 and upload reuse one keep-alive
connection; close opens a new connection per request. Waits up to 60 s for the port,
since the proxy may be starting under valgrind. Exits non-zero on any unexpected answer.
"""
import socket
import sys
import time

BROWSER_HEADERS = (
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-GB,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Cookie: session=4f1c2b9e; theme=dark; uid=user-48213\r\n"
    b"X-User: user-48213\r\n"
)
UPLOAD_BYTES = 1024 * 1024


def build_request(mode):
    path = {"1k": b"/files/1k", "64k": b"/files/64k", "upload": b"/upload"}.get(mode, b"/")
    method = b"POST" if mode == "upload" else b"GET"
    head = method + b" " + path + b" HTTP/1.1\r\nHost: bench\r\n"
    if mode == "hdr20":
        head += BROWSER_HEADERS
    if mode == "close":
        head += b"Connection: close\r\n"
    if mode == "upload":
        head += b"Content-Length: %d\r\n" % UPLOAD_BYTES
        return head + b"\r\n" + b"u" * UPLOAD_BYTES
    return head + b"\r\n"


def connect(port):
    for _ in range(600):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            time.sleep(0.1)
    sys.exit(f"request_loop: nothing listens on 127.0.0.1:{port}")


def read_response(sock, buffered):
    """Reads one Content-Length response; returns the bytes read past its end."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("request_loop: connection closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("request_loop: unexpected answer " + repr(head.split(b"\r\n")[0]))
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("request_loop: connection closed inside the response body")
        rest += chunk
    return rest[length:]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    port, count, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    request = build_request(mode)
    sock = connect(port)
    buffered = b""
    for _ in range(count):
        if mode == "close" and sock is None:
            sock = connect(port)
        sock.sendall(request)
        buffered = read_response(sock, buffered)
        if mode == "close":
            sock.close()
            sock, buffered = None, b""
    if sock is not None:
        sock.close()


if __name__ == "__main__":
    main()
