#!/usr/bin/env python3
"""Measures a proxy's resident memory per idle keep-alive client connection.

Usage: idlemem.py NAME PORT PIDS N

Opens N connections to 127.0.0.1:PORT one after another, sends one request on each and
reads its whole answer, so each connection is idle and kept alive afterwards; then
compares the summed VmRSS of PIDS (comma-separated: nginx's workers, say) with the figure
before. Kernel socket memory is not part of RSS and not counted. Also prints the RSS once
the connections are closed again, to show whether the proxy gives the memory back.
"""
import resource
import socket
import sys
import time

DEADLINE_SECONDS = 300
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: idlemem\r\nAccept: */*\r\n\r\n"


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def read_response(sock):
    """Reads one response with a Content-Length body; the proxies all send one here."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed inside the response body")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise OSError("unexpected answer: " + head.split(b"\r\n")[0].decode(errors="replace"))


def open_idle(port, count, deadline):
    sockets = []
    for _ in range(count):
        if time.monotonic() > deadline:
            raise OSError(f"gave up after {len(sockets)} connections: deadline passed")
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sockets.append(sock)
        sock.sendall(REQUEST)
        read_response(sock)
    return sockets


def close_all(sockets):
    for sock in sockets:
        sock.close()


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    name, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[4])
    pids = [pid for pid in sys.argv[3].split(",") if pid]

    # Each connection is a descriptor here too.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < count + 64:
        sys.exit(f"idlemem: the descriptor limit {hard} is below {count} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    deadline = time.monotonic() + DEADLINE_SECONDS

    # A few connections first, so that upstream pools and lazy allocations exist.
    close_all(open_idle(port, 16, deadline))
    time.sleep(0.5)
    before = rss_kib(pids)

    started = time.monotonic()
    sockets = open_idle(port, count, deadline)
    elapsed = time.monotonic() - started
    time.sleep(1)
    held = rss_kib(pids)

    close_all(sockets)
    time.sleep(2)
    after = rss_kib(pids)

    print(f"{name}: conns={count} rss_before_kib={before} rss_held_kib={held} "
          f"rss_after_close_kib={after} per_conn_kib={(held - before) / count:.2f} "
          f"open_seconds={elapsed:.1f}")


if __name__ == "__main__":
    main()
