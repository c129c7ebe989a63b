#!/usr/bin/env python3
"""Opens N order streams (`GET /api/trading/stream`) and measures each event's delay.

Used by benches/streams.sh (not a test):

    stream_client.py HOST PORT COUNT COOKIES_FILE [reuse]

Stream i uses the cookie on line i % lines of COOKIES_FILE (one `session=…` a line). Once every
stream has answered 200, it prints `ready <ok> <failed>` on stdout and keeps reading. Every event
whose data carries `bench_sent_ns` (the bench server stamps the events it injects) gives one
delay: the time it was read here minus that stamp (same machine, same clock). When stdin closes
it prints `open <streams still open>` and `delays <count> <p50 ms> <p99 ms> <max ms>`, then
exits. With `reuse`, each connection first asks `GET /health` and opens its stream on the same
kept-alive connection (as Heroku's router reuses its connections). Standard library only.
"""

import asyncio
import re
import sys
import time

STAMP = re.compile(rb'"bench_sent_ns":(\d+)[,}]')
delays = []
open_streams = 0


async def one_stream(host, port, cookie, reuse):
    reader, writer = await asyncio.open_connection(host, port)
    if reuse:
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\nUser-Agent: stream-bench\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        await reader.readexactly(length)
    request = (
        f"GET /api/trading/stream HTTP/1.1\r\nHost: localhost\r\nUser-Agent: stream-bench\r\n"
        f"Accept: text/event-stream\r\nCookie: {cookie}\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, reader, writer


async def read_events(reader):
    global open_streams
    open_streams += 1
    buffer = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            now = time.time_ns()
            buffer += chunk
            end = 0
            for match in STAMP.finditer(buffer):
                delays.append((now - int(match.group(1))) / 1e6)
                end = match.end()
            buffer = buffer[end:][-256:]
    except (ConnectionError, asyncio.CancelledError):
        pass
    open_streams -= 1


async def main():
    host, port, count, cookies_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    reuse = sys.argv[5:] == ["reuse"]
    with open(cookies_file) as f:
        cookies = [line.strip() for line in f if line.strip()]
    streams, failed = [], 0
    wave = 200
    for start in range(0, count, wave):
        tasks = [
            one_stream(host, port, cookies[i % len(cookies)], reuse)
            for i in range(start, min(count, start + wave))
        ]
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, BaseException) or result[0] != 200:
                failed += 1
                if isinstance(result, tuple):
                    result[2].close()
            else:
                streams.append(result)
    readers = [asyncio.create_task(read_events(s[1])) for s in streams]
    print(f"ready {len(streams)} {failed}", flush=True)

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)

    print(f"open {open_streams}", flush=True)
    ordered = sorted(delays)

    def pct(p):
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0

    top = ordered[-1] if ordered else 0.0
    print(f"delays {len(ordered)} {pct(0.5):.2f} {pct(0.99):.2f} {top:.2f}", flush=True)
    for task in readers:
        task.cancel()
    for _, _, writer in streams:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main())
