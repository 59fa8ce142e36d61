#!/bin/bash
# Every refusal of a signed manifest, through `bootdrop-publish verify`:
# exit status 3 and a message that names the failure.  Envelopes are crafted
# with tests/craft_envelope.py and signed by the real minisign tool, so the
# checks after the signature (schema, paths, ranges) are really reached.
. "$BOOTDROP_TESTLIB"
cd "$T" || exit 1
command -v minisign >/dev/null || { echo "minisign not installed"; exit 77; }
C=freebsd-9.0-i386
CRAFT="python3 $BOOTDROP_SRCDIR/tests/craft_envelope.py"
OTHER_SEC=$TESTDATA/keys/minisign.key

make_kernel kernel i386
"$PUBLISH" release -r repo -c $C -s "$TEST_SEC" kernel=kernel >/dev/null || exit 1
M=repo/channels/$C/manifest.json
python3 -c 'import base64,json,sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["payload"]))' $M > payload
cp $M original.json

# edit EXPR : writes payload.edit = payload with a Python edit applied to p.
edit() {
	python3 -c 'import json,sys; p=json.load(open("payload")); exec(sys.argv[1]); open("payload.edit","w").write(json.dumps(p, indent=2)+"\n")' "$1"
}

# refuse DESC REGEX : installs envelope.json as the newest manifest and
# expects verify to refuse it with exit 3 and a message matching REGEX.
refuse() {
	cp envelope.json $M; cp envelope.json repo/channels/$C/1.json
	expect_status 3 "$1" "$PUBLISH" verify -r repo -c $C -p "$TEST_PUB" && expect_err "$2" "$1: message"
	cp original.json $M; cp original.json repo/channels/$C/1.json
}

$CRAFT envelope.json payload --key "$TEST_SEC"
cp envelope.json $M; cp envelope.json repo/channels/$C/1.json
expect_status 0 "a re-signed copy of the real payload verifies (the crafting works)" \
	"$PUBLISH" verify -r repo -c $C -p "$TEST_PUB"
cp original.json $M; cp original.json repo/channels/$C/1.json

$CRAFT envelope.json payload --key "$OTHER_SEC"
refuse "signed by an untrusted key" "untrusted key"

printf ' ' > extra; cat payload extra > payload.edit
$CRAFT envelope.json payload --key "$TEST_SEC"
python3 -c 'import base64,json; e=json.load(open("envelope.json")); e["payload"]=base64.b64encode(open("payload.edit","rb").read()).decode(); json.dump(e,open("envelope.json","w"))'
refuse "tampered payload" "signature verification failed"

$CRAFT envelope.json payload --key "$TEST_SEC"
python3 -c 'import json; e=json.load(open("envelope.json")); s=e["signatures"][0]; s["minisig"]=s["minisig"].replace("version=1","version=2"); json.dump(e,open("envelope.json","w"))'
refuse "tampered trusted comment" "trusted comment signature"

$CRAFT envelope.json payload --key "$TEST_SEC" --comment "bootdrop channel=$C version=99 expires=2099-01-01T00:00:00Z"
refuse "trusted comment and payload disagree" "disagrees"

sed '0,/"version": 1,/s//"version": 1, "version": 1,/' payload > payload.edit
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "duplicate JSON key" "duplicate|JSON"

edit 'p["extra"] = 1'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "unknown top-level field" "extra"
edit 'p["artifacts"][0]["comment"] = "x"'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "unknown artifact field" "comment"

for path in "../escape" "/etc/passwd" "boot//kernel" "boot/./kernel" "a/b/c/d/e/f/g/h/i" "" "boot/ker nel" "boot/.."; do
	edit "p['artifacts'][0]['install'] = '$path'"
	$CRAFT envelope.json payload.edit --key "$TEST_SEC"
	refuse "install path '$path'" "path not allowed"
done

edit 'p["artifacts"][0]["size"] = -1'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "negative size" "out of range"
edit 'p["artifacts"][0]["size"] = 2**41'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "size over 1 TiB" "out of range"
edit 'p["version"] = 0'
$CRAFT envelope.json payload.edit --key "$TEST_SEC" --comment "bootdrop channel=$C version=0 expires=$(python3 -c 'import json;print(json.load(open("payload"))["expires"])')"
refuse "version 0" "out of range"
edit 'p["version"] = 1.5'
$CRAFT envelope.json payload.edit --key "$TEST_SEC" --comment "bootdrop channel=$C version=1.5 expires=$(python3 -c 'import json;print(json.load(open("payload"))["expires"])')"
refuse "fractional version" "out of range|schema"

edit 'p["channel"] = "other"'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "manifest for another channel" "another channel"
edit 'p["type"] = "bootdrop-manifest/4"'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "unknown manifest type" "manifest type"
edit 'p["type"] = "bootdrop-manifest/1"; del p["prev"]; del p["keys"]'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "format 1 refused" "unknown manifest type.*bootdrop-manifest/1"
edit 'p["prev"] = "00" * 32'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "version 1 with a prev" "prev"
edit 'p["keys"]["threshold"] = 2'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "threshold above the number of keys" "threshold"
edit 'p["keys"]["pubkeys"] = ["RWQdBoUZJYaRO8sGHGMzFmQFKXf0r9dMQDIoLZ7OqheIO7sEHt7CyoGX"]'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "naming only a key that did not sign" "version 1: signed by 2CAFF7EB9129F435; no trusted key"
edit 'p["expires"] = "2001-01-01T00:00:00Z"; p["created"] = "2000-01-01T00:00:00Z"'
$CRAFT envelope.json payload.edit --key "$TEST_SEC"
refuse "expired manifest" "expired"

$CRAFT envelope.json payload --key "$TEST_SEC" --raw-payload "$(base64 -w0 payload | cut -c1-101)"
refuse "truncated base64 payload" "base64"

$CRAFT envelope.json payload --key "$TEST_SEC"
python3 -c 'import json; e=json.load(open("envelope.json")); e["padding"]=" "*(1<<20); json.dump(e,open("envelope.json","w"))'
refuse "oversized envelope (over 1 MiB)" "size limit"
finish
