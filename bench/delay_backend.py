#!/usr/bin/env python3
"""A keep-alive HTTP/1.1 backend that answers every request after a fixed delay.

bench/mirror_bench.sh mirrors requests to it: a new version that is 50 ms slower. One
asyncio loop, so thousands of delayed answers cost a task each, not a thread. It reads
Content-Length bodies (chunked bodies are not supported: the bench sends none).
"""

import argparse
import asyncio

MAX_HEAD = 65536


async def serve(reader, writer, delay, body):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD:
                break
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=int, default=50)
    args = parser.parse_args()
    delay = args.delay_ms / 1000.0
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, delay, b"slow\n"), "127.0.0.1", args.port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
