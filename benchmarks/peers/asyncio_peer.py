"""asyncio_peer: Python asyncio open_connection connects per second to
host:port, K tasks each connecting in a loop on the default event loop; every
connection is closed with SO_LINGER {1,0}.

Usage: asyncio_peer.py host port K duration_seconds -> connects_per_sec=<float>
"""
import asyncio
import socket
import struct
import sys
import time

LINGER_0 = struct.pack("ii", 1, 0)


async def chain(host, port, counts):
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            counts[1] += 1
            continue
        counts[0] += 1
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def main():
    if len(sys.argv) != 5:
        sys.exit("usage: asyncio_peer.py host port K duration_seconds")
    host, port, k, secs = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                           float(sys.argv[4]))
    counts = [0, 0]  # connects, errors
    start = time.monotonic()
    tasks = [asyncio.create_task(chain(host, port, counts)) for _ in range(k)]
    await asyncio.sleep(secs)
    done = counts[0] / (time.monotonic() - start)
    for t in tasks:
        t.cancel()
    if counts[1]:
        print(f"asyncio_peer: {counts[1]} errors", file=sys.stderr)
    print(f"connects_per_sec={done:.1f}")


asyncio.run(main())
