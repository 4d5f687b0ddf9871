#!/usr/bin/env bash
# The measuring half of bench/boot.sh: boots the same guest under azote and under QEMU's
# microvm machine, alternately, and prints one record per boot. bench/boot.sh runs it inside
# the lab (scripts/lab.sh), where everything below is at its default path; on a host with
# hardware virtualization it runs here directly with the paths given in the environment.
#
# Environment (lab defaults):
#   BENCH_RUNS=5           timed boots per VMM
#   BENCH_TRACE_RUNS=1     extra boots per VMM, first, that count VM exits with tracepoints;
#                          they double as warm-up and are left out of the timings
#   BENCH_CMDLINE          guest command line (default "console=ttyS0 quiet")
#   BENCH_GUEST=/lab/guest vmlinuz and initramfs.cpio.gz
#   BENCH_QEMU_DATA=/lab/qemu   QEMU's -L folder: bios-microvm.bin (Debian: qboot) and
#                          linuxboot_dma.bin, the only data files microvm opens
#   BENCH_AZOTE, BENCH_QEMU, BENCH_LAUNCH   the programs (default: found on PATH)
#   BENCH_BOOT_TIMEOUT=180 seconds before a boot is killed
#
# Output: lines starting with "# " are progress for people; the records are
#   BENCH info key=value...
#   BENCH cmdline THE GUEST COMMAND LINE
#   BENCH run vmm=V i=N traced=0|1 status=S marker_ms=M exit_ms=E maxrss_kib=R timed_out=0|1
#             own_kib=O guestram_kib=G [entry_ms=T] [azote: exec_ms= az_*_kib= az_coalesced=]
#   BENCH azexit vmm=azote i=N reason=NAME count=C      azote's own --exit-stats
#   BENCH trace vmm=V i=N event=E key=K count=C         tracepoint histograms (traced runs)
# Times are from the instant before execve of the VMM (bench/launch) to the console line
# holding AZOTE-GUEST-READY (marker_ms), to the VMM being reaped (exit_ms) and, in traced
# boots, to its first guest entry (entry_ms); own_kib/guestram_kib are its resident memory
# outside/inside the guest's RAM when the marker arrived.
set -uo pipefail

RUNS=${BENCH_RUNS:-5}
TRACE_RUNS=${BENCH_TRACE_RUNS:-1}
CMDLINE=${BENCH_CMDLINE:-console=ttyS0 quiet}
GUEST=${BENCH_GUEST:-/lab/guest}
QEMU_DATA=${BENCH_QEMU_DATA:-/lab/qemu}
AZOTE=${BENCH_AZOTE:-azote}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
LAUNCH=${BENCH_LAUNCH:-launch}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-180}
MARKER='AZOTE-GUEST-READY'
TRACEFS=/sys/kernel/tracing

# Same kernel, initrd, command line, vCPU count and RAM for both.
AZOTE_CMD=("$AZOTE" --kernel "$GUEST/vmlinuz" --initrd "$GUEST/initramfs.cpio.gz"
    --cmdline "$CMDLINE" --cpus 1 --mem 256M --exit-stats)
# microvm's defaults stay (qboot firmware, ISA serial, PIC/PIT/RTC, ACPI with GED);
# -L is only there because the lab has no /usr/share/qemu.
QEMU_CMD=("$QEMU" -L "$QEMU_DATA" -M microvm -enable-kvm -cpu host -m 256M -smp 1
    -nodefaults -no-user-config -nographic -serial stdio
    -kernel "$GUEST/vmlinuz" -initrd "$GUEST/initramfs.cpio.gz" -append "$CMDLINE")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Histograms kept in the kernel while a traced boot runs: one bucket per key, so the cost
# per exit is a hash update, not a formatted trace line.
HISTS=(
    "kvm_exit hist:keys=exit_reason"
    "kvm_userspace_exit hist:keys=reason"
    "kvm_pio hist:keys=port.hex,rw"
    "kvm_mmio hist:keys=gpa.hex,type"
    "kvm_msr hist:keys=ecx.hex,write"
)

trace_ready() {
    [ -d "$TRACEFS/events/kvm" ] || mount -t tracefs nodev "$TRACEFS" 2>/dev/null
    [ -w "$TRACEFS/events/kvm/kvm_exit/trigger" ]
}

# The first kvm:kvm_entry of a boot tells when each VMM first entered its guest, with the
# trace clock "tai" (CLOCK_REALTIME plus the whole-second TAI offset, measured below with a
# trace_marker line) so that it compares with the exec instant. Left out if the kernel lacks it.
ENTRY_CLOCK=0
entry_trace_ready() {
    grep -qw tai "$TRACEFS/trace_clock" 2>/dev/null && [ -w "$TRACEFS/events/kvm/kvm_entry/enable" ] &&
        ENTRY_CLOCK=1
    return 0
}

