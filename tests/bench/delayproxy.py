#!/usr/bin/python3
# tests/bench/delayproxy.py LISTEN_PORT TARGET_PORT DELAY_MS [RATE [LOG]] - a TCP
# proxy on 127.0.0.1 standing for a network link: every byte is held
# DELAY_MS in each direction (a round trip costs 2 x DELAY_MS more) and,
# when RATE (bytes/s) is given, each direction is one link of RATE shared
# by all connections: a piece read at time t leaves when the link has sent
# everything read before it (n / RATE seconds a piece), plus the delay.
# Each connection's queue holds at most 256 KiB a direction (more than 40 ms
# at 20 Mbit/s), so a fast sender is slowed as by TCP, not buffered whole.
# Prints "listening PORT PID" (LISTEN_PORT 0 picks a free port).  With
# LOG, appends a line for every connection when it ends: the bytes it
# delivered to the client and to the server.  One
# process, one thread: on a busy CPU it can become the slow part itself,
# which tests/bench/delta.sh checks by timing a whole download through it
# with no rate.
import asyncio
import os
import sys
import time

PIECE = 65536
QUEUE_PIECES = 4


class Link:
    """One direction: the time its last reserved byte has left."""

    def __init__(self, rate, delay):
        self.rate, self.delay, self.free = rate, delay, 0.0

    def due(self, n):
        now = time.monotonic()
        if self.rate:
            self.free = max(now, self.free) + n / self.rate
            return self.free + self.delay
        return now + self.delay


async def pump(reader, writer, link):
    """Copies reader to writer through link; returns the bytes delivered."""
    queue = asyncio.Queue(QUEUE_PIECES)
    delivered = 0

    async def receive():
        try:
            while True:
                data = await reader.read(PIECE)
                await queue.put((link.due(len(data)), data))
                if not data:
                    break
        except (ConnectionError, OSError):
            await queue.put((time.monotonic(), b""))

    async def send():
        nonlocal delivered
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    break
                writer.write(data)
                await writer.drain()
                delivered += len(data)
        except (ConnectionError, OSError):
            while True:  # let receive() finish
                if not (await queue.get())[1]:
                    break

    await asyncio.gather(receive(), send())
    return delivered


async def main():
    listen_port, target_port = int(sys.argv[1]), int(sys.argv[2])
    delay = float(sys.argv[3]) / 1000.0
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    log = sys.argv[5] if len(sys.argv) > 5 else None
    up, down = Link(rate, delay), Link(rate, delay)

    async def client(c_reader, c_writer):
        try:
            u_reader, u_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            c_writer.close()
            return
        try:
            to_server, to_client = await asyncio.gather(
                pump(c_reader, u_writer, up), pump(u_reader, c_writer, down))
            if log:
                with open(log, "a") as f:
                    f.write("%d %d\n" % (to_client, to_server))
        finally:
            for w in (c_writer, u_writer):
                try:
                    w.close()
                except OSError:
                    pass

    server = await asyncio.start_server(client, "127.0.0.1", listen_port)
    print("listening", server.sockets[0].getsockname()[1], os.getpid(), flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
