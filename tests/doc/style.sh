#!/bin/bash
# What STYLE.md and issue 20 measure, checked so that it cannot drift:
# - no production function (common/, client/, server/) is longer than 80
#   lines, except those named below with the reason;
# - no program replaces a libc function: the dynamic symbol tables of
#   bootdrop-server and bootdrop-fetch define no function (only glibc's
#   copy-relocated data such as stderr and optind).
. "$BOOTDROP_TESTLIB"
SRC=$BOOTDROP_SRCDIR

# name: why it may be long.  Parsers of command lines and formats read
# best as one table-like function; a linear main only sequences steps.
allowed="options_parse:bootdrop-fetch's option parser
parse_options:bootdrop-server's option parser
parse_args:bootdrop-publish's option parser
payload_parse:the manifest payload parser (one field after another)
envelope_parse:the manifest envelope parser
pending_parse:the intent record parser (one line kind after another)
manifest_payload_encode:the manifest payload encoder (one field after another)
main:the programs' linear mains (options, then the steps in order)"

python3 - "$SRC" "$allowed" >"$T/long.txt" <<'PY'
import glob, re, sys
src, allowed = sys.argv[1], dict(l.split(':', 1) for l in sys.argv[2].splitlines())
for f in sorted(glob.glob(src + '/common/*.c') + glob.glob(src + '/client/*.c') +
                glob.glob(src + '/server/*.c') + glob.glob(src + '/server/*/*.c')):
    lines = open(f).read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'^([A-Za-z_][A-Za-z0-9_]*)\(', lines[i])
        if m:
            j = i
            while j < len(lines) and lines[j] != '{' and not lines[j].endswith(';'):
                j += 1
            if j < len(lines) and lines[j] == '{':
                k = j
                while k < len(lines) and lines[k] != '}':
                    k += 1
                n = k - j + 1
                name = m.group(1)
                if n > 80:
                    rel = f[len(src) + 1:]
                    print(('allowed' if name in allowed else 'LONG') +
                          f' {n} {rel}:{i + 1} {name}')
                i = k
        i += 1
PY
cat "$T/long.txt"
if grep -q '^LONG' "$T/long.txt"; then
	fail "functions over 80 lines: $(grep '^LONG' "$T/long.txt" | cut -d' ' -f2- | tr '\n' ';')"
else
	ok "no function over 80 lines but the $(grep -c '^allowed' "$T/long.txt") named parsers and mains"
fi
[ "$(wc -l <"$T/long.txt")" -gt 0 ] || fail "the length check found no function at all over 80 lines (its parser is broken?)"

for prog in "$BOOTDROP_SERVER" "$BOOTDROP_FETCH"; do
	[ -n "$prog" ] || continue
	if ! nm -D "$prog" >/dev/null 2>&1; then
		ok "$(basename "$prog"): static, no dynamic symbols"
		continue
	fi
	defined=$(nm -D --defined-only "$prog" | awk '$2 ~ /^[TtWwi]$/ { print $3 }')
	expect_eq "$defined" "" "$(basename "$prog") defines no function in its dynamic symbol table"
done
finish
