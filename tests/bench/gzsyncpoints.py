#!/usr/bin/python3
# tests/bench/gzsyncpoints.py OLD.gz NEW.gz - what a guest holding OLD would
# move for NEW if an rsyncable gzip were cut at its own flush points (the
# bytes 00 00 ff ff that `gzip --rsyncable` writes where its Huffman coding
# restarts) instead of by the gear hash: for M = 1, 2, 4, 8 a flush point
# is a cut when the CRC-32 of the 32 bytes before it is 0 mod M (or 64 KiB
# have passed).  Prints the chunks, both indexes at 41 bytes a chunk, and
# the unshared bytes merged across gaps of 1 KiB as the client does.  A
# measurement for doc/chunks.md, not part of any program.
import hashlib, sys, zlib
def cuts(d, M):
    out, last, i = [], 0, 0
    while True:
        i = d.find(b'\x00\x00\xff\xff', i)
        if i < 0: break
        e = i + 4
        if zlib.crc32(d[max(0, i-32):i]) % M == 0 or e - last >= 65536:
            out.append((last, e)); last = e
        i = e
    out.append((last, len(d)))
    return out
N = open(sys.argv[1], 'rb').read(); N1 = open(sys.argv[2], 'rb').read()
for M in (1, 2, 4, 8):
    cn = cuts(N, M); c1 = cuts(N1, M)
    have = {hashlib.sha256(N[a:b]).digest() for a, b in cn}
    need = [(a, b) for a, b in c1 if hashlib.sha256(N1[a:b]).digest() not in have]
    ranges, cur = [], None
    for a, b in need:
        if cur and a - cur[1] <= 1024: cur[1] = b
        else:
            cur = [a, b]; ranges.append(cur)
    rb = sum(b - a for a, b in ranges)
    idx1 = 60 + 41 * len(c1); idx0 = 60 + 41 * len(cn)
    print("M=%d chunks %d avg %.1f KB: index %d + seed index %d, ranges %d bytes in %d; total with 400 B a request %.2f MB" % (
        M, len(c1), len(N1) / len(c1) / 1000, idx1, idx0, rb, len(ranges), (idx1 + idx0 + rb + 400 * len(ranges)) / 1e6))
