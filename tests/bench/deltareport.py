#!/usr/bin/python3
# tests/bench/deltareport.py RESULTS [FORMAT=SIZE ...] - the medians and
# ratios of tests/bench/delta.sh.  RESULTS has one line a transfer: "link
# tool format bytes requests connections seconds [delivered]" (delivered:
# what the proxy of a shaped link handed the client, "-" on loopback).  Prints, per link and
# format, the median of each column per tool, then bootdrop's delta against
# the better of zsync and casync (bytes: the fewer bytes; seconds: the
# faster) and against bootdrop's whole download, with issue 22's targets.
import statistics
import sys

TOOLS = ("full", "bootdrop", "zsync", "casync")
PEERS = ("zsync", "casync")
rows = {}
for line in open(sys.argv[1]):
    link, tool, f, b, n, c, t = line.split()[:7]
    d = line.split()[7:] or ["-"]
    d = -1 if d[0] == "-" else int(d[0])
    rows.setdefault((link, f, tool), []).append((int(b), int(n), int(c), float(t), d))
sizes = dict(a.split("=") for a in sys.argv[2:])


def med(key):
    r = rows.get(key)
    if not r:
        return None
    return tuple(statistics.median(x[i] for x in r) for i in range(5)) + (len(r),)


links = list(dict.fromkeys(k[0] for k in rows))
formats = list(dict.fromkeys(k[1] for k in rows))
print("%-8s %-10s %-9s %12s %8s %5s %9s %4s %12s" %
      ("link", "format", "tool", "bytes", "requests", "conns", "seconds", "runs", "delivered"))
for link in links:
    for f in formats:
        for tool in TOOLS:
            m = med((link, f, tool))
            if m:
                d = "-" if m[4] < 0 else "%d" % m[4]
                print("%-8s %-10s %-9s %12d %8d %5d %9.2f %4d %12s" % ((link, f, tool) + m[:4] + (m[5], d)))

print()
print("bootdrop delta against the better peer (targets: bytes <= 1.10x on tar and")
print("rs.tar.gz; seconds on the shaped link <= 1.05x; on tar.gz bytes <= 1.02x of full)")
for link in links:
    for f in formats:
        bd = med((link, f, "bootdrop"))
        if not bd:
            continue
        out = "%-8s %-10s" % (link, f)
        peers = [(p, med((link, f, p))) for p in PEERS if med((link, f, p))]
        if peers:
            pb = min(peers, key=lambda x: x[1][0])
            pt = min(peers, key=lambda x: x[1][3])
            rb, rt = bd[0] / pb[1][0], bd[3] / pt[1][3]
            out += " bytes %.2fx %-6s" % (rb, pb[0])
            if f != "tar.gz" and link == links[0]:
                out += "[%s]" % ("met" if rb <= 1.10 else "NOT met")
            out += " seconds %.2fx %-6s" % (rt, pt[0])
            if f != "tar.gz" and link == "shaped":
                out += "[%s]" % ("met" if rt <= 1.05 else "NOT met")
        full = med((link, f, "full"))
        if full:
            rf = bd[0] / full[0]
            out += " bytes/full %.3fx" % rf
            if f == "tar.gz":
                out += " [%s]" % ("met" if rf <= 1.02 else "NOT met")
            out += " seconds/full %.2fx" % (bd[3] / full[3])
        if f in sizes:
            out += " bytes/file %.3fx" % (bd[0] / int(sizes[f]))
        print(out)