trace_start() {
    local h
    for h in "${HISTS[@]}"; do echo "${h#* }" >"$TRACEFS/events/kvm/${h%% *}/trigger"; done
    [ "$ENTRY_CLOCK" = 1 ] || return 0
    SAVED_CLOCK=$(sed 's/.*\[\(.*\)\].*/\1/' "$TRACEFS/trace_clock")
    SAVED_OVERWRITE=$(cat "$TRACEFS/options/overwrite")
    SAVED_BUFSIZE=$(awk '{ print $1; exit }' "$TRACEFS/buffer_size_kb")
    # Keep the oldest events (no overwrite) in a small buffer: only the first ones matter.
    echo tai >"$TRACEFS/trace_clock"
    echo 0 >"$TRACEFS/options/overwrite"
    echo 64 >"$TRACEFS/buffer_size_kb"
    : >"$TRACEFS/trace"
    echo "bench-sync $EPOCHREALTIME" >"$TRACEFS/trace_marker"
    echo 1 >"$TRACEFS/events/kvm/kvm_entry/enable"
}

# trace_stop VMM I: print the histograms as records and remove them; set FIRST_ENTRY (S.US).
trace_stop() {
    local h ev
    for h in "${HISTS[@]}"; do
        ev=${h%% *}
        hist_records "$1" "$2" "$ev" <"$TRACEFS/events/kvm/$ev/hist"
        echo "!${h#* }" >"$TRACEFS/events/kvm/$ev/trigger"
    done
    FIRST_ENTRY=
    [ "$ENTRY_CLOCK" = 1 ] || return 0
    echo 0 >"$TRACEFS/events/kvm/kvm_entry/enable"
    # Lines look like "  bash-812  [001] .....  1795634361.123456: tracing_mark_write: bench-sync
    # 1795634361.123400" and "  qemu-system-x86-830  [000] d..2.  1795634362.5: kvm_entry: vcpu 0".
    FIRST_ENTRY=$(awk '!/^#/ {
            for (f = 1; f < NF; f++) {
                if ($(f + 1) == "tracing_mark_write:" && $(f + 2) == "bench-sync") {
                    t = $f; sub(/:$/, "", t); off = int(t - $(f + 3) + 0.5)
                }
                if ($(f + 1) == "kvm_entry:" && entry == "") { entry = $f; sub(/:$/, "", entry) }
            }
        }
        END { if (entry != "") printf "%.6f\n", entry - off }' "$TRACEFS/trace")
    : >"$TRACEFS/trace"
    echo "$SAVED_CLOCK" >"$TRACEFS/trace_clock"
    echo "$SAVED_OVERWRITE" >"$TRACEFS/options/overwrite"
    echo "$SAVED_BUFSIZE" >"$TRACEFS/buffer_size_kb"
}

# "{ port: 0x00000000000003f8, rw: 1 } hitcount: 42" -> "... key=port=0x3f8,rw=1 count=42",
# with kvm_exit and kvm_userspace_exit codes replaced by the names the event's format prints.
hist_records() {
    local names
    names=$(symbol_table "$3")
    awk -v pre="BENCH trace vmm=$1 i=$2 event=$3" -v names="$names" '
        BEGIN { n = split(names, a, " "); for (j = 1; j + 1 <= n; j += 2) name[a[j]] = a[j + 1] }
        /^\{/ {
            line = $0
            sub(/^\{ */, "", line)
            split(line, p, /\} *hitcount: */)
            key = p[1]
            gsub(/ +/, "", key); gsub(/:/, "=", key); sub(/,$/, "", key)
            while (match(key, /0x0+[0-9a-f]/)) key = substr(key, 1, RSTART + 1) substr(key, RSTART + RLENGTH - 1)
            if (match(key, /^[a-z_]*=[0-9]+/)) {
                code = substr(key, index(key, "=") + 1, RLENGTH - index(key, "="))
                if (code in name) key = substr(key, 1, index(key, "=")) name[code] substr(key, RLENGTH + 1)
            }
            print pre, "key=" key, "count=" (p[2] + 0)
        }'
}

# "code name code name..." from the event's print format: SVM exit codes for kvm_exit (the
# __print_symbolic on the whole exit_reason; VMX's masks it), KVM_EXIT_* for kvm_userspace_exit
# (lower case, without the prefix: the names azote's --exit-stats uses).
symbol_table() {
    local fmt sel code name
    case $1 in
        kvm_exit) sel='__print_symbolic(REC->exit_reason,' ;;
        kvm_userspace_exit) sel='__print_symbolic(REC->reason,' ;;
        *) return 0 ;;
    esac
    fmt=$(sed -n 's/^print fmt: //p' "$TRACEFS/events/kvm/$1/format")
    fmt=${fmt#*"$sel"}
    fmt=${fmt%%)*}
    # Entries look like { 0x07b, "io" }, { 0x040 + 14, "PF excp" }, { 2, "KVM_EXIT_" "IO" }.
    grep -o '{[^{}]*}' <<<"$fmt" | while IFS=, read -r code name; do
        code=${code#\{}
        name=$(tr -d '"}' <<<"$name" | sed 's/^ *//; s/ *$//; s/^KVM_EXIT_ *//; s/ /_/g' | tr '[:upper:]' '[:lower:]')
        # The histogram prints codes in decimal: let bash evaluate "0x040 + 14".
        code=$((code)) 2>/dev/null && [ -n "$name" ] && echo "$code $name"
    done | tr '\n' ' '
}

