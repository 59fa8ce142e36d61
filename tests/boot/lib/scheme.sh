# tests/boot/lib/scheme.sh - reference renderers of doc/boot-scheme.md: the
# exact text the client writes for each loader.  Sourced.  Arguments are a
# version number, its kernel and initrd paths (relative to the slice's root,
# no leading slash), its command line and the title.

# grub_quote WORD : WORD in GRUB 2 single quotes (' becomes '\'').
grub_quote() {
	local q=\'\\\'\'
	printf "'%s'" "${1//\'/$q}"
}

# grub_words CMDLINE : each word quoted on its own; GRUB joins the words of
# `linux` with single spaces into the kernel's command line.
grub_words() {
	local w words out=
	read -ra words <<<"$1"
	for w in "${words[@]}"; do out="$out $(grub_quote "$w")"; done
	printf '%s' "${out# }"
}

# render_grub_entry ID TITLE KERNEL INITRD CMDLINE
render_grub_entry() {
	printf 'menuentry %s --id %s {\n' "$(grub_quote "$2")" "$(grub_quote "$1")"
	printf '\tlinux /%s %s\n' "$3" "$(grub_words "$5")"
	[ -n "$4" ] && printf '\tinitrd /%s\n' "$4"
	printf '}\n'
}

# render_grub_cfg CHANNEL TITLE NEW KERNEL INITRD CMDLINE [PREV KERNEL INITRD CMDLINE]
# boot/grub/grub.cfg: the new version first, the previous second, and the
# trial logic reading grubenv next to this file.
render_grub_cfg() {
	local ch=$1 title=$2 v=$3
	cat <<CFG
# boot/grub/grub.cfg - written by bootdrop-fetch: channel $ch, version $v
set timeout=0
set default=0
CFG
	if [ $# -gt 6 ]; then
		cat <<CFG
set fallback=1
# Trial boot: grubenv's bootdrop_trial=$v means not yet booted; boot it once,
# recorded as bootdrop_tried=$v, and the previous entry on every later boot
# until bootdrop-fetch --confirm clears both.  No record written, no trial.
if load_env -f "\${config_directory}/grubenv" bootdrop_trial bootdrop_tried; then
	if [ "\${bootdrop_trial}" = "$v" ]; then
		set bootdrop_trial=
		set bootdrop_tried=$v
		if save_env -f "\${config_directory}/grubenv" bootdrop_trial bootdrop_tried; then
			set default=0
		else
			set default=1
		fi
	elif [ "\${bootdrop_tried}" = "$v" ]; then
		set default=1
	fi
fi
CFG
	fi
	render_grub_entry "bootdrop-$ch-$v" "$title ($ch $v)" "$4" "$5" "$6"
	[ $# -gt 6 ] && render_grub_entry "bootdrop-$ch-$7" "$title ($ch $7, previous)" "$8" "$9" "${10}"
	return 0
}

# render_menu_lst ROOT CHANNEL TITLE NEW KERNEL INITRD CMDLINE [PREV KERNEL INITRD CMDLINE]
# boot/grub/menu.lst (legacy GRUB, as pvgrub reads it): falls back to the
# previous entry only when the new one fails to load.
render_menu_lst() {
	local root=$1 ch=$2 title=$3; shift 3
	printf '# boot/grub/menu.lst - written by bootdrop-fetch: channel %s, version %s\n' "$ch" "$1"
	printf 'default 0\ntimeout 0\n'
	[ $# -gt 4 ] && printf 'fallback 1\n'
	printf '\ntitle %s (%s %s)\n\troot %s\n\tkernel /%s %s\n' "$title" "$ch" "$1" "$root" "$2" "$4"
	[ -n "$3" ] && printf '\tinitrd /%s\n' "$3"
	if [ $# -gt 4 ]; then
		printf '\ntitle %s (%s %s, previous)\n\troot %s\n\tkernel /%s %s\n' "$title" "$ch" "$5" "$root" "$6" "$8"
		[ -n "$7" ] && printf '\tinitrd /%s\n' "$7"
	fi
	return 0
}

# bls_entry_name CHANNEL VERSION [TRIES] : loader/entries/ file name.
bls_entry_name() {
	printf 'bootdrop-%s-%s%s.conf' "$1" "$2" "${3:++$3}"
}

# render_bls_entry CHANNEL TITLE VERSION KERNEL INITRD CMDLINE
render_bls_entry() {
	printf 'title %s (%s %s)\n' "$2" "$1" "$3"
	printf 'sort-key bootdrop-%s\nversion %s\n' "$1" "$3"
	printf 'linux /%s\n' "$4"
	[ -n "$5" ] && printf 'initrd /%s\n' "$5"
	printf 'options %s\n' "$6"
}
