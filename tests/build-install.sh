#!/bin/bash
# make install honours DESTDIR and --prefix: programs, example config, docs
# and the systemd user units land under DESTDIR/prefix, and the installed
# service starts the installed daemon.
. "$(dirname "$0")/lib.sh"

prefix=$(sed -n 's/^prefix = //p' "$top_builddir/Makefile")
bindir=$(cd "$top_builddir" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS ${MAKE:-make} -s --no-print-directory -f Makefile -f - print-bindir <<<'print-bindir: ; @echo $(bindir)' 2>/dev/null)
unitdir=$(cd "$top_builddir" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS ${MAKE:-make} -s --no-print-directory -f Makefile -f - print-unitdir <<<'print-unitdir: ; @echo $(systemduserunitdir)' 2>/dev/null)
check "prefix, bindir and unit dir known ($prefix, $bindir, $unitdir)" test -n "$prefix" -a -n "$bindir" -a -n "$unitdir"
case $unitdir in
"$prefix"/*) ok "unit dir is under the prefix" ;;
*) not_ok "unit dir $unitdir is not under the prefix $prefix" ;;
esac

D=$T/destdir
expect_rc 0 "make install DESTDIR=..." ${MAKE:-make} -C "$top_builddir" install DESTDIR="$D"
check "mailctld installed" test -x "$D$bindir/mailctld"
check "mailctl installed" test -x "$D$bindir/mailctl"
check "service unit installed" test -f "$D$unitdir/mailctld.service"
check "socket unit installed" test -f "$D$unitdir/mailctld.socket"
check "example config installed" test -n "$(find "$D$prefix" -name mailctl.example.json)"
check "service runs the installed daemon" grep -qx "ExecStart=$bindir/mailctld" "$D$unitdir/mailctld.service"
check "nothing installed outside DESTDIR/prefix" \
	test -z "$(find "$D" -type f ! -path "$D$prefix/*")"
check "the installed daemon runs" "$D$bindir/mailctld" --version

# --prefix=$HOME/.local puts the user units where systemctl --user looks.
if [ -x "$top_srcdir/configure" ]; then
	C=$T/configure-home
	mkdir -p "$C/daemon" "$C/docs" "$T/home"
	cp -r "$top_srcdir/configure" "$top_srcdir/Makefile.in" \
		"$top_srcdir/autoconf.h.in" "$top_srcdir/build-aux" "$C/"
	cp "$top_srcdir/daemon/main.c" "$C/daemon/"
	cp "$top_builddir/docs/mailctl.1" "$C/docs/" 2>/dev/null
	(cd "$C" && env -u XDG_DATA_HOME HOME="$T/home" ./configure -q \
		--prefix="$T/home/.local" >"$T/configure.out" 2>&1)
	# Expand the variable by hand: this tree's Makefile cannot rerun.
	homeunits=$(sed -n 's/^systemduserunitdir = //p' "$C/Makefile")
	homeunits=${homeunits//\$\{datarootdir\}/$(sed -n 's/^datarootdir = //p' "$C/Makefile")}
	homeunits=${homeunits//\$\{prefix\}/$(sed -n 's/^prefix = //p' "$C/Makefile")}
	check "--prefix=\$HOME/.local: units in ~/.local/share/systemd/user ($homeunits)" \
		test "$homeunits" = "$T/home/.local/share/systemd/user"
fi

# The man pages: installed into mandir, each rendering without a warning.
mandir=$(cd "$top_builddir" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS ${MAKE:-make} -s --no-print-directory -f Makefile -f - print-mandir <<<'print-mandir: ; @echo $(mandir)' 2>/dev/null)
for page in man1/mailctl.1 man8/mailctld.8 man5/mailctl.json.5; do
	f=$D$mandir/$page
	check "$page installed" test -s "$f"
	if command -v man >/dev/null; then
		warn=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >"$T/page.txt")
		check "$page renders without warnings${warn:+: $warn}" test -z "$warn"
		check "$page renders to text" grep -q "^NAME" "$T/page.txt"
	fi
done
# The shell completions, where each shell looks under the prefix.
bashcompdir=$(cd "$top_builddir" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS ${MAKE:-make} -s --no-print-directory -f Makefile -f - print-bashcompdir <<<'print-bashcompdir: ; @echo $(bashcompletiondir)' 2>/dev/null)
check "bash completion installed ($bashcompdir)" test -s "$D$bashcompdir/mailctl"
check "zsh completion installed" test -s "$D$prefix/share/zsh/site-functions/_mailctl"
check "fish completion installed" test -s "$D$prefix/share/fish/vendor_completions.d/mailctl.fish"
expect_rc 0 "make uninstall DESTDIR=..." ${MAKE:-make} -C "$top_builddir" uninstall DESTDIR="$D"
check "uninstall removes every file" test -z "$(find "$D" -type f)"