# console_reader LOG STAMP SMAPS LAUNCH_RESULT: copy the VMM's console to LOG. On the first
# line that holds the marker, write its arrival to STAMP and a copy of the VMM's smaps (its
# memory while the guest runs; bench/launch has written its pid) to SMAPS, then copy the rest
# without looking at it.
console_reader() {
    local line now pid
    while IFS= read -r line; do
        now=$EPOCHREALTIME
        printf '%s\n' "$line" >>"$1"
        if [[ $line == *"$MARKER"* ]]; then
            echo "$now" >"$2"
            pid=$(sed -n 's/^pid=//p' "$4")
            [ -z "$pid" ] || cat "/proc/$pid/smaps" >"$3" 2>/dev/null
            cat >>"$1"
            return 0
        fi
    done
    [ -z "$line" ] || printf '%s' "$line" >>"$1"
}

# smaps_fields SMAPS: "own_kib=N guestram_kib=N": resident memory in the guest's RAM mapping
# (the one mapping of at least 200 MiB: both VMMs map the 256 MiB in one piece) and in all the
# others. Files in the lab live in RAM (shmem), so Rss is the fair measure, not RssFile.
smaps_fields() {
    [ -s "$1" ] || return 0
    awk '/^[0-9a-f]+-[0-9a-f]+ / { big = 0 }
        $1 == "Size:" { big = ($2 >= 200 * 1024) }
        $1 == "Rss:" { if (big) g += $2; else o += $2 }
        END { printf "own_kib=%d guestram_kib=%d", o, g }' "$1"
}

