#!/usr/bin/env python3
"""Opens N HTTP/1.1 keep-alive connections, sends one request on each, and keeps them idle.

Used by benches/idle_connections.sh (not a test):

    idle_client.py HOST PORT COUNT PATH

Every connection sends `GET PATH` with keep-alive and reads the whole response. Once all have
answered, it prints `ready <ok> <failed>` on stdout and holds the connections open, idle, until
stdin closes (or SIGTERM), then prints `open <still open>` (connections the server has not
closed in the meantime) and exits. Standard library only.
"""

import asyncio
import sys


async def one_request(host, port, path):
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: idle-bench\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        if name.strip().lower() == "transfer-encoding":
            raise RuntimeError("chunked responses are not expected here")
    if length:
        await reader.readexactly(length)
    return status, reader, writer


async def main():
    host, port, count, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    # Open in waves, so the listen backlog never overflows on a small machine.
    connections, failed = [], 0
    wave = 100
    for start in range(0, count, wave):
        tasks = [one_request(host, port, path) for _ in range(start, min(count, start + wave))]
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, BaseException) or not 200 <= result[0] < 300:
                failed += 1
                if isinstance(result, tuple):
                    result[2].close()
            else:
                connections.append(result)
    print(f"ready {len(connections)} {failed}", flush=True)

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)

    # A connection the server closed reads EOF at once; an open one has nothing to read.
    still_open = 0
    for reader, writer in ((c[1], c[2]) for c in connections):
        try:
            data = await asyncio.wait_for(reader.read(1), timeout=0.001)
            if data:
                still_open += 1
        except asyncio.TimeoutError:
            still_open += 1
        except ConnectionError:
            pass
    print(f"open {still_open}", flush=True)
    for _, _, writer in connections:
        writer.close()


if __name__ == "__main__":
    asyncio.run(main())
