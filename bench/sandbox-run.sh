#!/usr/bin/env bash
# The measuring half of bench/sandbox.sh: the same guests under azote with `--seccomp-level 2`
# (the default: every thread and device process filtered, arguments checked) and with
# `--seccomp-level 0` (no filter), alternately (ABBA), printing one record per boot.
# bench/sandbox.sh runs it inside the lab (scripts/lab.sh), where everything is at its default
# path; on a host with hardware virtualization it runs there directly with the paths given in
# the environment.
#
# Two phases, each with its own warm-up boots first:
#   boot  `azote --kernel vmlinuz --initrd initramfs.cpio.gz --cmdline "console=ttyS0 quiet"
#         --cpus 1 --mem 256M --exit-stats --seccomp-level L`, as bench/boot-run.sh starts it
#         (bench/launch: exec instant, AZOTE_T0, peak RSS): exec -> AZOTE-GUEST-READY, exec ->
#         first KVM_RUN, exec -> exit, VM exits per boot (azote's --exit-stats).
#   fio   the same kernel with the test initramfs plus fio (an appended cpio archive, as
#         bench/blk-run.sh), `--mem 512M --disk path=IMG` (virtio-blk served by azote-blk) on a
#         1 GiB image on tmpfs, written full once; the guest runs ONE fio job, 4 KiB random
#         read, io_uring, iodepth 32, --direct=1 on /dev/vda, BENCH_RUNTIME s after
#         BENCH_RAMP s of ramp-up. Also: CPU time of azote outside guest mode and of azote-blk
#         during the job, per request, and exec -> first KVM_RUN with azote-blk started.
# azote always starts its cards with `--sandbox on`: their namespaces, empty root and dropped
# capabilities are the same at both levels; only the seccomp filters differ.
#
# Environment (lab defaults):
#   BENCH_BOOT_RUNS=6        timed boots per level in the boot phase (even: ABBA balances)
#   BENCH_FIO_RUNS=4         timed fio boots per level (even: ABBA balances)
#   BENCH_WARMUP=1           untimed boots per level first, in each phase
#   BENCH_PHASES="boot fio"  which phases run
#   BENCH_CMDLINE            boot phase's guest command line (default "console=ttyS0 quiet")
#   BENCH_RUNTIME=10, BENCH_RAMP=2, BENCH_IODEPTH=32, BENCH_IOENGINE=io_uring   the fio job
#   BENCH_IMG_MIB=1024       image size; BENCH_IMG_DIR (default /tmp, a tmpfs in the lab)
#   BENCH_GUEST=/lab/guest   vmlinuz and initramfs.cpio.gz (scripts/guest-assets.sh)
#   BENCH_AZOTE, BENCH_LAUNCH, BENCH_FIO   the programs (default: found on PATH; azote-blk must
#                            sit next to azote)
#   BENCH_FIO_FILES          what fio loads at run time (ldd), one path per line: it goes into
#                            the guest's initramfs at the same paths
#   BENCH_BOOT_TIMEOUT=180, BENCH_FIO_TIMEOUT=600   seconds before a boot is killed
#   BENCH_READY_TIMEOUT=300  seconds before a fio boot that has not reached init is killed
#                            (and tried once more: a known lab hang, see tests/lib/lab-boot.sh)
#   BENCH_VERBOSE=1          print every boot's console
#
# Output: lines starting with "# " are progress; the records are
#   BENCH info key=value...
#   BENCH cmdline THE BOOT PHASE'S GUEST COMMAND LINE
#   BENCH boot level=L i=N warm=0|1 status=S timed_out=0|1 marker_ms=M exit_ms=E kvmrun_ms=K
#             exits=X maxrss_kib=R
#   BENCH fio level=L i=N warm=0|1 status=S timed_out=0|1 iops=I bw_kib=B reads=R phase_s=P
#             marker_ms=M kvmrun_ms=K exits=X az_ticks=A guest_ticks=G blk_ticks=C
#             (ticks: USER_HZ ticks in the fio phase; az_ticks is azote's CPU time outside
#             guest mode, guest_ticks its vCPU's guest-mode time, blk_ticks azote-blk's)
#   BENCH seccomp level=L phase=P i=N line=...    a seccomp kill reported on stderr
#   BENCH stamp phase=P level=L i=N ev=start|marker|end   see stamp() below
#   BENCH done failed=N
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib-guest.sh
. "$HERE/lib-guest.sh"

