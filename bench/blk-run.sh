#!/usr/bin/env bash
# The measuring half of bench/blk.sh: fio against one disk image on tmpfs, three ways side by
# side (fio on this machine directly, fio in an azote guest, fio in a QEMU virtio-blk-pci
# guest), printing one record per figure. bench/blk.sh runs it inside the lab
# (scripts/lab.sh), where everything is at its default path; on a host with hardware
# virtualization it runs there directly with the paths given in the environment.
#
# Environment (lab defaults):
#   BENCH_RUNS=3            rounds; each round is fio on the host, then one azote boot and one
#                           QEMU boot (order swapped every other round), each running the jobs
#   BENCH_TRACE_RUNS=1      extra boots per VMM, first, that count VM exits with tracepoints
#                           during the fio phase; they double as warm-up, their IOPS are left out
#   BENCH_RUNTIME=10        seconds per fio job (plus BENCH_RAMP=2 seconds of ramp-up)
#   BENCH_IODEPTH=32        fio iodepth, every job
#   BENCH_IOENGINE=io_uring fio engine, every job (the guest kernel, Debian 6.1, has io_uring)
#   BENCH_CPUS=1            guest vCPUs (both VMMs; each gives its disk one queue per vCPU)
#   BENCH_MEM=512M          guest RAM
#   BENCH_IMG_MIB=1024      image size; BENCH_IMG_DIR (default /tmp, a tmpfs in the lab)
#   BENCH_GUEST=/lab/guest  vmlinuz and initramfs.cpio.gz (scripts/guest-assets.sh)
#   BENCH_QEMU_DATA="/usr/share/seabios /usr/share/qemu"   QEMU's -L folders
#   BENCH_AZOTE, BENCH_QEMU, BENCH_FIO   the programs (default: found on PATH; azote-blk
#                           must sit next to azote)
#   BENCH_FIO_FILES         file listing, one per line, what fio needs at run time (its shared
#                           libraries and the dynamic loader, as `ldd` names them): they go
#                           into the guest's initramfs at the same paths
#   BENCH_VERBOSE=1         print every boot's console
#   BENCH_READY_TIMEOUT=300, BENCH_BOOT_TIMEOUT=1200   seconds before a boot that has not
#                           reached init / not ended is killed (one that never reached init
#                           is retried once: a known lab hang, see tests/lib/lab-boot.sh)
#
# Output: lines starting with "# " are progress; the records are
#   BENCH info key=value...
#   BENCH fio vmm=host|azote|qemu i=N job=J iops=X bw_kib=Y
#   BENCH run vmm=V i=N traced=0|1 status=S timed_out=0|1 phase_s=W reads=R writes=W irqs=Q
#             (phase: from the guest's BENCH-IO-START line to its BENCH-IO-END line, around
#             the three fio jobs; reads/writes: requests the guest's vda completed in it;
#             irqs: interrupts the guest took from the virtio disk in it)
#   BENCH cpu vmm=V i=N group=PROCESS:THREAD ticks=T     CPU time (USER_HZ ticks) the VMM's
#             threads (and its device process's), and kernel threads, used in the phase
#   BENCH labcpu vmm=V i=N busy=B all=A guest=G irq=Q   this machine's CPU ticks in the
#             phase: busy, all, in guest mode (the vCPUs running the guest), irq + softirq
#   BENCH trace vmm=V i=N event=E key=K count=C          exits in the phase (traced boots)
#   BENCH azexit vmm=azote i=N reason=R count=C          azote's --exit-stats (whole boot)
#   BENCH done failed=N
set -uo pipefail

