#!/usr/bin/env python3
"""chunks.py - reads chunk indexes (DESIGN.md, "Moving only what changed")
for the fetch tests, and forges the pack bytes of a lying mirror.

  fresh NEW OLD            the chunks of index NEW that index OLD lacks
                           (those a guest holding OLD's artifact fetches
                           from the pack), one a line: number, raw offset,
                           raw length, pack offset, stored length, encoding
  kept NEW OLD PART        how many of those chunks PART holds intact (their
                           raw bytes hash as the index says); with "kept
                           -l", their raw offsets and lengths instead
  bomb NEW OLD PACK OUT K  writes to OUT a copy of PACK in which each of
                           those chunks stored as zstd is replaced, at the
                           same stored length, by a zstd frame that expands
                           beyond the chunk's raw length: K 0, a frame
                           declaring a content size of 64 times the raw
                           length; K 1, a frame declaring none whose blocks
                           expand to more than that; K forge, a frame of
                           exactly the raw length, of other bytes (only the
                           chunk's hash tells).  Prints the chunks.

Python 3 standard library only.
"""
import hashlib
import struct
import sys

HEAD = struct.Struct(">8sQI32sQ")
ENTRY = struct.Struct(">IIB32s")


def parse(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, size, count, _pack_sha, pack_size = HEAD.unpack_from(data, 0)
    if magic != b"BDCHUNK2" or len(data) != HEAD.size + count * ENTRY.size:
        raise SystemExit("%s: not a chunk index" % path)
    chunks, raw_off, pack_off = [], 0, 0
    for i in range(count):
        raw_len, stored_len, enc, sha = ENTRY.unpack_from(
            data, HEAD.size + i * ENTRY.size)
        chunks.append((i, raw_off, raw_len, pack_off, stored_len, enc, sha))
        raw_off += raw_len
        pack_off += stored_len
    if raw_off != size or pack_off != pack_size:
        raise SystemExit("%s: lengths do not add up" % path)
    return chunks


def fresh(new, old):
    have = {(c[2], c[6]) for c in parse(old)}
    return [c for c in parse(new) if (c[2], c[6]) not in have]


def frame(raw_len, stored_len, declare, forge=False):
    """A zstd frame of exactly stored_len bytes: RLE blocks of zeros, 128
    KiB at most, then a raw block padding the frame to its length (RFC
    8878).  It expands to more than 64 * raw_len bytes; with forge, to
    exactly raw_len bytes that are not the chunk's (one RLE block)."""
    head_len = 4 + 1 + (8 if declare else 1)
    if forge:
        pad = stored_len - head_len - 4 - 3
        total = raw_len - pad
    else:
        total = 64 * raw_len
        pad = stored_len - head_len - 4 * -(-total // (128 << 10)) - 3
    if pad < 1 or pad > 128 << 10 or total < 1:
        raise SystemExit("chunk of %d stored bytes does not fit the frame"
                         % stored_len)
    blocks, left = [], total
    while left > 0:
        n = min(left, 128 << 10)
        blocks.append(struct.pack("<I", (n << 3) | (1 << 1))[:3] + b"\0")
        left -= n
    # single segment with an 8-byte content size, or no content size
    # and a window of 128 KiB (exponent 7 above 2^10)
    if declare:
        head = struct.pack("<IBQ", 0xFD2FB528, 0xE0, total + pad)
    else:
        head = struct.pack("<IBB", 0xFD2FB528, 0x00, 7 << 3)
    return head + b"".join(blocks) + \
        struct.pack("<I", (pad << 3) | 1)[:3] + b"\0" * pad


def main(argv):
    if len(argv) == 4 and argv[1] == "fresh":
        for c in fresh(argv[2], argv[3]):
            print(*c[:6])
    elif len(argv) in (5, 6) and argv[1] == "kept":
        listing = argv[2] == "-l"
        new, old, part = argv[2 + listing:5 + listing]
        n = 0
        with open(part, "rb") as f:
            for c in fresh(new, old):
                f.seek(c[1])
                if hashlib.sha256(f.read(c[2])).digest() == c[6]:
                    n += 1
                    if listing:
                        print(c[1], c[2])
        if not listing:
            print(n)
    elif len(argv) == 7 and argv[1] == "bomb":
        zstd = [c for c in fresh(argv[2], argv[3]) if c[5] == 1]
        if not zstd:
            raise SystemExit("no zstd chunk to replace")
        with open(argv[4], "rb") as f:
            pack = bytearray(f.read())
        for c in zstd:
            pack[c[3]:c[3] + c[4]] = frame(c[2], c[4], argv[6] != "1",
                                           argv[6] == "forge")
            print(*c[:6])
        with open(argv[5], "wb") as f:
            f.write(pack)
    else:
        sys.stderr.write(__doc__)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
