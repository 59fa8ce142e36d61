#!/usr/bin/env python3
"""craft.py - make manifests bootdrop-publish would refuse to make.

  craft.py resign ENV KEY[,KEY...] OUT [--set PATH=JSON ...] [--del PATH ...]
      decode ENV's payload, change fields (PATH like artifacts.0.install,
      value as JSON), sign the new payload bytes with minisign and each
      KEY (trusted comment from the payload) and write the envelope to OUT
  craft.py tamper-payload ENV OUT     change one payload byte, keep signatures
  craft.py tamper-comment ENV OUT     change the trusted comment, keep the
                                      global signature
Python 3 standard library and the minisign tool only.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile


def load(path):
    with open(path) as f:
        return json.load(f)


def save(env, path):
    with open(path, "w") as f:
        json.dump(env, f, indent=2)
        f.write("\n")


def walk(obj, path):
    keys = path.split(".")
    for k in keys[:-1]:
        obj = obj[int(k)] if isinstance(obj, list) else obj[k]
    last = keys[-1]
    return obj, int(last) if isinstance(obj, list) else last


def keyid_of(minisig):
    raw = base64.b64decode(minisig.splitlines()[1])
    return raw[2:10][::-1].hex().upper()


def resign(envpath, key, out, edits):
    env = load(envpath)
    payload = json.loads(base64.b64decode(env["payload"]))
    for op, arg in edits:
        if op == "--set":
            path, value = arg.split("=", 1)
            obj, k = walk(payload, path)
            obj[k] = json.loads(value)
        else:
            obj, k = walk(payload, arg)
            del obj[k]
    data = json.dumps(payload, indent=2).encode() + b"\n"
    comment = "bootdrop channel=%s version=%d expires=%s" % (
        payload["channel"], payload["version"], payload["expires"])
    sigs = []
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "payload")
        with open(p, "wb") as f:
            f.write(data)
        for k in key.split(","):
            subprocess.run(["minisign", "-S", "-s", k, "-m", p, "-t",
                            comment], check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL)
            with open(p + ".minisig") as f:
                sig = f.read()
            sigs.append({"keyid": keyid_of(sig), "minisig": sig})
    env = {"payload": base64.b64encode(data).decode(), "signatures": sigs}
    save(env, out)


def tamper_payload(envpath, out):
    env = load(envpath)
    data = bytearray(base64.b64decode(env["payload"]))
    i = data.index(b'"version": ') + len(b'"version": ')
    data[i] = ord("9") if data[i] != ord("9") else ord("8")
    env["payload"] = base64.b64encode(bytes(data)).decode()
    save(env, out)


def tamper_comment(envpath, out):
    env = load(envpath)
    lines = env["signatures"][0]["minisig"].split("\n")
    lines[2] = lines[2].replace("expires=", "expires=2")[:-1]
    env["signatures"][0]["minisig"] = "\n".join(lines)
    save(env, out)


def main(argv):
    if len(argv) >= 4 and argv[0] == "resign":
        edits = list(zip(argv[4::2], argv[5::2]))
        return resign(argv[1], argv[2], argv[3], edits)
    if len(argv) == 3 and argv[0] == "tamper-payload":
        return tamper_payload(argv[1], argv[2])
    if len(argv) == 3 and argv[0] == "tamper-comment":
        return tamper_comment(argv[1], argv[2])
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