RUNS=${BENCH_RUNS:-3}
TRACE_RUNS=${BENCH_TRACE_RUNS:-1}
RUNTIME=${BENCH_RUNTIME:-10}
RAMP=${BENCH_RAMP:-2}
IODEPTH=${BENCH_IODEPTH:-32}
IOENGINE=${BENCH_IOENGINE:-io_uring}
CPUS=${BENCH_CPUS:-1}
MEM=${BENCH_MEM:-512M}
IMG_MIB=${BENCH_IMG_MIB:-1024}
IMG_DIR=${BENCH_IMG_DIR:-/tmp}
GUEST=${BENCH_GUEST:-/lab/guest}
read -r -a QEMU_DATA <<<"${BENCH_QEMU_DATA:-/usr/share/seabios /usr/share/qemu}"
AZOTE=${BENCH_AZOTE:-azote}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
FIO=${BENCH_FIO:-fio}
FIO_FILES=${BENCH_FIO_FILES:-/lab/bench/fio-files}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-300}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-1200}
TRACEFS=/sys/kernel/tracing
JOBS=(randread randwrite seqread)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
IMG=$IMG_DIR/azote-bench-blk.img
INITRD=$WORK/initramfs-fio.cpio.gz
CMDLINE="console=ttyS0 quiet azote_run=/bench/guest.sh"

# fio_args JOB: what the three sides share. Sequential reads are 1 MiB, the rest 4 KiB; no
# random map (fio's own bookkeeping would cost the slow guest more than the host), no progress
# line (on the guest's console it would be VM exits of its own).
fio_args() {
    local rw bs
    case $1 in
        randread) rw=randread bs=4k ;;
        randwrite) rw=randwrite bs=4k ;;
        seqread) rw=read bs=1M ;;
    esac
    echo "--name=$1 --rw=$rw --bs=$bs --ioengine=$IOENGINE --iodepth=$IODEPTH --numjobs=1" \
        "--time_based --runtime=$RUNTIME --ramp_time=$RAMP --norandommap --randrepeat=0" \
        "--output-format=terse --terse-version=3 --eta=never"
}

# fio_record VMM I JOB TERSE: "BENCH fio" from a terse v3 line (fields: 5 error, 7/8 read
# KiB/s and IOPS, 48/49 write KiB/s and IOPS). Returns 1 when fio reported an error.
fio_record() {
    local f
    IFS=';' read -r -a f <<<"$4"
    if [ "${#f[@]}" -lt 50 ] || [ "${f[4]}" != 0 ]; then
        echo "# $1 run $2: fio $3 gave no result (error ${f[4]:-?})"
        return 1
    fi
    if [ "$3" = randwrite ]; then
        echo "BENCH fio vmm=$1 i=$2 job=$3 iops=${f[48]} bw_kib=${f[47]}"
    else
        echo "BENCH fio vmm=$1 i=$2 job=$3 iops=${f[7]} bw_kib=${f[6]}"
    fi
}

# The guest's initramfs: the standard test initramfs (gzip cpio) with a second, uncompressed
# cpio archive appended (the kernel unpacks concatenated archives; an uncompressed one must
# start 4-byte aligned, hence the zero padding): fio, every file BENCH_FIO_FILES lists, and
# /bench/guest.sh, which the standard init runs (azote_run=/bench/guest.sh).
build_initrd() {
    local s=$WORK/stage f d size
    mkdir -p "$s/bench" "$s/usr/bin"
    ln -s "$(command -v "$FIO")" "$s/usr/bin/fio"
    while read -r f; do
        [ -n "$f" ] || continue
        [ -e "$f" ] || { echo "# blk-run: $f (listed in $FIO_FILES) missing"; return 1; }
        mkdir -p "$s$(dirname "$f")"
        ln -s "$f" "$s$f"
    done <"$FIO_FILES"
    # shellcheck disable=SC2016 # the guest expands these
    {
        echo '#!/bin/sh'
        echo '# Written by bench/blk-run.sh. The figures are read after BENCH-IO-END only: nothing'
        echo '# is printed during the phase (console output would be VM exits of its own).'
        echo 'cd /tmp'
        echo '# Interrupts of the virtio device (the disk is the only one), all CPUs.'
        echo "irqs() { awk 'NR == 1 { n = NF; next } /virtio/ { for (i = 2; i <= n + 1; i++) s += \$i } END { print s + 0 }' /proc/interrupts; }"
        echo 'i0=$(irqs)'
        echo 's0=$(cat /sys/block/vda/stat)'
        echo 'echo BENCH-IO-START'
        echo 'sleep 1'
        echo 'fail=0'
        for f in "${JOBS[@]}"; do
            echo "/usr/bin/fio $(fio_args "$f") --direct=1 --filename=/dev/vda --output=/tmp/$f.terse >/dev/null 2>/tmp/$f.err || fail=1"
        done
        echo 's1=$(cat /sys/block/vda/stat)'
        echo 'i1=$(irqs)'
        echo 'echo BENCH-IO-END'
        echo 'sleep 1'
        echo 'echo "BENCH-IOSTAT $s0 / $s1"'
        echo 'echo "BENCH-IRQS $((i1 - i0))"'
        for f in "${JOBS[@]}"; do
            echo "echo \"BENCH-FIO $f \$(cat /tmp/$f.terse)\"; sed 's/^/fio-stderr: /' /tmp/$f.err"
        done
        echo 'exit $fail'
    } >"$s/bench/guest.sh"
    chmod 755 "$s/bench/guest.sh"
    cp "$GUEST/initramfs.cpio.gz" "$INITRD"
    size=$(stat -c %s "$INITRD")
    head -c $(((512 - size % 512) % 512)) /dev/zero >>"$INITRD"
    # Directories first (the kernel does not create missing parents), links followed.
    (cd "$s" && find . -mindepth 1 | sort | cpio -o -H newc -L 2>/dev/null) >>"$INITRD" || return 1
    echo "# guest initramfs: $(($(stat -c %s "$INITRD") >> 20)) MiB (test initramfs + fio)"
}

