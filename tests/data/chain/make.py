#!/usr/bin/env python3
"""make.py - regenerates the golden chain of tests/data/chain.

Five versions of channel "chain-test", payload format 2, each signed by the
real minisign tool (through tests/craft_envelope.py) with the committed
keys A = keys/test, B = keys/minisign, C = keys/backup:

  version  keys (threshold)   signed by  what it shows
  1        A (1)              A          the first version signs itself
  2        A (1)              A          unchanged keys; expired in 2001
  3        A B C (2)          A B        rotation: old 1 of A, new 2 of ABC
  4        B C (1)            B C        A revoked: old 2 of ABC, new 1 of BC
  5        B C (1)            B          a refresh by the new keys alone

Writes <n>.payload (the exact payload bytes) and <n>.json (the envelope).
tests/unit/test_manifest.c verifies this chain, signs the same payloads
with bootdrop and checks those too.  Run from anywhere:
  python3 tests/data/chain/make.py
"""
import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
CRAFT = os.path.join(os.path.dirname(DATA), "craft_envelope.py")


def pub(name):
    with open(os.path.join(DATA, "keys", name + ".pub")) as f:
        return f.read().splitlines()[1]


def sec(name):
    return os.path.join(DATA, "keys", name + ".key")


A, B, C = "test", "minisign", "backup"
VERSIONS = [
    # (keys, threshold, signers, created, expires)
    ([A], 1, [A], "2000-01-01T00:00:00Z", "2099-12-31T00:00:00Z"),
    ([A], 1, [A], "2000-12-01T00:00:00Z", "2001-01-01T00:00:00Z"),
    ([A, B, C], 2, [A, B], "2001-02-01T00:00:00Z", "2099-12-31T00:00:00Z"),
    ([B, C], 1, [B, C], "2001-03-01T00:00:00Z", "2099-12-31T00:00:00Z"),
    ([B, C], 1, [B], "2001-04-01T00:00:00Z", "2099-12-31T00:00:00Z"),
]


def main():
    prev = None
    for n, (keys, t, signers, created, expires) in enumerate(VERSIONS, 1):
        payload = {
            "type": "bootdrop-manifest/2",
            "channel": "chain-test",
            "version": n,
            "prev": prev,
            "keys": {"threshold": t, "pubkeys": [pub(k) for k in keys]},
            "created": created,
            "expires": expires,
            "artifacts": [{
                "name": "kernel", "kind": "kernel", "size": 5242880,
                "sha256": hashlib.sha256(b"kernel %d" % n).hexdigest(),
                "install": "boot/kernel",
                "elf": {"class": 32, "machine": "i386", "xen": True}}],
            "boot": {"loader": "pvgrub", "arch": "i386",
                     "menu_lst": "timeout 5\n"},
        }
        data = json.dumps(payload, indent=2).encode() + b"\n"
        path = os.path.join(HERE, "%d.payload" % n)
        with open(path, "wb") as f:
            f.write(data)
        args = [sys.executable, CRAFT, os.path.join(HERE, "%d.json" % n), path]
        for k in signers:
            args += ["--key", sec(k)]
        subprocess.run(args, check=True)
        prev = hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    main()
