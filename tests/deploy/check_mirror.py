#!/usr/bin/env python3
"""check_mirror.py MIRROR - exit 1, naming each, if a channel's
manifest.json names a blob the mirror lacks (or holds at another size), or
a version before it that the mirror lacks: what a reader must never see.
Reads the payload without verifying it: the mirror's own files are tested,
not their signatures."""
import base64
import json
import os
import sys

root = sys.argv[1]
bad = []
chans = os.path.join(root, "channels")
for c in sorted(os.listdir(chans)) if os.path.isdir(chans) else []:
    path = os.path.join(chans, c, "manifest.json")
    if not os.path.exists(path):
        continue
    with open(path, "rb") as f:
        payload = json.loads(base64.b64decode(json.load(f)["payload"]))
    for a in payload["artifacts"]:
        blob = os.path.join(root, "blobs", "sha256", a["sha256"])
        if not os.path.isfile(blob) or os.path.getsize(blob) != a["size"]:
            bad.append(f"{c} version {payload['version']}: blob {a['sha256']} missing")
    for v in range(1, payload["version"] + 1):
        if not os.path.isfile(os.path.join(chans, c, f"{v}.json")):
            bad.append(f"{c} version {payload['version']}: {v}.json missing")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