BOOT_RUNS=${BENCH_BOOT_RUNS:-6}
FIO_RUNS=${BENCH_FIO_RUNS:-4}
WARMUP=${BENCH_WARMUP:-1}
PHASES=${BENCH_PHASES:-boot fio}
CMDLINE=${BENCH_CMDLINE:-console=ttyS0 quiet}
RUNTIME=${BENCH_RUNTIME:-10}
RAMP=${BENCH_RAMP:-2}
IODEPTH=${BENCH_IODEPTH:-32}
IOENGINE=${BENCH_IOENGINE:-io_uring}
IMG_MIB=${BENCH_IMG_MIB:-1024}
IMG_DIR=${BENCH_IMG_DIR:-/tmp}
GUEST=${BENCH_GUEST:-/lab/guest}
AZOTE=${BENCH_AZOTE:-azote}
LAUNCH=${BENCH_LAUNCH:-launch}
FIO=${BENCH_FIO:-fio}
FIO_FILES=${BENCH_FIO_FILES:-/lab/bench/fio-files}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-180}
FIO_TIMEOUT=${BENCH_FIO_TIMEOUT:-600}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-300}
MARKER='AZOTE-GUEST-READY'
LEVELS=(2 0)

WORK=$(mktemp -d)
IMG=$IMG_DIR/azote-bench-sandbox.img
trap 'rm -rf "$WORK" "$IMG"' EXIT
FIO_INITRD=$WORK/initramfs-fio.cpio.gz
FIO_CMDLINE="console=ttyS0 quiet azote_run=/bench/guest.sh"

