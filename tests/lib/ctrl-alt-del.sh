# shellcheck shell=bash
# check_ctrl_alt_del SEND AZOTE-ARGS...: the real-guest check of Ctrl+Alt+Del through the i8042
# (Firecracker's PUT /actions {"action_type": "SendCtrlAltDel"}), for an integration test that
# sources tests/lib/tap.sh and this file.
#
# Starts "$AZOTE" AZOTE-ARGS... in the background with a guest that idles after init (the
# caller's --cmdline must run `sleep 600` through azote_run, e.g.
#   --cmdline "console=ttyS0 quiet azote_run=\"sleep 600\""),
# waits for AZOTE-GUEST-READY, then runs the shell command SEND (e.g. a curl to the API socket)
# until it succeeds (the keyboard may not be up yet), at most 20 tries a second apart.
# Passes when the guest's kernel restarts ("reboot: Restarting system" on the console, printed
# even with `quiet`) and azote exits 0 within 30 s. One TAP result line.
check_ctrl_alt_del() {
    local send=$1 out err vm status='' rc sent=0 problems=()
    shift
    out=$(mktemp) err=$(mktemp)
    "$AZOTE" "$@" </dev/null >"$out" 2>"$err" &
    vm=$!
    for _ in $(seq 300); do grep -q AZOTE-GUEST-READY "$out" 2>/dev/null && break; sleep 0.3; done
    for _ in $(seq 20); do
        sh -c "$send" >/dev/null 2>&1 && { sent=1; break; }
        sleep 1
    done
    for _ in $(seq 300); do kill -0 $vm 2>/dev/null || break; sleep 0.1; done
    kill -0 $vm 2>/dev/null && { status=hung; kill -KILL $vm; }
    wait $vm
    rc=$?
    [ -n "$status" ] || status=$rc
    tap_indent "    | " <"$out"
    tap_indent "    stderr| " <"$err"
    grep -q AZOTE-GUEST-READY "$out" || problems+=("the guest never reached init")
    [ "$sent" = 1 ] || problems+=("'$send' never succeeded")
    tr -d '\r' <"$out" | grep -q 'reboot: Restarting system' ||
        problems+=("the guest did not restart")
    [ "$status" = 0 ] || problems+=("exit status $status within 30 s, expected 0")
    rm -f "$out" "$err"
    tap_result "Ctrl+Alt+Del: the guest reboots and azote exits 0" "${problems[@]}"
}