# --- VM exits during the fio phase, from in-kernel histograms (as bench/boot-run.sh).
HISTS=(
    "kvm_exit hist:keys=exit_reason"
    "kvm_userspace_exit hist:keys=reason"
    "kvm_pio hist:keys=port.hex,rw"
    "kvm_mmio hist:keys=gpa.hex,type"
)

trace_ready() {
    [ -d "$TRACEFS/events/kvm" ] || mount -t tracefs nodev "$TRACEFS" 2>/dev/null
    [ -w "$TRACEFS/events/kvm/kvm_exit/trigger" ]
}

# names EVENT: "code name ..." for the codes a histogram prints, from the event's format: SVM
# exit codes for kvm_exit (its __print_symbolic on the whole exit_reason), KVM_EXIT_* for
# kvm_userspace_exit (lower case, no prefix, as azote's --exit-stats names them).
names() {
    local fmt code name
    fmt=$(sed -n 's/^print fmt: //p' "$TRACEFS/events/kvm/$1/format")
    case $1 in
        kvm_exit) fmt=${fmt#*'__print_symbolic(REC->exit_reason,'} ;;
        kvm_userspace_exit) fmt=${fmt#*'__print_symbolic(REC->reason,'} ;;
        *) return 0 ;;
    esac
    fmt=${fmt%%)*}
    # Entries: { 0x07b, "io" }, { 0x040 + 14, "PF excp" }, { 2, "KVM_EXIT_" "IO" }.
    grep -o '{[^{}]*}' <<<"$fmt" | while IFS=, read -r code name; do
        code=${code#\{}
        name=$(tr -d '"}' <<<"$name" | sed 's/^ *//; s/ *$//; s/^KVM_EXIT_ *//; s/ /_/g' | tr '[:upper:]' '[:lower:]')
        code=$((code)) 2>/dev/null && [ -n "$name" ] && echo "$code $name"
    done | tr '\n' ' '
}

trace_start() {
    local h
    for h in "${HISTS[@]}"; do echo "${h#* }" >"$TRACEFS/events/kvm/${h%% *}/trigger"; done
}

