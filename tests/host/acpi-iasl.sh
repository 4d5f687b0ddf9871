#!/bin/sh
# Check azote's ACPI tables with ACPICA's own tools: every table must disassemble cleanly with
# `iasl -d`, and the DSDT must recompile without a diagnostic into the very same AML bytes.
# The tables come from the unit test binary in dump mode (AZOTE_ACPI_DUMP_DIR). TAP output.
set -u

BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.." || exit 1

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok - $1"
}
not_ok() {
	n=$((n + 1))
	failed=1
	echo "not ok - $1"
	[ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/# /' "$2"
}
finish() {
	echo "1..$n"
	exit "$failed"
}

if ! command -v iasl >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q acpica-tools >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q acpica-tools >/dev/null 2>&1; }
fi
if ! command -v iasl >/dev/null 2>&1; then
	echo "ok - acpi tables vs iasl # SKIP iasl (acpica-tools) not installed"
	finish
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# `make test` has built the unit tests already; build it only when run on its own.
bin=$BUILD/tests/test_acpi
if [ ! -x "$bin" ] && ! make -s --no-print-directory BUILD="$BUILD" "$bin" >"$tmp/make.log" 2>&1
then
	not_ok "build $bin" "$tmp/make.log"
	finish
fi
if AZOTE_ACPI_DUMP_DIR=$tmp "$bin" >"$tmp/dump.log" 2>&1 && [ -s "$tmp/dsdt.dat" ]; then
	ok "dump tables"
else
	not_ok "dump tables" "$tmp/dump.log"
	finish
fi

# iasl writes name.dsl next to name.dat; it exits 0 even for some table errors, so its
# messages are checked too.
for t in dsdt facp apic xsdt facs; do
	if (cd "$tmp" && iasl -d "$t.dat") >"$tmp/$t.log" 2>&1 && [ -s "$tmp/$t.dsl" ] &&
		! grep -qiE 'error|warning|invalid|unknown' "$tmp/$t.log" "$tmp/$t.dsl"; then
		ok "iasl -d $t"
	else
		not_ok "iasl -d $t" "$tmp/$t.log"
	fi
done

# -oa: no optimisations, so iasl encodes names exactly as written (e.g. keeps "\_SB").
if (cd "$tmp" && iasl -oa -p recompiled dsdt.dsl) >"$tmp/asl.log" 2>&1 &&
	grep -q '0 Errors, 0 Warnings, 0 Remarks' "$tmp/asl.log"; then
	ok "DSDT recompiles without diagnostics"
else
	not_ok "DSDT recompiles without diagnostics" "$tmp/asl.log"
fi
# The 36-byte headers differ (checksum, compiler id); the AML bodies must not.
if [ -f "$tmp/recompiled.aml" ] &&
	cmp -s "$tmp/dsdt.dat" "$tmp/recompiled.aml" 36 36 2>/dev/null &&
	[ "$(wc -c <"$tmp/dsdt.dat")" = "$(wc -c <"$tmp/recompiled.aml")" ]; then
	ok "DSDT AML round-trips through iasl byte for byte"
else
	not_ok "DSDT AML round-trips through iasl byte for byte"
fi
finish
