#!/usr/bin/env bash
# The device processes' sandbox, seen from outside through /proc: azote-blk and azote-net,
# started standalone (--socket), must serve with no_new_privs, no capability in any set, their
# own mount/net/IPC/UTS namespaces, an empty root (no /dev/kvm, no image by path) and only the
# fds they need; a self-test hook has them try /dev/kvm and their image by path from inside.
# Unprivileged, they make a user namespace; where the kernel refuses one, one warning line and
# the privileges still go. The tap lives in a network namespace the test makes (`ip netns
# add`): the host's interfaces are never touched.
#
# Usage: AZOTE=build/azote tests/host/card-sandbox.sh   (the cards are looked up next to azote)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
BLK=$(dirname "$AZOTE")/azote-blk
NET=$(dirname "$AZOTE")/azote-net
[ -x "$BLK" ] && [ -x "$NET" ] || { tap_result "the cards are built" "$BLK or $NET missing: run make"; tap_done; }

W=$(mktemp -d "${TMPDIR:-/tmp}/azote-card-sandbox.XXXXXX")
NS=azsb$$
cleanup() {
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
chmod 755 "$W"
truncate -s 16M "$W/disk.img"

# launch.py [--tap NAME N] KEEP... -- CMD...: run CMD with only fds 0-2 and KEEP open (a card
# must not rely on what a shell happens to leak); --tap opens N queues of tap NAME at fds
# 5, 6, ... first, the way azote does.
cat >"$W/launch.py" <<'EOF'
import fcntl, os, struct, sys
args = sys.argv[1:]
keep = set()
if args[0] == "--tap":
    name, n = args[1], int(args[2])
    args = args[3:]
    for i in range(n):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        # IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE
        fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", name.encode(), 0x0002 | 0x1000 | 0x4000 | 0x0100))
        os.dup2(fd, 5 + i)
        os.close(fd)
        keep.add(5 + i)
while args[0] != "--":
    keep.add(int(args.pop(0)))
args.pop(0)
for fd in range(3, 1024):
    if fd not in keep:
        try:
            os.close(fd)
        except OSError:
            pass
for fd in keep:
    os.set_inheritable(fd, True)
os.execvp(args[0], args)
EOF

# wait_card PID SOCKET: the sandboxed half's pid (the child of the one started, which stays
# outside to remove the socket at exit), once the socket is there; empty if it never is.
wait_card() {
    local i child
    for i in $(seq 100); do
        child=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
        if [ -S "$2" ] && [ -n "$child" ] && grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/${child%% *}/status" 2>/dev/null; then
            echo "${child%% *}"
            return
        fi
        kill -0 "$1" 2>/dev/null || return
        sleep 0.1
    done
}

# What a process's fds are, sorted: paths, "socket", "pipe", or the anon inode's kind.
fd_kinds() {
    local f l
    for f in /proc/"$1"/fd/*; do
        l=$(readlink "$f") || continue
        case $l in
        socket:*) echo socket ;;
        pipe:*) echo pipe ;;
        anon_inode:*) echo "${l#anon_inode:}" ;;
        *) echo "$l" ;;
        esac
    done | LC_ALL=C sort | tr '\n' ' '
}
sorted() { printf '%s\n' "$@" | LC_ALL=C sort | tr '\n' ' '; }

# sandbox_problems PID WANT_FDS: what is wrong with the card's sandbox, one line each.
sandbox_problems() {
    local pid=$1 want=$2 st=/proc/$1/status c n got
    grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || echo "$(grep NoNewPrivs "$st"), expected 1"
    for c in CapEff CapPrm CapInh CapBnd CapAmb; do
        grep -Eq "^$c:[[:space:]]*0+$" "$st" || echo "$(grep "^$c" "$st"), expected none"
    done
    for n in mnt net ipc uts; do
        [ "$(readlink "/proc/$pid/ns/$n")" != "$(readlink /proc/self/ns/$n)" ] ||
            echo "in the host's $n namespace"
    done
    [ -z "$(ls -A "/proc/$pid/root/" 2>&1 | grep -vx "$LSAN_PROC")" ] ||
        echo "its root is not empty: $(ls -A "/proc/$pid/root/" | tr '\n' ' ')"
    got=$(fd_kinds "$pid")
    [ "$got" = "$want" ] || echo "fds: $got; expected: $want"
    grep -Eq '^Max core file size +0 +0 ' "/proc/$pid/limits" || echo "core dumps allowed"
    grep -Eq '^Max open files +[0-9]{2,3} ' "/proc/$pid/limits" || echo "$(grep 'open files' "/proc/$pid/limits")"
}

# LeakSanitizer builds (make asan) keep /proc in the cards' root for the leak check at exit.
LSAN_PROC=-
grep -qa __lsan_do_leak_check "$(command -v "$BLK")" && LSAN_PROC=proc

stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# --- azote-blk, on an image passed by fd the way azote does.
python3 "$W/launch.py" 5 -- "$BLK" --socket "$W/blk.sock" --file-fd 5 --file-name "$W/disk.img" \
    --verbose 5<>"$W/disk.img" </dev/null >"$W/blk.out" 2>"$W/blk.log" &
pid=$!
card=$(wait_card "$pid" "$W/blk.sock")
if [ -z "$card" ]; then
    tap_result "azote-blk: sandboxed" "did not serve: $(tr '\n' '|' <"$W/blk.log")"
else
    mapfile -t problems < <(sandbox_problems "$card" \
        "$(sorted /dev/null "$W/blk.out" "$W/blk.log" "$W/disk.img" '[eventpoll]' '[signalfd]' socket)")
    grep -q 'sandbox: new mount, IPC, net' "$W/blk.log" || problems+=("no debug line saying what was applied")
    tap_result "azote-blk: no privileges, own namespaces, empty root, only its fds" "${problems[@]}"
fi
stop "$pid"
[ ! -e "$W/blk.sock" ] && tap_result "azote-blk: socket removed at exit (by the half outside)" ||
    tap_result "azote-blk: socket removed at exit (by the half outside)" "$W/blk.sock left behind"

# --- The self-test hook: the card tries /dev/kvm and its image by path from inside.
selftest() {
    local name=$1 status problems=()
    shift
    AZOTE_SANDBOX_SELFTEST=1 "$BLK" --socket "$W/st.sock" --file "$W/disk.img" "$@" \
        </dev/null >/dev/null 2>"$W/st.log" &
    local p=$!
    for _ in $(seq 50); do
        grep -q "self-test: $W/disk.img" "$W/st.log" 2>/dev/null && break
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    status=$?
    if [ "$status" = $((128 + 31)) ]; then
        tap_result "$name (killed by SIGSYS: the filter forbids it)"
        return
    fi
    grep -q 'sandbox self-test: /dev/kvm: No such file or directory' "$W/st.log" ||
        problems+=("/dev/kvm: $(grep -h 'self-test: /dev/kvm' "$W/st.log")")
    grep -q "sandbox self-test: $W/disk.img: No such file or directory" "$W/st.log" ||
        problems+=("image: $(grep -h "self-test: $W" "$W/st.log")")
    [ "$status" = 0 ] || problems+=("exit status $status")
    [ ${#problems[@]} -eq 0 ] || problems+=("log: $(tr '\n' '|' <"$W/st.log")")
    tap_result "$name" "${problems[@]}"
}
if "$BLK" --help | grep -q seccomp-level; then
    selftest "self-test without seccomp: /dev/kvm and the image path do not exist" --seccomp-level 0 2>/dev/null
fi
selftest "self-test with the default seccomp level: no /dev/kvm, no image path" 2>/dev/null

# --- azote-net, on tap queues opened outside (in a namespace of the test's), by fd.
if ! ip netns add "$NS" 2>/dev/null; then
    tap_skip "azote-net: sandboxed" "ip netns add failed (needs root)"
else
    ip netns exec "$NS" ip tuntap add azsb0 mode tap multi_queue
    ip netns exec "$NS" python3 "$W/launch.py" --tap azsb0 2 -- "$NET" --socket "$W/net.sock" \
        --tap-fd 5,6 -v </dev/null >"$W/net.out" 2>"$W/net.log" &
    pid=$!
    card=$(wait_card "$pid" "$W/net.sock")
    if [ -z "$card" ]; then
        tap_result "azote-net: sandboxed" "did not serve: $(tr '\n' '|' <"$W/net.log")"
    else
        mapfile -t problems < <(sandbox_problems "$card" \
            "$(sorted /dev/null "$W/net.out" "$W/net.log" /dev/net/tun /dev/net/tun '[eventfd]' '[eventfd]' \
                '[eventpoll]' '[signalfd]' socket)")
        [ "$(readlink "/proc/$card/ns/net")" != "$(ip netns exec "$NS" readlink /proc/self/ns/net)" ] ||
            problems+=("in the tap's network namespace")
        tap_result "azote-net: no privileges, own namespaces, empty root, only its fds" "${problems[@]}"
    fi
    stop "$pid"
fi

# --- --sandbox off: for debugging, the card stays where it was started.
"$BLK" --socket "$W/off.sock" --file "$W/disk.img" --sandbox off </dev/null >/dev/null 2>"$W/off.log" &
pid=$!
for _ in $(seq 50); do [ -S "$W/off.sock" ] && break; sleep 0.1; done
problems=()
[ "$(readlink "/proc/$pid/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ] || problems+=("in another mount namespace")
[ "$(readlink "/proc/$pid/ns/net")" = "$(readlink /proc/self/ns/net)" ] || problems+=("in another network namespace")
grep -Eq '^CapEff:[[:space:]]*0+$' "/proc/$pid/status" && [ "$(id -u)" = 0 ] && problems+=("root's capabilities dropped")
tap_result "--sandbox off leaves the card as started" "${problems[@]}"
stop "$pid"
expect_bad_input "--sandbox with a bad value" 'sandbox maybe' 'on or off' -- \
    "$BLK" --socket "$W/s" --file "$W/disk.img" --sandbox maybe

# --- --file-fd: what azote passes must fit the disk.
expect_bad_input "--file-fd read-only without --ro" 'img-name' 'read-only.*--ro' -- \
    bash -c 'exec "$0" --socket "$1/s" --file-fd 5 --file-name img-name 5<"$1/disk.img"' "$BLK" "$W"
expect_bad_input "--file-fd that is not open" 'fd 9' -- "$BLK" --socket "$W/s" --file-fd 9
expect_bad_input "--file and --file-fd" 'file-fd' -- "$BLK" --socket "$W/s" --file "$W/disk.img" --file-fd 5

# --- Unprivileged: a user namespace of the card's own does what root's rights did.
if command -v setpriv >/dev/null; then
    mkdir "$W/u" && chown 1000:1000 "$W/u" "$W/disk.img"
    setpriv --reuid 1000 --regid 1000 --clear-groups "$BLK" --socket "$W/u/u.sock" --file "$W/disk.img" \
        --verbose </dev/null >/dev/null 2>"$W/u.log" &
    pid=$!
    card=$(wait_card "$pid" "$W/u/u.sock")
    if [ -z "$card" ]; then
        tap_result "unprivileged azote-blk: sandboxed in a user namespace" "did not serve: $(tr '\n' '|' <"$W/u.log")"
    else
        problems=()
        [ "$(readlink "/proc/$card/ns/user")" != "$(readlink /proc/self/ns/user)" ] || problems+=("no user namespace")
        grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$card/status" || problems+=("no_new_privs not set")
        grep -Eq '^CapEff:[[:space:]]*0+$' "/proc/$card/status" || problems+=("$(grep CapEff "/proc/$card/status")")
        [ -z "$(ls -A "/proc/$card/root/" 2>&1 | grep -vx "$LSAN_PROC")" ] || problems+=("its root is not empty")
        grep -q 'warning' "$W/u.log" && problems+=("warned: $(grep warning "$W/u.log")")
        tap_result "unprivileged azote-blk: sandboxed in a user namespace" "${problems[@]}"
    fi
    stop "$pid"
    chown 0:0 "$W/disk.img"
else
    tap_skip "unprivileged azote-blk: sandboxed in a user namespace" "no setpriv"
fi

# --- No user namespaces allowed (max_user_namespaces 0 in a user namespace of the test's, so
# the host's setting is untouched), no capabilities: one warning, privileges still dropped.
if unshare -U -r true 2>/dev/null; then
    unshare -U -r sh -c 'echo 0 >/proc/sys/user/max_user_namespaces &&
        exec setpriv --bounding-set -all --inh-caps -all "$0" --socket "$1/n.sock" --file "$1/disk.img"' \
        "$BLK" "$W" </dev/null >/dev/null 2>"$W/n.log" &
    pid=$!
    card=$(wait_card "$pid" "$W/n.sock")
    problems=()
    if [ -z "$card" ]; then
        problems+=("did not serve: $(tr '\n' '|' <"$W/n.log")")
    else
        [ "$(grep -c warning "$W/n.log")" = 1 ] || problems+=("$(grep -c warning "$W/n.log") warning lines")
        grep -q 'warning: sandbox: no namespaces' "$W/n.log" || problems+=("no warning naming the namespaces")
        grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$card/status" || problems+=("no_new_privs not set")
        grep -Eq '^CapEff:[[:space:]]*0+$' "/proc/$card/status" || problems+=("$(grep CapEff "/proc/$card/status")")
        [ ${#problems[@]} -eq 0 ] || problems+=("log: $(tr '\n' '|' <"$W/n.log")")
    fi
    tap_result "without user namespaces: one warning, privileges dropped, still serves" "${problems[@]}"
    stop "$pid"
else
    tap_skip "without user namespaces: one warning, privileges dropped, still serves" "unshare -U -r failed"
fi
tap_done