# trace_stop VMM I: the histograms as records; the triggers are removed.
trace_stop() {
    local h ev
    for h in "${HISTS[@]}"; do
        ev=${h%% *}
        # "{ port: 0x00000000000003f8, rw: 1 } hitcount: 42" -> "key=port=0x3f8,rw=1 count=42"
        awk -v pre="BENCH trace vmm=$1 i=$2 event=$ev" -v names="${NAMES[$ev]:-}" '
            BEGIN { n = split(names, a, " "); for (j = 1; j < n; j += 2) nm[a[j]] = a[j + 1] }
            /^\{/ {
                line = $0; sub(/^\{ */, "", line)
                split(line, p, /\} *hitcount: */)
                key = p[1]; gsub(/ +/, "", key); gsub(/:/, "=", key); sub(/,$/, "", key)
                while (match(key, /0x0+[0-9a-f]/)) key = substr(key, 1, RSTART + 1) substr(key, RSTART + RLENGTH - 1)
                if (match(key, /^[a-z_]+=[0-9]+$/)) {
                    code = substr(key, index(key, "=") + 1)
                    if (code in nm) key = substr(key, 1, index(key, "=")) nm[code]
                }
                print pre, "key=" key, "count=" (p[2] + 0)
            }' "$TRACEFS/events/kvm/$ev/hist"
        echo "!${h#* }" >"$TRACEFS/events/kvm/$ev/trigger"
    done
}

# --- CPU time per thread, without forking (the lab runs at TCG speed).
# cpu_snapshot ROOT_PID: "key group ticks pid" for every thread of ROOT_PID and its descendants
# (group = process-name:thread-name; thread name "main" for the process's first thread,
# "thread" when it has the process's name, io_uring workers iou-wrk-TID as "iou-wrk"), one
# "p<pid> process:ended ticks pid" line per process (its total, which keeps the time of the
# threads that have ended: cpu_records makes a group of that), and every kernel thread as
# "tid kernel:name ticks -" (name up to its first '/': ksoftirqd, kworker...).
cpu_snapshot() {
    local -A kids=()
    local p pid st f queue more procs pcomm t tid tcomm label
    for p in /proc/[0-9]*; do
        read -r st <"$p/stat" 2>/dev/null || continue
        read -r -a f <<<"${st##*) }"
        kids[${f[1]}]+=" ${p#/proc/}"
        if [ "${f[1]}" = 2 ] || [ "${p#/proc/}" = 2 ]; then
            tcomm=${st#*(}
            tcomm=${tcomm%)*}
            tcomm=${tcomm%%/*}
            echo "${p#/proc/} kernel:${tcomm// /_} $((f[11] + f[12])) -"
        fi
    done
    queue=("$1") procs=()
    while [ ${#queue[@]} -gt 0 ]; do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        procs+=("$pid")
        read -r -a more <<<"${kids[$pid]:-}"
        queue+=("${more[@]}")
    done
    for pid in "${procs[@]}"; do
        read -r pcomm <"/proc/$pid/comm" 2>/dev/null || continue
        read -r st <"/proc/$pid/stat" 2>/dev/null || continue
        read -r -a f <<<"${st##*) }"
        echo "p$pid ${pcomm// /_}:ended $((f[11] + f[12])) $pid"
        for t in /proc/"$pid"/task/[0-9]*; do
            tid=${t##*/}
            read -r st <"$t/stat" 2>/dev/null || continue
            read -r tcomm <"$t/comm" 2>/dev/null || continue
            read -r -a f <<<"${st##*) }"
            if [ "$tid" = "$pid" ]; then
                label=main
            elif [ "$tcomm" = "$pcomm" ]; then
                label=thread
            else
                label=${tcomm%%-[0-9]*}
                label=${label// /_}
            fi
            echo "$tid ${pcomm// /_}:$label $((f[11] + f[12])) $pid"
        done
    done
}

# cpu_records VMM I BEFORE AFTER: per group, the ticks used between the snapshots (threads
# born in the phase count from zero; the time of threads that ended in it is the process's
# total less its threads', group PROCESS:ended).
cpu_records() {
    awk -v pre="BENCH cpu vmm=$1 i=$2" 'FNR == NR { t0[$1] = $3; next }
        { v = $3 - ($1 in t0 ? t0[$1] : 0) }
        $1 ~ /^p/ { proc[$4] = v; pg[$4] = $2; next }
        { d[$2] += v; if ($4 != "-") th[$4] += v }
        END {
            for (p in proc) if (proc[p] - th[p] > 0) d[pg[p]] += proc[p] - th[p]
            for (g in d) if (d[g] > 0 || g !~ /^kernel:/) print pre, "group=" g, "ticks=" d[g]
        }' "$3" "$4" | sort
}

# lab_ticks: "busy all guest irq" CPU ticks of this machine (/proc/stat: user nice system idle
# iowait irq softirq steal guest; guest time is part of user).
lab_ticks() {
    awk '$1 == "cpu" { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6, $10, $7 + $8; exit }' /proc/stat
}

# Commands: same kernel, initrd, command line, vCPUs, RAM and image for both. QEMU keeps
# q35's defaults; its disk is the issue's: virtio-blk-pci, aio=io_uring, on the host page
# cache (cache=writeback: tmpfs has no O_DIRECT, so cache=none cannot open the image), as
# azote-blk, which opens the image without O_DIRECT.
vmm_cmd() {
    if [ "$1" = azote ]; then
        CMD=("$AZOTE" --kernel "$GUEST/vmlinuz" --initrd "$INITRD" --cmdline "$CMDLINE"
            --cpus "$CPUS" --mem "$MEM" --disk "path=$IMG" --exit-stats)
    else
        CMD=("$QEMU")
        local d
        for d in "${QEMU_DATA[@]}"; do CMD+=(-L "$d"); done
        # shellcheck disable=SC2054 # commas are QEMU's
        # debug-threads: thread names (CPU 0/KVM...) for the CPU split, nothing else.
        CMD+=(-name bench,debug-threads=on -M q35 -accel kvm -cpu host -smp "$CPUS" -m "$MEM"
            -nodefaults -no-user-config -nographic -serial stdio -no-reboot
            -drive "file=$IMG,if=none,id=d0,format=raw,aio=io_uring,cache=writeback"
            -device virtio-blk-pci,drive=d0
            -kernel "$GUEST/vmlinuz" -initrd "$INITRD" -append "$CMDLINE")
    fi
}

# seconds_between T0 T1 (both $EPOCHREALTIME): seconds with three decimals, no fork.
seconds_between() {
    local d=$((10#${2/./} - 10#${1/./}))
    printf '%d.%03d\n' $((d / 1000000)) $((d % 1000000 / 1000))
}

# watchdog PID DIR: kill a boot that has not reached init in READY_TIMEOUT seconds or not
# ended in BOOT_TIMEOUT.
watchdog() {
    local waited=0
    while kill -0 "$1" 2>/dev/null; do
        sleep 5
        waited=$((waited + 5))
        if { [ ! -f "$2/ready" ] && [ "$waited" -ge "$READY_TIMEOUT" ]; } || [ "$waited" -ge "$BOOT_TIMEOUT" ]; then
            : >"$2/timed_out"
            kill -TERM "$1" 2>/dev/null
            sleep 10
            kill -KILL "$1" 2>/dev/null
            return
        fi
    done
}

# boot_once VMM I TRACED DIR: one boot; the console goes to DIR/console, records to DIR/rec.
boot_once() {
    local vmm=$1 i=$2 traced=$3 dir=$4 pid wd line t0='' t1='' status
    rm -rf "$dir"
    mkdir -p "$dir"
    mkfifo "$dir/con"
    vmm_cmd "$vmm"
    "${CMD[@]}" </dev/null >"$dir/con" 2>"$dir/stderr" &
    pid=$!
    watchdog "$pid" "$dir" &
    wd=$!
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>"$dir/console"
        case $line in
            *AZOTE-GUEST-READY*) : >"$dir/ready" ;;
            *BENCH-IO-START*)
                [ "$traced" = 0 ] || trace_start
                lab_ticks >"$dir/lab0"
                cpu_snapshot "$pid" >"$dir/cpu0"
                t0=$EPOCHREALTIME
                ;;
            *BENCH-IO-END*)
                t1=$EPOCHREALTIME
                cpu_snapshot "$pid" >"$dir/cpu1"
                lab_ticks >"$dir/lab1"
                [ "$traced" = 0 ] || trace_stop "$vmm" "$i" >"$dir/trace"
                ;;
        esac
    done <"$dir/con"
    wait "$pid"
    status=$?
    kill "$wd" 2>/dev/null
    wait "$wd" 2>/dev/null
    [ -n "$t0" ] && [ -z "$t1" ] && [ "$traced" = 1 ] && trace_stop "$vmm" "$i" >/dev/null
    [ -z "$t1" ] || seconds_between "$t0" "$t1" >"$dir/phase"
    echo "$status" >"$dir/status"
}

# boot VMM I TRACED: a boot (retried once if it never reached init), its records.
boot() {
    local vmm=$1 i=$2 traced=$3 dir=$WORK/$1-$2 status timed_out=0 j fail=0 rd wr irqs recs b0 a0 g0 q0 b1 a1 g1 q1
    boot_once "$vmm" "$i" "$traced" "$dir"
    if [ ! -f "$dir/ready" ]; then
        echo "# $vmm run $i: the guest stopped before init (a known lab hang); retrying once"
        tail -n 5 "$dir/console" | sed 's/^/#   console| /'
        boot_once "$vmm" "$i" "$traced" "$dir"
    fi
    status=$(cat "$dir/status")
    [ -f "$dir/timed_out" ] && timed_out=1
    # "BENCH-IOSTAT <vda stat before> / <after>": completed reads are field 1, writes field 5.
    # (No process substitution anywhere: the lab has no /dev/fd.)
    read -r rd wr <<<"$(awk '$1 == "BENCH-IOSTAT" { for (k = 2; k <= NF && $k != "/"; k++) ;
            if (k < NF) print $(k + 1) - $2, $(k + 5) - $6 }' "$dir/console")"
    irqs=$(awk '$1 == "BENCH-IRQS" { print $2 }' "$dir/console")
    recs=$(for j in "${JOBS[@]}"; do
        fio_record "$vmm" "$i" "$j" "$(sed -n "s/^BENCH-FIO $j //p" "$dir/console")"
    done)
    grep -q '^# ' <<<"$recs" && fail=1
    { [ "$status" = 0 ] && grep -qx 'AZOTE-RUN-EXIT 0' "$dir/console"; } || fail=1
    echo "$recs"
    echo "BENCH run vmm=$vmm i=$i traced=$traced status=$status timed_out=$timed_out" \
        "phase_s=$(cat "$dir/phase" 2>/dev/null || echo none) reads=${rd:-none} writes=${wr:-none} irqs=${irqs:-none}"
    if [ -s "$dir/cpu1" ]; then
        cpu_records "$vmm" "$i" "$dir/cpu0" "$dir/cpu1"
        read -r b0 a0 g0 q0 <"$dir/lab0"
        read -r b1 a1 g1 q1 <"$dir/lab1"
        echo "BENCH labcpu vmm=$vmm i=$i busy=$((b1 - b0)) all=$((a1 - a0)) guest=$((g1 - g0)) irq=$((q1 - q0))"
    fi
    if [ "$vmm" = azote ]; then
        sed -n 's/.*info: exits: //p' "$dir/stderr" | sed 's/;.*//' | tr ' ' '\n' | grep '=' |
            while IFS='=' read -r reason count; do
                echo "BENCH azexit vmm=azote i=$i reason=$reason count=$count"
            done
    fi
    if [ "$fail" = 1 ]; then
        echo "# $vmm run $i failed (status $status, timed out $timed_out); console and stderr (last lines):"
        tail -n 30 "$dir/console" | sed 's/^/#   console| /'
        tail -n 15 "$dir/stderr" | sed 's/^/#   stderr| /'
        return 1
    fi
    [ -z "${BENCH_VERBOSE:-}" ] || cat -v "$dir/console" | sed 's/^/#   console| /'
    [ "$traced" = 0 ] || cat "$dir/trace"
    echo "# $vmm run $i$([ "$traced" = 1 ] && echo ' (traced)'): $(progress <<<"$recs")," \
        "phase $(cat "$dir/phase") s, $rd reads + $wr writes, $irqs disk interrupts"
}

