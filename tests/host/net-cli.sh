#!/usr/bin/env bash
# azote-net's command line and start-up checks: every bad flag or unusable tap must stop it at
# once with exit status 2 and exactly one stderr line naming the problem; a good tap must be
# served until SIGTERM (exit 0, socket removed). Test interfaces live only in network
# namespaces the test makes (`unshare -n`): the host's interfaces are never touched.
#
# Usage: AZOTE=build/azote tests/host/net-cli.sh   (azote-net is looked up next to azote)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"
EXPECT_TIMEOUT=10

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
NET=${AZOTE_NET:-$(dirname "$AZOTE")/azote-net}
[ -x "$NET" ] || { tap_result "azote-net is built" "$NET missing: run make"; tap_done; }

W=$(mktemp -d "${TMPDIR:-/tmp}/azote-net-cli.XXXXXX")
trap 'rm -rf "$W"' EXIT
export NET W

expect_bad_input "no --tap" 'tap' -- "$NET" --socket "$W/s"
expect_bad_input "both --tap and --tap-fd" 'tap' -- "$NET" --socket "$W/s" --tap t0 --tap-fd 5
expect_bad_input "no socket" 'socket|fd' -- "$NET" --tap t0
expect_bad_input "both --socket and --fd" 'socket|fd' -- "$NET" --socket "$W/s" --fd 3 --tap t0
expect_bad_input "malformed --mac" 'mac' '52:54:00:12:34' -- "$NET" --socket "$W/s" --tap t0 --mac 52:54:00:12:34
expect_bad_input "--mac with a bad digit" 'mac' -- "$NET" --socket "$W/s" --tap t0 --mac 52:54:00:12:34:5g
expect_bad_input "multicast --mac" 'multicast' -- "$NET" --socket "$W/s" --tap t0 --mac 01:00:5e:00:00:01
expect_bad_input "all-zero --mac" 'zero' -- "$NET" --socket "$W/s" --tap t0 --mac 00:00:00:00:00:00
expect_bad_input "--mtu 67" 'mtu' '68' -- "$NET" --socket "$W/s" --tap t0 --mtu 67
expect_bad_input "--mtu 65536" 'mtu' -- "$NET" --socket "$W/s" --tap t0 --mtu 65536
expect_bad_input "--queue-pairs 0" 'queue-pairs' -- "$NET" --socket "$W/s" --tap t0 --queue-pairs 0
expect_bad_input "--queue-pairs 17" 'queue-pairs' -- "$NET" --socket "$W/s" --tap t0 --queue-pairs 17
expect_bad_input "--tap-fd not a list" 'tap-fd' -- "$NET" --socket "$W/s" --tap-fd 3,,4
expect_bad_input "--tap-fd that is not a tap" 'tap-fd 0' 'not an open tap' -- "$NET" --socket "$W/s" --tap-fd 0
expect_bad_input "unknown flag" 'bogus' -- "$NET" --bogus --tap t0
expect_bad_input "interface name too long" 'abcdefghijklmnopq' '15' -- \
    "$NET" --socket "$W/s" --tap abcdefghijklmnopq

if ! unshare -n true 2>/dev/null; then
    tap_skip "tap interfaces in a private network namespace" "unshare -n failed (needs root)"
    tap_done
fi

expect_bad_input "missing tap interface" 'aznet9' 'no such interface' 'ip tuntap add' -- \
    unshare -n "$NET" --socket "$W/s" --tap aznet9
expect_bad_input "a tun interface, not a tap" 'tun' 'not a tap' -- \
    unshare -n sh -c 'ip tuntap add aztun0 mode tun && exec "$NET" --socket "$W/s" --tap aztun0'
if setpriv --bounding-set -net_admin true 2>/dev/null; then
    expect_bad_input "tap of another user, without CAP_NET_ADMIN" 'aznet0' 'permission denied' -- \
        unshare -n sh -c 'ip tuntap add aznet0 mode tap multi_queue user 65534 &&
            exec setpriv --bounding-set -net_admin "$NET" --socket "$W/s" --tap aznet0'
else
    tap_skip "tap of another user, without CAP_NET_ADMIN" "setpriv cannot drop CAP_NET_ADMIN"
fi

# serve_until_term NAME LOG MODE ARGS...: make a tap (MODE: "multi_queue" or "") in a fresh
# namespace, serve it on $W/serve.sock, SIGTERM once the socket is there; prints
# "status=N socket=gone|left" and azote-net's log lines.
serve_until_term() {
    local mode=$1
    shift
    unshare -n bash -c '
        ip tuntap add aznet0 mode tap '"$mode"' || exit 9
        "$NET" --socket "$W/serve.sock" --tap aznet0 "$@" 2>"$W/serve.log" &
        pid=$!
        for i in $(seq 50); do [ -S "$W/serve.sock" ] && break; sleep 0.1; done
        kill -TERM "$pid"
        wait "$pid"
        echo "status=$?"
        [ -e "$W/serve.sock" ] && echo socket=left || echo socket=gone' _ "$@"
}

out=$(serve_until_term multi_queue --queue-pairs 4 --mac 52:54:00:12:34:56)
problems=()
[[ $out == *status=0* ]] || problems+=("$out")
[[ $out == *socket=gone* ]] || problems+=("socket left behind")
grep -q '4 queue pairs' "$W/serve.log" || problems+=("log: $(tr '\n' '|' <"$W/serve.log")")
tap_result "serves a multi-queue tap until SIGTERM" "${problems[@]}"

out=$(serve_until_term "" --queue-pairs 4)
problems=()
[[ $out == *status=0* ]] || problems+=("$out")
grep -q 'info: tap aznet0: made without multi_queue: one queue pair' "$W/serve.log" ||
    problems+=("log: $(tr '\n' '|' <"$W/serve.log")")
tap_result "a tap without multi_queue falls back to one queue pair" "${problems[@]}"

out=$("$NET" --help)
[[ $out == *--queue-pairs* && $out == *--tap-fd* ]] && tap_result "--help" ||
    tap_result "--help" "printed: $out"

tap_done
