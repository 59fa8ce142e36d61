#!/usr/bin/env python3
"""craft_envelope.py - builds manifest envelopes, good and bad, for tests.

usage: craft_envelope.py OUT PAYLOAD_FILE [--key SECFILE]... [--comment TC]
                         [--keyid HEX] [--raw-payload B64]

Each --key signs the payload bytes with the real minisign tool (unencrypted
keys only) and the trusted comment given (default: the one the payload
implies).  --keyid overrides the "keyid" field of the first signature;
--raw-payload puts B64 in "payload" verbatim (for truncated base64).
"""
import argparse, base64, json, os, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("payload")
ap.add_argument("--key", action="append", default=[])
ap.add_argument("--comment")
ap.add_argument("--keyid")
ap.add_argument("--raw-payload")
a = ap.parse_args()

payload = open(a.payload, "rb").read()
comment = a.comment
if comment is None:
    p = json.loads(payload)
    comment = "bootdrop channel=%s version=%s expires=%s" % (
        p["channel"], p["version"], p["expires"])

sigs = []
with tempfile.TemporaryDirectory() as d:
    msg = os.path.join(d, "payload")
    open(msg, "wb").write(payload)
    for k in a.key:
        subprocess.run(["minisign", "-S", "-s", k, "-m", msg, "-t", comment],
                       check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL)
        text = open(msg + ".minisig").read()
        raw = base64.b64decode(text.splitlines()[1])
        keyid = "%016X" % int.from_bytes(raw[2:10], "little")
        sigs.append({"keyid": keyid, "minisig": text})
if a.keyid and sigs:
    sigs[0]["keyid"] = a.keyid
env = {"payload": a.raw_payload if a.raw_payload is not None
       else base64.b64encode(payload).decode(), "signatures": sigs}
open(a.out, "w").write(json.dumps(env, indent=2) + "\n")
