#!/usr/bin/env bash
# azote under azote-jail: a guest boots from files inside the jail, with a disk served by
# azote-blk from inside the jail too, while azote runs as 1000:1000 in its own mount and PID
# namespaces, in the cgroup /azote/<id> with the limits asked for, unable to see the lab's
# files. Then --daemonize (returns at once, the VM keeps running, its API socket in the jail's
# /run), --netns, a second jail with a running jail's id, and a bad --exec-file.
#
# Runs as root where cgroup2 is mounted at /sys/fs/cgroup and /dev/kvm boots a guest: the lab
# (tests/run.sh packs azote-jail next to azote in /lab/bin).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/expect-bad.sh"

JAIL=$(command -v azote-jail)
AZOTE=$(command -v azote)
GUEST=${AZOTE_GUEST:-/lab/guest}
BOOT_TIMEOUT=${AZOTE_BOOT_TIMEOUT:-120}
BASE=/srv/jailer
CG=/sys/fs/cgroup
CMDLINE="console=ttyS0 quiet"
MARKER=/tmp/jail-outside-marker
LOADER=/lib64/ld-linux-x86-64.so.2 # azote's program interpreter (x86_64 glibc)

W=$(mktemp -d)
trap 'rm -rf "$W" "$MARKER"' EXIT
OUT=$W/stdout ERR=$W/stderr

[ -x "$JAIL" ] || { tap_result "azote-jail on PATH" "not found: tests/run.sh packs build/azote-jail"; tap_done; }
[ "$(id -u)" = 0 ] || { tap_skip "jail tests" "need root"; tap_done; }
if ! awk -v m="$CG" '$2 == m && $3 == "cgroup2" { f = 1 } END { exit !f }' /proc/mounts; then
    tap_skip "jail tests" "no cgroup2 at $CG"
    tap_done
fi
missing=
for c in cpu memory pids; do grep -qw "$c" "$CG/cgroup.controllers" || missing="$missing $c"; done
[ -z "$missing" ] || { tap_skip "jail tests" "the lab kernel lacks cgroup controllers:$missing"; tap_done; }
echo "the jail must not see this" >"$MARKER"

