#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# What `meson install` staged (run.sh: SHOAL_STAGE, SHOAL_STAGED_*):
#   1. exactly the expected files, nothing else;
#   2. the three programs run from there and answer --version;
#   3. the units start the staged programs on SYSCONFDIR/shoal/shoal.conf;
#   4. the example configuration is that file and passes both --check;
#   5. sysusers.d and tmpfiles.d entries apply (systemd-sysusers and
#      systemd-tmpfiles --root on a copy): group shoal, /run/shoal 0750
#      root:shoal, /var/lib/shoal 0750 root:root;
#   6. the bash completion completes shoalctl;
#   7. a second install keeps an edited configuration.
set -euo pipefail
S=$SHOAL_STAGE P=$SHOAL_PREFIX
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
rel() { echo "${1#"$S"}"; }

# 1. The list
expected=$(sort <<EOT
$(rel "$SHOAL_STAGED_SBINDIR")/shoal-engine
$(rel "$SHOAL_STAGED_SBINDIR")/shoal-ctld
$(rel "$SHOAL_STAGED_BINDIR")/shoalctl
$(rel "$SHOAL_STAGED_SYSCONFDIR")/shoal/shoal.conf
$(rel "$SHOAL_STAGED_DATADIR")/doc/shoal/examples/shoal.conf
$(rel "$SHOAL_STAGED_DATADIR")/bash-completion/completions/shoalctl
$(rel "$SHOAL_STAGED_MANDIR")/man1/shoalctl.1
$(rel "$SHOAL_STAGED_MANDIR")/man5/shoal.conf.5
$(rel "$SHOAL_STAGED_MANDIR")/man8/shoal-ctld.8
$(rel "$SHOAL_STAGED_MANDIR")/man8/shoal-engine.8
$(rel "$SHOAL_STAGED_UNITDIR")/shoal-ctld.service
$(rel "$SHOAL_STAGED_UNITDIR")/shoal-engine.service
$(rel "$SHOAL_STAGED_SYSUSERSDIR")/shoal.conf
$(rel "$SHOAL_STAGED_TMPFILESDIR")/shoal.conf
EOT
)
got=$(cd "$S" && find . -type f -o -type l | sed 's|^\.||' | sort)
if [ "$got" != "$expected" ]; then
	diff <(echo "$expected") <(echo "$got") | sed 's/^/  /'
	fail "staged files differ from the expected list (< expected, > staged)"
fi
echo "$got" | sed 's/^/  /'
ok "$(echo "$got" | wc -l) files, as expected"

# 2. --version
version=$(meson introspect "$SHOAL_BUILD" --projectinfo | jq -r .version)
for p in "$SHOAL_STAGED_SBINDIR/shoal-engine" "$SHOAL_STAGED_SBINDIR/shoal-ctld" \
	"$SHOAL_STAGED_BINDIR/shoalctl"; do
	[ -x "$p" ] || fail "$p not executable"
	out=$("$p" --version) || fail "$p --version: exit $?"
	[[ $out == "$(basename "$p") $version"* ]] || fail "$p --version: '$out'"
	ok "$out"
done

# 3. The units' commands
conf=$(rel "$SHOAL_STAGED_SYSCONFDIR")/shoal/shoal.conf
for prog in shoal-engine shoal-ctld; do
	unit=$SHOAL_STAGED_UNITDIR/$prog.service
	want="$(rel "$SHOAL_STAGED_SBINDIR")/$prog -c $conf"
	grep -qx "ExecStart=$want" "$unit" || fail "$unit: no 'ExecStart=$want'"
	grep -qx "ExecReload=/bin/kill -HUP \$MAINPID" "$unit" || fail "$unit: ExecReload"
	grep -qx "Type=notify" "$unit" || fail "$unit: Type"
	ok "$prog.service: ExecStart=$want"
done
grep -q '^After=.*shoal-ctld.service.*dev-hugepages.mount' \
	"$SHOAL_STAGED_UNITDIR/shoal-engine.service" ||
	fail "shoal-engine.service: not after shoal-ctld and the hugepages"

# 4. The configuration
cmp -s "$S$conf" "$SHOAL_STAGED_DATADIR/doc/shoal/examples/shoal.conf" ||
	fail "$conf is not the example"
"$SHOAL_STAGED_SBINDIR/shoal-engine" --check -c "$S$conf" >/dev/null
"$SHOAL_STAGED_SBINDIR/shoal-ctld" --check -c "$S$conf" >/dev/null
ok "$conf passes shoal-engine --check and shoal-ctld --check"

# 5. sysusers.d and tmpfiles.d, applied to a copy of the stage
copy=$(mktemp -d "${TMPDIR:-/tmp}/shoal-install-root.XXXXXX")
trap 'rm -rf "$copy"' EXIT
cp -a "$S/." "$copy/"
mkdir -p "$copy/etc"
systemd-sysusers --root="$copy" >/dev/null 2>&1 || fail "systemd-sysusers --root"
gid=$(awk -F: '$1 == "shoal" { print $3 }' "$copy/etc/group")
[ -n "$gid" ] || fail "sysusers.d: no group shoal"
systemd-tmpfiles --root="$copy" --create || fail "systemd-tmpfiles --root --create"
[ "$(stat -c '%a %u %g' "$copy/run/shoal")" = "750 0 $gid" ] ||
	fail "/run/shoal: $(stat -c '%a %u %g' "$copy/run/shoal"), want 750 0 $gid"
[ "$(stat -c '%a %u %g' "$copy/var/lib/shoal")" = "750 0 0" ] ||
	fail "/var/lib/shoal: $(stat -c '%a %u %g' "$copy/var/lib/shoal")"
ok "sysusers: group shoal ($gid); tmpfiles: /run/shoal 750 root:shoal, /var/lib/shoal 750 root:root"

# 6. Completion (bash-completion loads completions/NAME for NAME)
words=$(bash -c '. "$1"; COMP_WORDS=(shoalctl le); COMP_CWORD=1; COMP_LINE="shoalctl le"
	COMP_POINT=${#COMP_LINE}; f=$(complete -p shoalctl | sed -E "s/.*-F ([^ ]+).*/\1/")
	"$f" shoalctl le shoalctl; echo "${COMPREPLY[*]}"' _ \
	"$SHOAL_STAGED_DATADIR/bash-completion/completions/shoalctl")
[ "$words" = "lease" ] || fail "completion of 'shoalctl le': '$words'"
ok "completion: 'shoalctl le' -> $words"

# 7. A reinstall keeps the operator's configuration
echo "; edited by tests/install" >>"$S$conf"
meson install -C "$SHOAL_BUILD" --destdir "$S" --no-rebuild >"$copy/reinstall.log" 2>&1 ||
	{ cat "$copy/reinstall.log"; fail "second meson install"; }
grep -q "edited by tests/install" "$S$conf" || fail "a reinstall overwrote $conf"
sed -i '/edited by tests\/install/d' "$S$conf"
ok "a second install keeps the edited $conf"