# ms_between T0 T1 (both S.US): milliseconds with three decimals, integer arithmetic.
ms_between() {
    local a=${1/./} b=${2/./}
    local d=$((10#$b - 10#$a))
    printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

# azote_fields STDERR: azote's own figures from its --exit-stats lines, as key=value.
azote_fields() {
    sed -n -e 's/.*exec to first KVM_RUN: \([0-9.]*\) ms.*/exec_ms=\1/p' \
        -e 's/.*coalesced writes (no exit): \([0-9]*\).*/az_coalesced=\1/p' \
        -e 's/.*memory: peak_rss=\([0-9]*\) KiB own_rss=\([0-9]*\) KiB (anon=\([0-9]*\) file=\([0-9]*\)) guest_ram_touched=\([0-9]*\) KiB.*/az_peak_kib=\1 az_own_kib=\2 az_anon_kib=\3 az_file_kib=\4 az_touched_kib=\5/p' \
        "$1" | tr '\n' ' '
}

azote_exit_records() {
    # "exits: total=N io=N ...; coalesced writes (no exit): N": the pairs before the ';'.
    sed -n 's/.*info: exits: //p' "$2" | sed 's/;.*//' | tr ' ' '\n' | grep '=' | while IFS='=' read -r reason count; do
        echo "BENCH azexit vmm=azote i=$1 reason=$reason count=$count"
    done
}

# boot VMM I TRACED: one boot, one record.
boot() {
    local vmm=$1 i=$2 traced=$3 dir=$WORK/$1-$2 cmd
    mkdir -p "$dir"
    if [ "$vmm" = azote ]; then cmd=("${AZOTE_CMD[@]}"); else cmd=("${QEMU_CMD[@]}"); fi
    [ "$traced" = 0 ] || trace_start
    "$LAUNCH" -t "$BOOT_TIMEOUT" "$dir/launch" "${cmd[@]}" </dev/null 2>"$dir/stderr" |
        console_reader "$dir/console" "$dir/marker" "$dir/smaps" "$dir/launch"
    FIRST_ENTRY=
    [ "$traced" = 0 ] || trace_stop "$vmm" "$i" >"$dir/trace"

    local start end status rss timed_out marker_ms=none exit_ms extra
    # (No process substitution: the lab has no /dev/fd.)
    read -r start end status rss timed_out <<<"$(sed -n '/^start=/s/[a-z_]*=//gp' "$dir/launch" 2>/dev/null)"
    if [ -z "${start:-}" ]; then
        echo "# $vmm run $i: bench/launch left no result"
        tail -n 5 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    [ -f "$dir/marker" ] && marker_ms=$(ms_between "$start" "$(cat "$dir/marker")")
    exit_ms=$(ms_between "$start" "$end")
    extra=$(smaps_fields "$dir/smaps")
    [ -z "$FIRST_ENTRY" ] || extra+=" entry_ms=$(ms_between "$start" "$FIRST_ENTRY")"
    if [ "$vmm" = azote ]; then
        extra+=" $(azote_fields "$dir/stderr")"
        azote_exit_records "$i" "$dir/stderr"
    fi
    echo "BENCH run vmm=$vmm i=$i traced=$traced status=$status marker_ms=$marker_ms exit_ms=$exit_ms maxrss_kib=$rss timed_out=$timed_out $extra"
    echo "# $vmm run $i$([ "$traced" = 1 ] && echo ' (traced)'): marker ${marker_ms} ms, exit ${exit_ms} ms, status $status, peak RSS $rss KiB"
    if [ "$status" != 0 ] || [ "$marker_ms" = none ]; then
        echo "# $vmm run $i failed; its console and stderr (last lines):"
        tr -d '\r' <"$dir/console" | tail -n 40 | sed 's/^/#   console| /'
        tail -n 15 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    # Exit counts only from boots that completed: a hung one would skew them.
    [ "$traced" = 0 ] || cat "$dir/trace"
}

for p in "$AZOTE" "$QEMU" "$LAUNCH"; do
    command -v "$p" >/dev/null || { echo "# boot-run: $p not found"; exit 2; }
done
for f in "$GUEST/vmlinuz" "$GUEST/initramfs.cpio.gz" "$QEMU_DATA/bios-microvm.bin"; do
    [ -f "$f" ] || { echo "# boot-run: $f missing"; exit 2; }
done
if [ "$TRACE_RUNS" -gt 0 ] && ! trace_ready; then
    echo "# boot-run: no writable $TRACEFS/events/kvm (tracefs, root): exits are not counted"
    TRACE_RUNS=0
fi
[ "$TRACE_RUNS" = 0 ] || entry_trace_ready

# Transparent huge pages decide how many nested page faults (npf exits) guest RAM costs.
thp() { sed 's/.*\[\(.*\)\].*/\1/' "/sys/kernel/mm/transparent_hugepage/$1" 2>/dev/null || echo none; }
echo "BENCH info runs=$RUNS trace_runs=$TRACE_RUNS host_kernel=$(uname -r) cpus=$(nproc)" \
    "thp=$(thp enabled) shmem_thp=$(thp shmem_enabled)" \
    "qemu=$("$QEMU" --version | head -n1 | awk '{ print $4 }')"
echo "BENCH cmdline $CMDLINE"
failed=0
# Traced boots first: they warm up both VMMs (first KVM VM, page cache) before the timed ones.
# One that fails is tried again (once): it carries no timing, only the exit counts.
for ((i = 1; i <= TRACE_RUNS; i++)); do
    for vmm in qemu azote; do
        boot "$vmm" "t$i" 1 || boot "$vmm" "t$i-retry" 1 || failed=$((failed + 1))
    done
done
# Alternate, and swap who goes first in every other pair (azote qemu, qemu azote, ...): in the
# lab a boot that follows a QEMU boot is ~10% slower than one that follows an azote boot,
# whichever VMM it is, so plain alternation would always hand azote the slow slot. With the
# traced boots ending on azote, each VMM follows each VMM equally often (one off for odd runs).
for ((i = 1; i <= RUNS; i++)); do
    order=(azote qemu)
    [ $((i % 2)) = 1 ] || order=(qemu azote)
    for vmm in "${order[@]}"; do boot "$vmm" "$i" 0 || failed=$((failed + 1)); done
done
echo "BENCH done failed=$failed"
[ "$failed" -eq 0 ]
