#!/usr/bin/env python3
"""latency_proxy.py UPSTREAM_PORT DELAY_MS - a TCP proxy on 127.0.0.1 that
holds every piece of data a client sends for DELAY_MS before passing it on
(answers come back at once): each HTTP request costs DELAY_MS more, as on a
link with that much latency, where this machine has no netem.  Prints
"listening on http://127.0.0.1:PORT/".  Python 3 standard library only.
"""
import socket
import sys
import threading
import time


def pump(src, dst, delay):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if delay:
                time.sleep(delay)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    upstream = int(sys.argv[1])
    delay = int(sys.argv[2]) / 1000.0
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", 0))
    lst.listen(128)
    print("listening on http://127.0.0.1:%d/" % lst.getsockname()[1],
          flush=True)
    while True:
        c, _ = lst.accept()
        try:
            u = socket.create_connection(("127.0.0.1", upstream))
        except OSError as e:
            print("latency_proxy: upstream: %s" % e, file=sys.stderr)
            c.close()
            continue
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=pump, args=(c, u, delay), daemon=True).start()
        threading.Thread(target=pump, args=(u, c, 0), daemon=True).start()


if __name__ == "__main__":
    main()