# The loader azote names, and the libraries it lists for azote and its cards: azote is
# linked dynamically, and the jail holds only what is put into it.
stage_libs() {
    local root=$1 b lib
    for b in "$AZOTE" "$(dirname "$AZOTE")/azote-blk" "$(dirname "$AZOTE")/azote-net"; do
        "$LOADER" --list "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
    done | sort -u | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

# prepare ID: the operator's part, before starting the jail: kernel, initrd, libraries and a
# disk image the jailed user may write, inside <base>/azote/ID/root.
prepare() {
    local root=$BASE/azote/$1/root
    rm -rf "${BASE:?}/azote/$1"
    mkdir -p "$root"
    cp "$GUEST/vmlinuz" "$GUEST/initramfs.cpio.gz" "$root/"
    stage_libs "$root"
    dd if=/dev/zero of="$root/disk.img" bs=1M count=4 2>/dev/null
    chown 1000:1000 "$root/disk.img"
}

JARGS=(--exec-file "$AZOTE" --uid 1000 --gid 1000)
LIMITS=(--cgroup memory.max=536870912 --cgroup pids.max=64 --cgroup "cpu.max=100000 100000")

# wait_for FILE PATTERN SECONDS: until FILE holds a line matching PATTERN.
wait_for() {
    local i
    for ((i = 0; i < $3 * 5; i++)); do
        [ -f "$1" ] && tr -d '\r' <"$1" | grep -qx "$2" && return 0
        sleep 0.2
    done
    return 1
}

status_field() { awk -v k="$2:" '$1 == k { $1 = ""; print substr($0, 2) }' "/proc/$1/status"; }

# inspect PID ID: what the jailed azote looks like from outside; appends to PROBLEMS_* arrays.
inspect() {
    local pid=$1 id=$2 root=$BASE/azote/$2/root p card=
    P_IDS=() P_ROOT=() P_CG=() P_LIMITS=() P_HIDDEN=() P_PRIVS=() P_CARD=()
    [ "$(status_field "$pid" Uid | tr -s '\t ' ' ')" = "1000 1000 1000 1000" ] ||
        P_IDS+=("Uid: $(status_field "$pid" Uid)")
    [ "$(status_field "$pid" Gid | tr -s '\t ' ' ')" = "1000 1000 1000 1000" ] ||
        P_IDS+=("Gid: $(status_field "$pid" Gid)")
    [ "$(status_field "$pid" Groups)" = "" ] || P_IDS+=("Groups: $(status_field "$pid" Groups)")
    echo "#   /proc/$pid/root -> $(readlink "/proc/$pid/root"); its /: $(ls "/proc/$pid/root" | tr '\n' ' ')"
    [ "$(stat -L -c %d:%i "/proc/$pid/root")" = "$(stat -c %d:%i "$root")" ] ||
        P_ROOT+=("/proc/$pid/root is not $root")
    [ -x "/proc/$pid/root/azote" ] && [ -f "/proc/$pid/root/vmlinuz" ] ||
        P_ROOT+=("no /azote or /vmlinuz in its root")
    [ "$(cat "/proc/$pid/cgroup")" = "0::/azote/$id" ] ||
        P_CG+=("/proc/$pid/cgroup: $(tr '\n' ' ' <"/proc/$pid/cgroup")")
    [ "$(cat "$CG/azote/$id/memory.max")" = 536870912 ] || P_LIMITS+=("memory.max $(cat "$CG/azote/$id/memory.max")")
    [ "$(cat "$CG/azote/$id/pids.max")" = 64 ] || P_LIMITS+=("pids.max $(cat "$CG/azote/$id/pids.max")")
    [ "$(cat "$CG/azote/$id/cpu.max")" = "100000 100000" ] || P_LIMITS+=("cpu.max $(cat "$CG/azote/$id/cpu.max")")
    [ ! -e "/proc/$pid/root$MARKER" ] || P_HIDDEN+=("$MARKER is visible in the jail")
    [ ! -e "/proc/$pid/root/lab" ] || P_HIDDEN+=("/lab is visible in the jail")
    [ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
        P_HIDDEN+=("same mount namespace as the test: $(readlink "/proc/$pid/ns/mnt")")
    [ "$(readlink "/proc/$pid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] ||
        P_HIDDEN+=("same PID namespace as the test")
    [ "$(status_field "$pid" NSpid | awk '{ print $NF }')" = 1 ] ||
        P_HIDDEN+=("not PID 1 in its namespace (NSpid: $(status_field "$pid" NSpid))")
    [ "$(status_field "$pid" NoNewPrivs)" = 1 ] || P_PRIVS+=("NoNewPrivs $(status_field "$pid" NoNewPrivs)")
    [ "$(status_field "$pid" CapEff)" = 0000000000000000 ] || P_PRIVS+=("CapEff $(status_field "$pid" CapEff)")
    # The disk's device process: a child of the jailed azote, in the same jail.
    for p in $(cat "$CG/azote/$id/cgroup.procs"); do
        # azote starts it as <its own directory>/azote-blk: "//azote-blk" in the jail.
        tr '\0' ' ' <"/proc/$p/cmdline" | grep -q '^/*azote-blk ' && card=$p
    done
    if [ -z "$card" ]; then
        P_CARD+=("no /azote-blk in $CG/azote/$id/cgroup.procs ($(tr '\n' ' ' <"$CG/azote/$id/cgroup.procs"))")
    else
        [ "$(status_field "$card" Uid | tr -s '\t ' ' ')" = "1000 1000 1000 1000" ] || P_CARD+=("azote-blk Uid: $(status_field "$card" Uid)")
        # (Its root may be narrower than the jail's: the card sandboxes itself further.)
        [ "$(readlink "/proc/$card/ns/pid")" = "$(readlink "/proc/$pid/ns/pid")" ] ||
            P_CARD+=("azote-blk is not in the jail's PID namespace")
    fi
}

# --- A guest in the jail, in the foreground: checked while it runs, then its exit.
run_foreground() {
    prepare jt1
    echo "# jail jt1: azote $*"
    timeout -k 10 "$BOOT_TIMEOUT" "$JAIL" --id jt1 "${JARGS[@]}" "${LIMITS[@]}" -- "$@" \
        </dev/null >"$OUT" 2>"$ERR" &
    JOB=$!
    INSPECTED=
    if wait_for "$OUT" JAILED-OK "$BOOT_TIMEOUT"; then
        inspect "$(cat "$BASE/azote/jt1/root/azote.pid")" jt1
        INSPECTED=1
    fi
    wait $JOB
    STATUS=$?
    tr -d '\r' <"$OUT" >"$OUT.txt"
    tap_indent "    | " <"$OUT"
    tap_indent "    stderr| " <"$ERR"
    echo "#   exit status $STATUS"
}
for attempt in 1 2; do
    run_foreground --kernel /vmlinuz --initrd /initramfs.cpio.gz --disk path=/disk.img --cmdline \
        "$CMDLINE azote_run=\"echo JAILED-OK; cat /sys/block/vda/size; sleep 8\""
    # The lab's known early-boot hang (tests/lib/lab-boot.sh): try once more.
    { [ "$STATUS" = 124 ] && ! grep -q AZOTE-GUEST-READY "$OUT.txt" && [ $attempt = 1 ]; } || break
    echo "#   the guest stopped before init (a known lab hang); retrying once"
done
PROBLEMS=()
[ "$STATUS" = 0 ] || PROBLEMS+=("exit status $STATUS, expected 0")
grep -qx JAILED-OK "$OUT.txt" || PROBLEMS+=("JAILED-OK missing from the console")
grep -qx 8192 "$OUT.txt" || PROBLEMS+=("the guest did not see the 4 MiB disk (8192 sectors)")
tap_result "jailed guest boots from files in the jail, with a disk, and azote exits 0" "${PROBLEMS[@]}"
if [ -n "$INSPECTED" ]; then
    tap_result "jailed azote runs as uid/gid 1000 with no groups" "${P_IDS[@]}"
    tap_result "jailed azote's root is the chroot" "${P_ROOT[@]}"
    tap_result "jailed azote is in the cgroup /azote/jt1" "${P_CG[@]}"
    tap_result "cgroup limits read back: memory.max, pids.max, cpu.max" "${P_LIMITS[@]}"
    tap_result "the lab's files are out of reach; own mount and PID namespaces, PID 1" "${P_HIDDEN[@]}"
    tap_result "no capabilities, no_new_privs" "${P_PRIVS[@]}"
    tap_result "azote-blk runs in the jail too: its cgroup, its PID namespace, uid 1000" "${P_CARD[@]}"
else
    tap_result "jailed azote inspected while it ran" "the guest never printed JAILED-OK"
fi
[ ! -e "$CG/azote/jt1" ] && tap_result "the jail's cgroup is removed when it ends" ||
    tap_result "the jail's cgroup is removed when it ends" "$CG/azote/jt1 is still there"

# --- --daemonize (and --netns): the jailer returns once azote runs; the VM goes on.
prepare jt2
# A network namespace held by a process of its own, named by its /proc/PID/ns/net.
NETNS='' holder=''
unshare -n sleep 600 &
holder=$!
sleep 0.5
if kill -0 "$holder" 2>/dev/null && [ "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/self/ns/net)" ]; then
    NETNS=/proc/$holder/ns/net
fi
echo "# jail jt2 --daemonize ${NETNS:+--netns $NETNS}"
start=$(date +%s)
timeout 60 "$JAIL" --id jt2 "${JARGS[@]}" "${LIMITS[@]}" ${NETNS:+--netns "$NETNS"} --daemonize -- \
    --kernel /vmlinuz --initrd /initramfs.cpio.gz --api-sock /run/api.sock \
    --cmdline "$CMDLINE azote_run=\"sleep 600\"" </dev/null >"$OUT" 2>"$ERR"
STATUS=$? took=$(($(date +%s) - start))
tap_indent "    stderr| " <"$ERR"
pid=$(cat "$BASE/azote/jt2/root/azote.pid" 2>/dev/null)
PROBLEMS=()
[ "$STATUS" = 0 ] || PROBLEMS+=("exit status $STATUS")
[ "$took" -le 15 ] || PROBLEMS+=("took $took s")
[ -n "$pid" ] || PROBLEMS+=("no azote.pid in the jail")
tap_result "--daemonize returns 0 at once ($took s)" "${PROBLEMS[@]}"
sleep 5
PROBLEMS=()
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    state=$(curl -s --max-time 10 --unix-socket "$BASE/azote/jt2/root/run/api.sock" http://localhost/)
    [[ $state == *'"Running"'* ]] || PROBLEMS+=("API through the jail's /run/api.sock: '$state'")
    [ "$(readlink "/proc/$pid/fd/1")" = /dev/null ] || PROBLEMS+=("stdout is $(readlink "/proc/$pid/fd/1")")
    [ "$(awk '{ print $6 }' "/proc/$pid/stat")" = "$pid" ] || PROBLEMS+=("not a session leader")
else
    PROBLEMS+=("azote (pid ${pid:-?}) is not running 5 s later")
fi
tap_result "--daemonize: the VM keeps running, own session, stdio on /dev/null, API in /run" "${PROBLEMS[@]}"
if [ -z "$NETNS" ]; then
    tap_skip "--netns joins the network namespace" "unshare -n failed in the lab"
elif [ -n "$pid" ] && [ "$(readlink "/proc/$pid/ns/net")" = "$(readlink "$NETNS")" ]; then
    tap_result "--netns joins the network namespace"
else
    tap_result "--netns joins the network namespace" "azote's $(readlink "/proc/$pid/ns/net" 2>&1), wanted $(readlink "$NETNS")"
fi

if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    expect_bad_input "a second jail with a running jail's id" 'jt2' 'already running' -- \
        "$JAIL" --id jt2 "${JARGS[@]}" -- --kernel /vmlinuz
fi

if [ -n "$pid" ]; then
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; tap_result "daemonized azote stops on SIGTERM" "still running 10 s later"; } ||
        tap_result "daemonized azote stops on SIGTERM"
fi
for _ in $(seq 50); do rmdir "$CG/azote/jt2" 2>/dev/null && break; sleep 0.1; done
[ -z "$holder" ] || kill "$holder" 2>/dev/null

expect_bad_input "bad --exec-file: exit 2" 'exec file' '/lab/nope' -- \
    "$JAIL" --id jt3 --exec-file /lab/nope --uid 1000 --gid 1000 -- --kernel /vmlinuz

tap_done