# ms_between T0 T1 (both S.US): milliseconds with three decimals, integer arithmetic.
ms_between() {
    local d=$((10#${2/./} - 10#${1/./}))
    printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# azote_fields STDERR: "kvmrun_ms=K exits=X" from azote's --exit-stats lines.
azote_fields() {
    local k x
    k=$(sed -n 's/.*exec to first KVM_RUN: \([0-9.]*\) ms.*/\1/p' "$1" | head -n1)
    x=$(sed -n 's/.*info: exits: total=\([0-9]*\).*/\1/p' "$1" | head -n1)
    echo "kvmrun_ms=${k:-none} exits=${x:-none}"
}

# seccomp_check LEVEL PHASE I STDERR: a record per seccomp kill azote or azote-blk reported
# ("seccomp: ... made forbidden syscall NAME (NR); killing the process"). Returns 1 if any.
seccomp_check() {
    local line found=0
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        echo "BENCH seccomp level=$1 phase=$2 i=$3 line=$line"
        echo "# SECCOMP KILL at --seccomp-level $1 ($2 boot $3): $line"
        found=1
    done <<<"$(grep -a 'seccomp:.*forbidden syscall' "$4")"
    return $found
}

# stamp PHASE LEVEL I EVENT: a record the host side (bench/sandbox.sh) follows at once with
# "BENCH hostcpu ns=N", the CPU time the lab's QEMU has used on the host so far: with other
# labs sharing the host's CPUs, the lab's clock runs on while it waits for a CPU, so its own
# timings stretch with the contention; the host CPU time the lab spent between two stamps
# does not (much).
stamp() { echo "BENCH stamp phase=$1 level=$2 i=$3 ev=$4"; }

# launch_result DIR: sets START END STATUS RSS TIMED_OUT from bench/launch's result file.
launch_result() {
    START='' END='' STATUS='' RSS='' TIMED_OUT=''
    # (No process substitution: the lab has no /dev/fd.)
    read -r START END STATUS RSS TIMED_OUT <<<"$(sed -n '/^start=/s/[a-z_]*=//gp' "$1/launch" 2>/dev/null)"
    [ -n "$START" ]
}

# --- boot phase ---------------------------------------------------------------------------

# boot LEVEL I WARM: one boot of the plain test initramfs, one record.
boot() {
    local level=$1 i=$2 warm=$3 dir=$WORK/boot-$1-$2 line now marker_ms=none fail=0
    rm -rf "$dir"
    mkdir -p "$dir"
    stamp boot "$level" "$i" start
    "$LAUNCH" -t "$BOOT_TIMEOUT" "$dir/launch" "$AZOTE" --kernel "$GUEST/vmlinuz" \
        --initrd "$GUEST/initramfs.cpio.gz" --cmdline "$CMDLINE" --cpus 1 --mem 256M \
        --exit-stats --seccomp-level "$level" </dev/null 2>"$dir/stderr" |
        while IFS= read -r line; do
            now=$EPOCHREALTIME
            printf '%s\n' "$line" >>"$dir/console"
            if [[ $line == *"$MARKER"* ]]; then
                echo "$now" >"$dir/marker"
                stamp boot "$level" "$i" marker
                cat >>"$dir/console"
                break
            fi
        done
    if ! launch_result "$dir"; then
        echo "# level $level boot $i: bench/launch left no result"
        tail -n 5 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    [ -f "$dir/marker" ] && marker_ms=$(ms_between "$START" "$(cat "$dir/marker")")
    echo "BENCH boot level=$level i=$i warm=$warm status=$STATUS timed_out=$TIMED_OUT" \
        "marker_ms=$marker_ms exit_ms=$(ms_between "$START" "$END") $(azote_fields "$dir/stderr") maxrss_kib=$RSS"
    seccomp_check "$level" boot "$i" "$dir/stderr" || fail=1
    { [ "$STATUS" = 0 ] && [ "$marker_ms" != none ]; } || fail=1
    echo "# level $level boot $i$([ "$warm" = 1 ] && echo ' (warm-up)'): marker $marker_ms ms," \
        "exit $(ms_between "$START" "$END") ms, status $STATUS"
    if [ "$fail" = 1 ]; then
        echo "# level $level boot $i failed; its console and stderr (last lines):"
        tr -d '\r' <"$dir/console" 2>/dev/null | tail -n 20 | sed 's/^/#   console| /'
        tail -n 15 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    [ -z "${BENCH_VERBOSE:-}" ] || tr -d '\r' <"$dir/console" | sed 's/^/#   console| /'
}

# --- fio phase ----------------------------------------------------------------------------

fio_args() {
    echo "--name=randread --rw=randread --bs=4k --ioengine=$IOENGINE --iodepth=$IODEPTH --numjobs=1" \
        "--time_based --runtime=$RUNTIME --ramp_time=$RAMP --norandommap --randrepeat=0" \
        "--output-format=terse --terse-version=3 --eta=never"
}

# The fio guest: the test initramfs plus fio, what it loads and /bench/guest.sh, which the
# standard init runs (azote_run=/bench/guest.sh). Nothing is printed during the job (each
# console byte would be a VM exit); the figures come after BENCH-IO-END.
build_fio_initrd() {
    local s=$WORK/stage f
    mkdir -p "$s/bench" "$s/usr/bin"
    ln -s "$(command -v "$FIO")" "$s/usr/bin/fio"
    while read -r f; do
        [ -n "$f" ] || continue
        [ -e "$f" ] || { echo "# sandbox-run: $f (listed in $FIO_FILES) missing"; return 1; }
        mkdir -p "$s$(dirname "$f")"
        [ -e "$s$f" ] || ln -s "$f" "$s$f"
    done <"$FIO_FILES"
    # shellcheck disable=SC2016 # the guest expands these
    {
        echo '#!/bin/sh'
        echo '# Written by bench/sandbox-run.sh.'
        echo 'cd /tmp'
        echo 's0=$(cat /sys/block/vda/stat)'
        echo 'echo BENCH-IO-START'
        echo 'sleep 1'
        echo 'fail=0'
        echo "/usr/bin/fio $(fio_args) --direct=1 --filename=/dev/vda --output=/tmp/fio.terse >/dev/null 2>/tmp/fio.err || fail=1"
        echo 's1=$(cat /sys/block/vda/stat)'
        echo 'echo BENCH-IO-END'
        echo 'sleep 1'
        echo 'echo "BENCH-IOSTAT $s0 / $s1"'
        echo 'echo "BENCH-FIO $(cat /tmp/fio.terse)"'
        echo "sed 's/^/fio-stderr: /' /tmp/fio.err"
        echo 'exit $fail'
    } >"$s/bench/guest.sh"
    chmod 755 "$s/bench/guest.sh"
    bench_initrd "$GUEST/initramfs.cpio.gz" "$s" "$FIO_INITRD" || return 1
    echo "# fio guest initramfs: $(($(stat -c %s "$FIO_INITRD") >> 20)) MiB (test initramfs + fio)"
}

# ticks PID: "cpu guest" USER_HZ ticks of a whole process (all its threads, ended ones too):
# utime + stime, and guest_time (a part of utime: the vCPU running the guest).
ticks() {
    local st f
    read -r st <"/proc/$1/stat" 2>/dev/null || { echo "0 0"; return; }
    read -r -a f <<<"${st##*) }"
    echo "$((f[11] + f[12])) ${f[40]}"
}

# cpu_snapshot AZOTE_PID: "azote_cpu azote_guest blk_cpu", the card being azote's child
# (found by its parent pid; no fork: the lab runs at TCG speed).
cpu_snapshot() {
    local p st f a g c=0 cc
    read -r a g <<<"$(ticks "$1")"
    for p in /proc/[0-9]*; do
        read -r st <"$p/stat" 2>/dev/null || continue
        read -r -a f <<<"${st##*) }"
        [ "${f[1]}" = "$1" ] || continue
        read -r cc _ <<<"$(ticks "${p#/proc/}")"
        c=$((c + cc))
    done
    echo "$a $g $c"
}

# fio_boot_once LEVEL I DIR: one boot; console to DIR/console, CPU snapshots at the markers.
fio_boot_once() {
    local level=$1 i=$2 dir=$3 pid='' lpid wd line t0='' t1=''
    rm -rf "$dir"
    mkdir -p "$dir"
    mkfifo "$dir/con"
    "$LAUNCH" -t "$FIO_TIMEOUT" "$dir/launch" "$AZOTE" --kernel "$GUEST/vmlinuz" \
        --initrd "$FIO_INITRD" --cmdline "$FIO_CMDLINE" --cpus 1 --mem 512M --disk "path=$IMG" \
        --exit-stats --seccomp-level "$level" </dev/null >"$dir/con" 2>"$dir/stderr" &
    lpid=$!
    # A guest that never reaches init (a known lab hang) is killed after READY_TIMEOUT.
    (
        waited=0
        while [ ! -f "$dir/ready" ] && [ "$waited" -lt "$READY_TIMEOUT" ]; do sleep 5; waited=$((waited + 5)); done
        [ -f "$dir/ready" ] && exit 0
        : >"$dir/timed_out"
        p=$(sed -n 's/^pid=//p' "$dir/launch" 2>/dev/null)
        [ -z "$p" ] || kill -KILL "$p" 2>/dev/null
    ) &
    wd=$!
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>"$dir/console"
        case $line in
            *"$MARKER"*) echo "$EPOCHREALTIME" >"$dir/ready" ;;
            *BENCH-IO-START*)
                stamp fio "$level" "$i" start
                pid=$(sed -n 's/^pid=//p' "$dir/launch")
                cpu_snapshot "$pid" >"$dir/cpu0"
                t0=$EPOCHREALTIME
                ;;
            *BENCH-IO-END*)
                t1=$EPOCHREALTIME
                stamp fio "$level" "$i" end
                cpu_snapshot "$pid" >"$dir/cpu1"
                ;;
        esac
    done <"$dir/con"
    wait "$lpid"
    kill "$wd" 2>/dev/null
    wait "$wd" 2>/dev/null
    [ -z "$t1" ] || [ -z "$t0" ] || ms_between "$t0" "$t1" >"$dir/phase_ms"
}

# fio_boot LEVEL I WARM: a fio boot (tried again once if it never reached init), one record.
fio_boot() {
    local level=$1 i=$2 warm=$3 dir=$WORK/fio-$1-$2 f rd=none marker_ms=none phase=none fail=0
    local a0 g0 c0 a1 g1 c1 cpu="az_ticks=none guest_ticks=none blk_ticks=none" iops=none bw=none
    fio_boot_once "$level" "$i" "$dir"
    if [ ! -f "$dir/ready" ] && ! grep -qa 'forbidden syscall' "$dir/stderr"; then
        echo "# level $level fio boot $i: the guest stopped before init (a known lab hang); trying again once"
        tail -n 5 "$dir/console" 2>/dev/null | sed 's/^/#   console| /'
        fio_boot_once "$level" "$i" "$dir"
    fi
    if ! launch_result "$dir"; then
        echo "# level $level fio boot $i: bench/launch left no result"
        tail -n 5 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    [ -f "$dir/ready" ] && marker_ms=$(ms_between "$START" "$(cat "$dir/ready")")
    [ -f "$dir/timed_out" ] && TIMED_OUT=1
    # Terse v3: field 5 is the error, 7 and 8 the read KiB/s and IOPS.
    IFS=';' read -r -a f <<<"$(sed -n 's/^BENCH-FIO //p' "$dir/console")"
    if [ "${#f[@]}" -ge 50 ] && [ "${f[4]}" = 0 ]; then
        iops=${f[7]} bw=${f[6]}
    else
        fail=1
    fi
    # "BENCH-IOSTAT <vda stat before> / <after>": completed reads are the first field.
    rd=$(awk '$1 == "BENCH-IOSTAT" { for (k = 2; k <= NF && $k != "/"; k++) ; if (k < NF) print $(k + 1) - $2 }' "$dir/console")
    [ -f "$dir/phase_ms" ] && phase=$(cat "$dir/phase_ms")
    if [ -s "$dir/cpu1" ]; then
        read -r a0 g0 c0 <"$dir/cpu0"
        read -r a1 g1 c1 <"$dir/cpu1"
        # azote's time outside guest mode: its threads' utime + stime less the guest time.
        cpu="az_ticks=$(((a1 - g1) - (a0 - g0))) guest_ticks=$((g1 - g0)) blk_ticks=$((c1 - c0))"
    fi
    echo "BENCH fio level=$level i=$i warm=$warm status=$STATUS timed_out=$TIMED_OUT iops=$iops bw_kib=$bw" \
        "reads=${rd:-none} phase_ms=$phase marker_ms=$marker_ms $(azote_fields "$dir/stderr") $cpu"
    seccomp_check "$level" fio "$i" "$dir/stderr" || fail=1
    { [ "$STATUS" = 0 ] && grep -qx 'AZOTE-RUN-EXIT 0' "$dir/console"; } || fail=1
    echo "# level $level fio boot $i$([ "$warm" = 1 ] && echo ' (warm-up)'): $iops IOPS, $rd reads," \
        "marker $marker_ms ms, status $STATUS"
    if [ "$fail" = 1 ]; then
        echo "# level $level fio boot $i failed (status $STATUS, timed out $TIMED_OUT); console and stderr (last lines):"
        tail -n 20 "$dir/console" 2>/dev/null | sed 's/^/#   console| /'
        tail -n 15 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    [ -z "${BENCH_VERBOSE:-}" ] || cat -v "$dir/console" | sed 's/^/#   console| /'
}

# --- main ---------------------------------------------------------------------------------

# phase NAME RUNS FUNCTION: WARMUP boots per level, then RUNS rounds in ABBA order.
phase() {
    local name=$1 runs=$2 fn=$3 i l order
    echo "# $name phase: $WARMUP warm-up + $runs timed boots per level, ABBA"
    # Warm-up ends on level 2 so that round 1, which starts with level 2, follows a level-2
    # boot: over ABBA rounds each level then follows each level equally often.
    for ((i = 1; i <= WARMUP; i++)); do
        for l in 0 2; do "$fn" "$l" "w$i" 1 || failed=$((failed + 1)); done
    done
    for ((i = 1; i <= runs; i++)); do
        order=("${LEVELS[@]}")
        [ $((i % 2)) = 1 ] || order=(0 2)
        for l in "${order[@]}"; do "$fn" "$l" "$i" 0 || failed=$((failed + 1)); done
    done
}

for p in "$AZOTE" "$LAUNCH"; do
    command -v "$p" >/dev/null || { echo "# sandbox-run: $p not found"; exit 2; }
done
[ -x "$(dirname "$(command -v "$AZOTE")")/azote-blk" ] || { echo "# sandbox-run: azote-blk is not next to azote"; exit 2; }
for f in "$GUEST/vmlinuz" "$GUEST/initramfs.cpio.gz"; do
    [ -f "$f" ] || { echo "# sandbox-run: $f missing"; exit 2; }
done
fstype=none
if [[ " $PHASES " == *" fio "* ]]; then
    if ! command -v "$FIO" >/dev/null || [ ! -f "$FIO_FILES" ]; then
        echo "# sandbox-run: fio or $FIO_FILES missing"
        exit 2
    fi
    build_fio_initrd || { echo "# sandbox-run: cannot build the fio guest's initramfs"; exit 2; }
    fstype=$(stat -f -c %T "$IMG_DIR")
    [ "$fstype" = tmpfs ] || echo "# sandbox-run: note: $IMG_DIR is $fstype, not tmpfs"
    # Every block written once (a sparse tmpfs file would read holes, not pages).
    echo "# writing the ${IMG_MIB} MiB image on $IMG_DIR ($fstype)"
    dd if=/dev/zero of="$IMG" bs=1M count="$IMG_MIB" 2>/dev/null || { echo "# sandbox-run: cannot write $IMG"; exit 2; }
fi

echo "BENCH info boot_runs=$BOOT_RUNS fio_runs=$FIO_RUNS warmup=$WARMUP phases=${PHASES// /,}" \
    "runtime_s=$RUNTIME ramp_s=$RAMP iodepth=$IODEPTH ioengine=$IOENGINE img_mib=$IMG_MIB img_fs=$fstype" \
    "host_kernel=$(uname -r) cpus=$(nproc) user_hz=100"
echo "BENCH cmdline $CMDLINE"
failed=0
[[ " $PHASES " != *" boot "* ]] || phase boot "$BOOT_RUNS" boot
[[ " $PHASES " != *" fio "* ]] || phase fio "$FIO_RUNS" fio_boot
echo "BENCH done failed=$failed"
[ "$failed" -eq 0 ]
