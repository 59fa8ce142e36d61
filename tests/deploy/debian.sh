#!/bin/bash
# deploy/mkdeb.sh builds bootdrop-publish, bootdrop-server and
# bootdrop-fetch .debs that lintian passes with no error; unpacked into a
# scratch root, the installed programs make a key, publish, serve, fetch
# and mirror.
. "$BOOTDROP_TESTLIB"
. "$BOOTDROP_SRCDIR/tests/fetch/common.sh"
command -v dpkg-buildpackage >/dev/null || { echo "dpkg-buildpackage not installed"; exit 77; }

TMPDIR=$T expect_status 0 "mkdeb.sh" "$BOOTDROP_SRCDIR/deploy/mkdeb.sh" "$T/deb" ||
	{ tail -n 30 "$T/last.out" "$T/last.err"; finish; }
for p in publish server fetch; do
	compgen -G "$T/deb/bootdrop-${p}_*.deb" >/dev/null && ok "bootdrop-$p package built" || fail "no bootdrop-$p .deb"
done
expect_status 0 "lintian: no errors" lintian --fail-on error "$T"/deb/*.changes ||
	cat "$T/last.out"

for d in "$T"/deb/bootdrop-{publish,server,fetch}_*.deb; do dpkg -x "$d" "$T/root"; done
R=$T/root
version=$(sed -n "s/^ *version : '\([^']*\)',*$/\1/p" "$BOOTDROP_SRCDIR/meson.build" | head -n 1)
for p in bootdrop-publish bootdrop-server bootdrop-fetch bootdrop-mirror; do
	[ "$("$R/usr/bin/$p" --version)" = "$p $version" ] && "$R/usr/bin/$p" --help >/dev/null 2>&1 &&
		ok "/usr/bin/$p: --version and --help" || fail "/usr/bin/$p does not run"
done
grep -qx 'ExecStart=/usr/bin/bootdrop-server .*' "$R/lib/systemd/system/bootdrop-server.service" &&
	ok "unit in /lib/systemd/system runs /usr/bin/bootdrop-server" || fail "unit"
grep -qx 'procname="/usr/bin/bootdrop-server"' "$R/usr/share/bootdrop/rc.d/bootdrop_server" &&
	ok "rc.d script in /usr/share/bootdrop/rc.d" || fail "rc.d script"
# The settings file: shipped commented as a conffile, and each variable
# reaches the server through the unit's ExecStart as systemd expands it
# ("${VAR}" one word, "$VAR" split on white space).
def=$R/etc/default/bootdrop-server
[ -f "$def" ] && ! grep -q '^[^#]' "$def" &&
	ok "/etc/default/bootdrop-server shipped, every setting commented" || fail "no commented $def"
for v in BOOTDROP_REPO BOOTDROP_LISTEN BOOTDROP_PUBKEY BOOTDROP_OPTS; do
	grep -q "^#$v=" "$def" && ok "$def documents $v" || fail "$def lacks $v"
done
dpkg-deb -I "$T"/deb/bootdrop-server_*.deb conffiles 2>/dev/null | grep -qx /etc/default/bootdrop-server &&
	ok "/etc/default/bootdrop-server is a conffile" || fail "not a conffile"
# exec_line UNIT ENVFILE : the unit's ExecStart with its Environment= and
# ENVFILE's settings substituted as systemd does, one argument per line.
exec_line() {
	python3 - "$1" "$2" <<'PY'
import re, shlex, sys
unit, envfile = sys.argv[1], sys.argv[2]
env, cmd = {}, None
for line in open(unit):
    line = line.strip()
    if line.startswith("Environment="):
        for a in shlex.split(line[len("Environment="):]):
            k, _, v = a.partition("=")
            env[k] = v
    elif line.startswith("ExecStart="):
        cmd = line[len("ExecStart="):]
for line in open(envfile):
    line = line.strip()
    if line and not line.startswith("#"):
        k, _, v = line.partition("=")
        env[k] = v
out = []
for w in shlex.split(cmd):
    m = re.fullmatch(r"\$\{(\w+)\}", w)
    if m:
        out.append(env.get(m.group(1), ""))
        continue
    m = re.fullmatch(r"\$(\w+)", w)
    if m:
        out.extend(env.get(m.group(1), "").split())
        continue
    out.append(w)
print("\n".join(out))
PY
}
grep -q 'include /usr/share/bootdrop/nginx/bootdrop-repo.conf;' "$R/usr/share/bootdrop/nginx/bootdrop.conf" &&
	ok "nginx rules in /usr/share/bootdrop/nginx" || fail "nginx rules"

# The installed programs do the job end to end.
cd "$T" || exit 1
expect_status 0 "installed keygen" "$R/usr/bin/bootdrop-publish" keygen -W -p k.pub -s k.key
make_kernel "$T/kernel"
make_world "$T/world.tgz" 1
expect_status 0 "installed release" "$R/usr/bin/bootdrop-publish" release -r repo -c "$CH" \
	-s k.key kernel=kernel world=world.tgz
SERVER=$R/usr/bin/bootdrop-server start_server "$T/repo" || { fail "installed server did not start"; finish; }
fresh_dest
expect_status 0 "installed fetch" "$R/usr/bin/bootdrop-fetch" -p k.pub -c "$CH" -d "$T/dest" "$url"
cmp -s "$T/dest/world.tgz" world.tgz && ok "world installed byte for byte" || fail "world differs"
expect_status 0 "installed bootdrop-mirror" "$R/usr/bin/bootdrop-mirror" -q repo mirror
cmp -s repo/channels/$CH/manifest.json mirror/channels/$CH/manifest.json && ok "mirror made" ||
	fail "mirror differs"

# The unit's command line, from a filled-in settings file: BOOTDROP_OPTS
# words reach the server (its access log is written where they say).
port=$(free_port)
sed -e "s|^#BOOTDROP_REPO=.*|BOOTDROP_REPO=$T/repo|" -e "s|^#BOOTDROP_LISTEN=.*|BOOTDROP_LISTEN=127.0.0.1:$port|" \
	-e "s|^#BOOTDROP_OPTS=.*|BOOTDROP_OPTS=--access-log $T/unit.access --max-connections 7|" "$def" >"$T/settings"
mapfile -t argv < <(exec_line "$R/lib/systemd/system/bootdrop-server.service" "$T/settings")
[ "${argv[0]}" = /usr/bin/bootdrop-server ] && argv[0]=$R/usr/bin/bootdrop-server
expect_eq "${argv[*]:1}" "-r $T/repo -l 127.0.0.1:$port --access-log $T/unit.access --max-connections 7" \
	"ExecStart with the settings file: BOOTDROP_OPTS split into options"
"${argv[@]}" >"$T/unit.out" 2>&1 &
_bd_pids+=($!)
for _ in $(seq 100); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/channels/$CH/manifest.json" && break
	sleep 0.05
done
for _ in $(seq 40); do [ -s "$T/unit.access" ] && break; sleep 0.05; done
grep -q "manifest.json" "$T/unit.access" 2>/dev/null &&
	ok "the server started from the unit's line logs where BOOTDROP_OPTS said" ||
	fail "no access log from BOOTDROP_OPTS: $(cat "$T/unit.out")"

# bootdrop-confirm ships with bootdrop-fetch: the unit, its settings file
# (a conffile, every setting commented) and the rc.d script; the unit's
# line from a filled-in settings file confirms the slice fetched above.
cdef=$R/etc/default/bootdrop-confirm
[ -f "$cdef" ] && ! grep -q '^[^#]' "$cdef" &&
	ok "/etc/default/bootdrop-confirm shipped, every setting commented" || fail "no commented $cdef"
dpkg-deb -I "$T"/deb/bootdrop-fetch_*.deb conffiles 2>/dev/null | grep -qx /etc/default/bootdrop-confirm &&
	ok "/etc/default/bootdrop-confirm is a conffile of bootdrop-fetch" || fail "not a conffile"
grep -q '/usr/bin/bootdrop-fetch --confirm' "$R/usr/share/bootdrop/rc.d/bootdrop_confirm" &&
	ok "rc.d script bootdrop_confirm runs /usr/bin/bootdrop-fetch --confirm" || fail "rc.d bootdrop_confirm"
sed -e "s|^#BOOTDROP_CHANNEL=.*|BOOTDROP_CHANNEL=$CH|" \
	-e "s|^#BOOTDROP_CONFIRM_DEST=.*|BOOTDROP_CONFIRM_DEST=-d $T/dest|" "$cdef" >"$T/csettings"
mapfile -t argv < <(exec_line "$R/lib/systemd/system/bootdrop-confirm.service" "$T/csettings")
expect_eq "${argv[*]}" "/usr/bin/bootdrop-fetch --confirm -c $CH -d $T/dest" \
	"bootdrop-confirm's ExecStart with the settings file"
argv[0]=$R/usr/bin/bootdrop-fetch
expect_status 0 "the confirm unit's command on the fetched slice" "${argv[@]}"
mapfile -t argv < <(exec_line "$R/lib/systemd/system/bootdrop-confirm.service" /dev/null)
expect_eq "${argv[*]:4}" "-d /boot" "bootdrop-confirm confirms -d /boot by default"

finish
