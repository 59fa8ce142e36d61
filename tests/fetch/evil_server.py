#!/usr/bin/env python3
"""evil_server.py - a misbehaving repository server for bootdrop-fetch tests.

Serves the repository directory ROOT on 127.0.0.1 (port 0 unless given),
prints "listening on http://127.0.0.1:PORT/" and misbehaves by MODE:

  normal        serve files, honour Range (206/416)
  tamper        blobs: flip one byte in the middle (same length)
  extra         blobs: append 1 MiB beyond the file (Content-Length says so)
  endless       blobs: no Content-Length, stream zeros until the client quits
  cut           blobs: the first request of each blob gets half its bytes
                (with the full Content-Length) and the connection closes;
                later requests are served normally, Range honoured
  cut-norange   like cut, but later requests ignore Range (full 200)
  cut-badrange  like cut, then badrange
  cut-rangelie  like cut, then rangelie
  slow          blobs: half the bytes at once, then one byte per second
  norange       blobs: Range ignored (always a full 200)
  badrange      blobs: Range answered with 206 from one byte earlier
  rangelie      blobs: Range answered with 206 and the right Content-Range
                but zeros instead of the bytes
  redirect-ftp  manifest.json: 302 to ftp://127.0.0.1/manifest.json
  redirect-file manifest.json: 302 to file:///etc/passwd
  redirect-loop manifest.json: 302 to itself, forever
  redirect-N    manifest.json: N redirects (?hop=1 .. ?hop=N), then served
  bigmanifest   manifest.json: 2 MiB of JSON-looking bytes
  versions-500  versioned manifests (<n>.json): 500, manifest.json served
  versions-410  versioned manifests (<n>.json): 410 Gone, manifest.json
                served
  404           blobs: 404 Not Found

With --only HEX,... the mode applies to these blobs alone (a chunk index or
pack, say; the redirect modes included), and every other request is served
as in mode normal.

Range is honoured as "bytes=A-B" or "bytes=A-".  For mirror tests, the
blob bodies of modes normal and norange can also misbehave:

  --rate N          send at most N bytes per second per response
  --die-after N     the whole server exits once it has sent N body bytes
  --stall-after N   the first blob response stops after N bytes and the
                    connection stays open, silent
  --corrupt-once    the first blob response has one byte flipped in its
                    middle (same length)
  --lie             every blob response, whole or ranged, carries zeros
                    in place of the bytes (status, Content-Range and
                    Content-Length right)

Every request is logged to --log as "METHOD PATH range=VALUE" lines; with
--log-active each line ends in " active=N", N the requests being answered
at that moment, this one included (a client with several in flight).
Python 3 standard library only.
"""
import argparse
import http.server
import os
import re
import sys
import threading
import time

BLOB_RE = re.compile(r"^/blobs/sha256/[0-9a-f]{64}$")
MANIFEST_RE = re.compile(r"^/channels/[a-z0-9][a-z0-9._-]{0,63}/[a-z0-9.]+\.json$")


