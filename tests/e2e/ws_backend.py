#!/usr/bin/env python3
"""A WebSocket echo backend for the tunnel tests, on raw sockets (no packages).

Usage: ws_backend.py --name NAME --port PORT

Listens on 127.0.0.1 only. Per connection it reads HTTP/1.1 requests and answers:
  - an Upgrade: websocket request: 101 with Sec-WebSocket-Accept (RFC 6455 4.2.2) and
    "x-backend: NAME", then echoes every data frame unmasked, answers ping with pong and
    close with close; with the path /greet a text frame "hello from NAME" follows the 101
    in the same send, so the proxy reads it together with the head;
  - /refuse200 and /refuse400 (even with Upgrade): a 200 or 400 with the body
    "refused by NAME", and the connection stays open for the next request;
  - CONNECT: "200 Connection Established", then echoes raw bytes until EOF;
  - anything else: a 200 with the body NAME.
Every answer carries "x-backend: NAME".
"""

import argparse
import base64
import hashlib
import socket
import socketserver
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_head(conn, buffered):
    """Reads up to the end of a request head; returns (head bytes, rest) or (None, b"")."""
    data = buffered
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


def parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return method, target, headers


class Reader:
    """Exact reads over a socket, starting with bytes already read."""

    def __init__(self, conn, buffered):
        self.conn = conn
        self.buffer = bytearray(buffered)

    def exactly(self, count):
        while len(self.buffer) < count:
            chunk = self.conn.recv(1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
        out = bytes(self.buffer[:count])
        del self.buffer[:count]
        return out


def unmask(payload, key):
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    value = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return value.to_bytes(len(payload), "big")


def frame(opcode, payload, fin=True):
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    if length < 126:
        header = bytes([first, length])
    elif length < 65536:
        header = bytes([first, 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, 127]) + length.to_bytes(8, "big")
    return header + payload


def read_frame(reader):
    """One frame as (fin, opcode, payload), or None at EOF."""
    first = reader.exactly(2)
    if first is None:
        return None
    fin = (first[0] & 0x80) != 0
    opcode = first[0] & 0x0F
    masked = (first[1] & 0x80) != 0
    length = first[1] & 0x7F
    if length == 126:
        length = int.from_bytes(reader.exactly(2) or b"\0\0", "big")
    elif length == 127:
        length = int.from_bytes(reader.exactly(8) or bytes(8), "big")
    key = reader.exactly(4) if masked else b""
    payload = reader.exactly(length)
    if payload is None:
        return None
    return fin, opcode, unmask(payload, key) if masked else payload


def serve_websocket(conn, name, target, headers, rest):
    accept = base64.b64encode(
        hashlib.sha1(headers.get("sec-websocket-key", "").encode() + GUID).digest())
    answer = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nx-backend: %s\r\n\r\n"
              % (accept.decode(), name)).encode()
    if target == "/greet":
        answer += frame(0x1, ("hello from " + name).encode())
    conn.sendall(answer)

    reader = Reader(conn, rest)
    while True:
        got = read_frame(reader)
        if got is None:
            return
        fin, opcode, payload = got
        if opcode == 0x8:
            conn.sendall(frame(0x8, payload[:2]))
            return
        if opcode == 0x9:
            conn.sendall(frame(0xA, payload))
            continue
        conn.sendall(frame(opcode, payload, fin))


def serve_connect(conn, rest):
    conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    if rest:
        conn.sendall(rest)
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            conn.shutdown(socket.SHUT_WR)
            return
        conn.sendall(chunk)


def plain_answer(name, status, body):
    reason = {200: "OK", 400: "Bad Request"}[status]
    return ("HTTP/1.1 %d %s\r\ncontent-length: %d\r\nx-backend: %s\r\n\r\n%s"
            % (status, reason, len(body), name, body)).encode()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        name = self.server.backend_name
        rest = b""
        try:
            while True:
                head, rest = read_head(conn, rest)
                if head is None:
                    return
                method, target, headers = parse_head(head)
                length = int(headers.get("content-length", "0"))
                while len(rest) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
                rest = rest[length:]
                if target in ("/refuse200", "/refuse400"):
                    status = 200 if target == "/refuse200" else 400
                    conn.sendall(plain_answer(name, status, "refused by " + name))
                elif method == "CONNECT":
                    serve_connect(conn, rest)
                    return
                elif headers.get("upgrade", "").lower() == "websocket":
                    serve_websocket(conn, name, target, headers, rest)
                    return
                else:
                    conn.sendall(plain_answer(name, 200, name))
        except (ConnectionError, OSError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.backend_name = args.name
    threading.current_thread().name = args.name
    server.serve_forever()


if __name__ == "__main__":
    main()