# progress: "randread 1234 IOPS, ..." from BENCH fio records.
progress() { awk '$2 == "fio" { sub(/job=/, "", $5); sub(/iops=/, "", $6); s = s (s ? ", " : "") $5 " " $6 " IOPS" } END { print s }'; }

# host_fio I: the same jobs on this machine, against the image file itself. tmpfs has no
# O_DIRECT, so these go through the page cache (--direct=0): the path azote-blk and QEMU take
# for the guests' requests on this image.
host_fio() {
    local j out=$WORK/host-$1 recs fail=0
    mkdir -p "$out"
    recs=$(for j in "${JOBS[@]}"; do
        # shellcheck disable=SC2046 # fio_args is a list of options
        "$FIO" $(fio_args "$j") --direct=0 --filename="$IMG" --output="$out/$j.terse" 2>"$out/$j.err"
        fio_record host "$1" "$j" "$(cat "$out/$j.terse" 2>/dev/null)" ||
            sed 's/^/#   fio stderr| /' "$out/$j.err"
    done)
    grep -q '^# ' <<<"$recs" && fail=1
    echo "$recs"
    echo "# host run $1: $(progress <<<"$recs")"
    return $fail
}

for p in "$AZOTE" "$QEMU" "$FIO"; do
    command -v "$p" >/dev/null || { echo "# blk-run: $p not found"; exit 2; }