class State:
    def __init__(self, root, mode, log, opts):
        self.root = root
        self.mode = mode
        self.log = log
        self.opts = opts
        self.lock = threading.Lock()
        self.seen = {}
        self.sent = 0
        self.responses = 0
        self.active = 0

    def next_response(self):
        with self.lock:
            self.responses += 1
            return self.responses

    def first_time(self, path):
        with self.lock:
            n = self.seen.get(path, 0)
            self.seen[path] = n + 1
            return n == 0

    def record(self, line):
        if self.log is None:
            return
        with self.lock:
            with open(self.log, "a") as f:
                f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "evil/1"

    def log_message(self, fmt, *args):
        pass

    def send_plain(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        st = self.server.state
        if not st.opts.log_active:
            return self.answer_get("")
        with st.lock:
            st.active += 1
            note = " active=%d" % st.active
        try:
            return self.answer_get(note)
        finally:
            with st.lock:
                st.active -= 1

    def answer_get(self, note):
        st = self.server.state
        path = self.path.split("?", 1)[0]
        rng = self.headers.get("Range")
        st.record("GET %s range=%s%s" % (path, rng or "-", note))
        is_blob = BLOB_RE.match(path) is not None
        is_manifest = MANIFEST_RE.match(path) is not None
        if not is_blob and not is_manifest:
            return self.send_plain(404, b"not found\n")
        mode = st.mode
        if st.opts.only is not None:
            if not is_blob or path.rsplit("/", 1)[1] not in st.opts.only:
                mode = "normal"
            elif mode.startswith("redirect-"):
                is_manifest = True  # the redirects below, for this blob
        if is_manifest:
            if mode == "redirect-ftp":
                return self.redirect("ftp://127.0.0.1/manifest.json")
            if mode == "redirect-file":
                return self.redirect("file:///etc/passwd")
            if mode == "redirect-loop":
                return self.redirect(path)
            hops = re.match(r"^redirect-([0-9]+)$", mode)
            if hops:
                m = re.search(r"[?&]hop=([0-9]+)", self.path)
                hop = int(m.group(1)) if m else 0
                if hop < int(hops.group(1)):
                    return self.redirect("%s?hop=%d" % (path, hop + 1))
            if mode == "versions-500" and not path.endswith("/manifest.json"):
                return self.send_plain(500, b"versioned manifests broken\n")
            if mode == "versions-410" and not path.endswith("/manifest.json"):
                return self.send_plain(410, b"versioned manifests gone\n")
            if mode == "drip":
                return self.drip()
            if mode in ("hugeheader", "twolengths"):
                return self.misframed(mode, path)
            if mode == "bigmanifest":
                body = b'{"payload":"' + b"A" * (2 << 20) + b'"}'
                return self.send_plain(200, body)
        try:
            with open(os.path.join(st.root, path.lstrip("/")), "rb") as f:
                data = f.read()
        except OSError:
            return self.send_plain(404, b"not found\n")
        if not is_blob:
            return self.send_plain(200, data)
        return self.blob(st, mode, path, data, rng)

    def drip(self):
        """A manifest of 1 MiB sent at about 2 KiB/s: above any
        low-speed limit, never finishing in reasonable time."""
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        self.close_connection = True
        try:
            for _ in range((1 << 20) // 256):
                self.wfile.write(b" " * 256)
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def misframed(self, mode, path):
        """A 10 MB header line, or two Content-Length headers that
        disagree, in front of the real manifest."""
        try:
            with open(os.path.join(self.server.state.root, path.lstrip("/")),
                      "rb") as f:
                data = f.read()
        except OSError:
            return self.send_plain(404, b"not found\n")
        self.send_response(200)
        self.close_connection = True
        try:
            if mode == "hugeheader":
                self.send_header("X-Padding", "a" * (10 << 20))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            else:
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Length", str(len(data) + 5))
                self.end_headers()
                self.wfile.write(data + b"XXXXX")
        except OSError:
            pass

    def blob(self, st, mode, path, data, rng):
        if mode == "404":
            return self.send_plain(404, b"gone\n")
        if mode == "tamper":
            i = len(data) // 2
            data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
            return self.send_plain(200, data)
        if mode == "extra":
            return self.send_plain(200, data + b"\0" * (1 << 20))
        if mode == "endless":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"\0" * 65536
            try:
                for _ in range(1 << 16):  # 4 GiB at most
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        if mode in ("cut", "cut-norange", "cut-badrange", "cut-rangelie") \
                and st.first_time(path):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            half = len(data) // 2
            self.wfile.write(data[:half])
            self.wfile.flush()
            try:
                for b in data[half:]:
                    time.sleep(1)
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            return
        honour = mode not in ("norange", "cut-norange")
        m = re.match(r"^bytes=(\d+)-(\d*)$", rng or "")
        if rng and honour and m:
            start = int(m.group(1))
            last = int(m.group(2)) if m.group(2) else len(data) - 1
            last = min(last, len(data) - 1)
            if start >= len(data) or last < start:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mode.endswith("badrange"):
                start = max(0, start - 1)
            body = data[start:last + 1]
            if mode.endswith("rangelie"):
                body = bytes(len(body))
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (
                start, last, len(data)))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.send_body(st, body)
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return self.send_body(st, data)

    def send_body(self, st, body):
        o = st.opts
        n = st.next_response()
        if o.lie:
            body = bytes(len(body))
        if o.corrupt_once and n == 1 and body:
            i = len(body) // 2
            body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
        chunk = 65536
        if o.rate:
            chunk = max(1, min(chunk, o.rate // 20))
        off = 0
        t0 = time.monotonic()
        try:
            while off < len(body):
                piece = body[off:off + chunk]
                if o.stall_after is not None and n == 1 and \
                        off + len(piece) > o.stall_after:
                    piece = piece[:max(0, o.stall_after - off)]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    time.sleep(3600)
                    return
                if o.die_after is not None:
                    with st.lock:
                        room = o.die_after - st.sent
                        st.sent += len(piece)
                    if room < len(piece):
                        self.wfile.write(piece[:max(0, room)])
                        self.wfile.flush()
                        os._exit(0)
                self.wfile.write(piece)
                off += len(piece)
                if o.rate:
                    ahead = off / o.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        self.wfile.flush()
                        time.sleep(ahead)
        except OSError:
            self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--only", type=lambda v: set(v.split(",")))
    ap.add_argument("--log")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--die-after", type=int)
    ap.add_argument("--stall-after", type=int)
    ap.add_argument("--corrupt-once", action="store_true")
    ap.add_argument("--lie", action="store_true")
    ap.add_argument("--log-active", action="store_true")
    a = ap.parse_args()
    # A listen backlog of 5 (socketserver's default) drops connections when
    # a loaded machine is slow to accept several mirrors' connections.
    http.server.ThreadingHTTPServer.request_queue_size = 128
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.state = State(a.root, a.mode, a.log, a)
    print("listening on http://127.0.0.1:%d/" % srv.server_address[1],
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
