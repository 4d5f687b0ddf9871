# shellcheck shell=bash
# lab_boot CMD...: run one VMM boot with stdin from /dev/null, stdout in $OUT, stderr in $ERR,
# status in $STATUS, limited to $BOOT_TIMEOUT seconds.
#
# In the lab (nested KVM on a TCG machine), a guest kernel now and then stops early in boot,
# before init, when the host is loaded; QEMU microvm does it the same way there, so it is
# the lab's, not the VMM's. Such a boot (timed out, and AZOTE-GUEST-READY never printed) is
# run once more, and the retry is said in the output. Any other failure counts at once.
lab_boot() {
    local attempt
    for attempt in 1 2; do
        timeout -k 10 "$BOOT_TIMEOUT" "$@" </dev/null >"$OUT" 2>"$ERR"
        STATUS=$?
        if [ "$STATUS" != 124 ] || grep -q AZOTE-GUEST-READY "$OUT" || [ "$attempt" = 2 ]; then
            return
        fi
        echo "#   the guest stopped before init (a known lab hang, QEMU too); retrying once:"
        tap_indent "    first try| " <"$OUT"
        tap_indent "    first try stderr| " <"$ERR"
    done
}

# vm_boot WHAT CMD...: say what boots, run it with lab_boot, show its console and stderr
# indented (so nothing a guest prints can pass for a result line), and keep a copy of the
# console without carriage returns in $OUT.txt.
vm_boot() {
    echo "# boot: $1"
    shift
    echo "#   $*"
    lab_boot "$@"
    tr -d '\r' <"$OUT" >"$OUT.txt"
    tap_indent "    | " <"$OUT"
    tap_indent "    stderr| " <"$ERR"
    echo "#   exit status $STATUS"
}