done
for f in "$GUEST/vmlinuz" "$GUEST/initramfs.cpio.gz" "$FIO_FILES"; do
    [ -f "$f" ] || { echo "# blk-run: $f missing"; exit 2; }
done
fstype=$(stat -f -c %T "$IMG_DIR")
[ "$fstype" = tmpfs ] || echo "# blk-run: note: $IMG_DIR is $fstype, not tmpfs"
build_initrd || { echo "# blk-run: cannot build the guest initramfs"; exit 2; }
if [ "$TRACE_RUNS" -gt 0 ] && ! trace_ready; then
    echo "# blk-run: no writable $TRACEFS/events/kvm (tracefs, root): exits are not counted"
    TRACE_RUNS=0
fi
declare -A NAMES=()
if [ "$TRACE_RUNS" -gt 0 ]; then
    NAMES[kvm_exit]=$(names kvm_exit)
    NAMES[kvm_userspace_exit]=$(names kvm_userspace_exit)
fi

# The image: every block written once (a sparse tmpfs file would read holes, not pages).
echo "# writing the ${IMG_MIB} MiB image on $IMG_DIR ($fstype)"
rm -f "$IMG"
dd if=/dev/zero of="$IMG" bs=1M count="$IMG_MIB" 2>/dev/null || { echo "# blk-run: cannot write $IMG"; exit 2; }
trap 'rm -rf "$WORK" "$IMG"' EXIT

echo "BENCH info runs=$RUNS trace_runs=$TRACE_RUNS runtime_s=$RUNTIME ramp_s=$RAMP iodepth=$IODEPTH" \
    "ioengine=$IOENGINE cpus=$CPUS mem=$MEM img_mib=$IMG_MIB img_fs=$fstype host_kernel=$(uname -r)" \
    "host_cpus=$(nproc) qemu=$("$QEMU" --version | head -n1 | awk '{ print $4 }')" \
    "fio=$("$FIO" --version)"
failed=0
for ((i = 1; i <= TRACE_RUNS; i++)); do
    for vmm in qemu azote; do boot "$vmm" "t$i" 1 || failed=$((failed + 1)); done
done
# Rounds: the host first, then the two VMMs, who goes first swapped every other round.
for ((i = 1; i <= RUNS; i++)); do
    host_fio "$i" || failed=$((failed + 1))
    order=(azote qemu)
    [ $((i % 2)) = 1 ] || order=(qemu azote)
    for vmm in "${order[@]}"; do boot "$vmm" "$i" 0 || failed=$((failed + 1)); done
done
echo "BENCH done failed=$failed"
[ "$failed" -eq 0 ]
