# shellcheck shell=bash
# Helpers shared by benchmarks that run a program inside the test guest and count VM exits
# while it runs (bench/net-run.sh; bench/blk-run.sh has its own copies of the same ideas).
# Source it from bash.
#
#   bench_binary_files BINARY            what BINARY loads at run time, one path per line
#   bench_initrd BASE STAGE OUT          BASE (the test initramfs) + STAGE as a cpio archive
#   bench_trace_ready                    tracefs mounted and its kvm triggers writable
#   bench_trace_names EVENT              "code name ..." for a histogram's numeric keys
#   bench_trace_start / bench_trace_stop PREFIX   in-kernel exit histograms, as records

BENCH_TRACEFS=${BENCH_TRACEFS:-/sys/kernel/tracing}

# bench_binary_files BINARY: the shared libraries `ldd` resolves for BINARY and the dynamic
# loader ("name => /path (addr)" and "/path (addr)" lines), the paths as ldd names them.
bench_binary_files() {
    ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# bench_initrd BASE STAGE OUT: OUT = BASE (a gzip cpio archive) padded with zeros to a
# 512-byte boundary, then STAGE archived as an uncompressed newc cpio: the kernel unpacks
# concatenated archives, and an uncompressed one must start aligned. Links in STAGE are
# followed (stage big files as symlinks); directories come first, as the kernel does not
# create missing parents.
bench_initrd() {
    local size
    cp "$1" "$3" || return 1
    size=$(stat -c %s "$3")
    head -c $(((512 - size % 512) % 512)) /dev/zero >>"$3"
    (cd "$2" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -L 2>/dev/null) >>"$3"
}

# --- VM exits from in-kernel histograms (`hist:` triggers on the kvm events): the same
# counts for every VMM, and no per-event output to slow the machine down.
BENCH_HISTS=(
    "kvm_exit hist:keys=exit_reason"
    "kvm_userspace_exit hist:keys=reason"
    "kvm_mmio hist:keys=gpa.hex,type"
    "kvm_pio hist:keys=port.hex,rw"
)

bench_trace_ready() {
    [ -d "$BENCH_TRACEFS/events/kvm" ] || mount -t tracefs nodev "$BENCH_TRACEFS" 2>/dev/null
    [ -w "$BENCH_TRACEFS/events/kvm/kvm_exit/trigger" ]
}

# bench_trace_names EVENT: "code name code name ..." read from the event's print format
# (its __print_symbolic table): exit codes of the CPU (SVM or VMX) for kvm_exit, KVM_EXIT_*
# for kvm_userspace_exit (lower case, without the prefix). Nothing for other events.
bench_trace_names() {
    local fmt field code name
    case $1 in
        kvm_exit) field=exit_reason ;;
        kvm_userspace_exit) field=reason ;;
        *) return 0 ;;
    esac
    fmt=$(sed -n 's/^print fmt: //p' "$BENCH_TRACEFS/events/kvm/$1/format")
    fmt=${fmt#*"__print_symbolic(REC->$field,"}
    fmt=${fmt%%)*}
    # Entries look like { 0x07b, "io" }, { 0x040 + 14, "PF excp" }, { 2, "KVM_EXIT_" "IO" }.
    grep -o '{[^{}]*}' <<<"$fmt" | while IFS=, read -r code name; do
        code=${code#\{}
        name=$(tr -d '"}' <<<"$name" | sed 's/^ *//; s/ *$//; s/^KVM_EXIT_ *//; s/ /_/g' | tr '[:upper:]' '[:lower:]')
        code=$((code)) 2>/dev/null && [ -n "$name" ] && printf '%s %s ' "$code" "$name"
    done
}

bench_trace_start() {
    local h
    for h in "${BENCH_HISTS[@]}"; do echo "${h#* }" >"$BENCH_TRACEFS/events/kvm/${h%% *}/trigger"; done
}

# bench_trace_stop PREFIX: one "PREFIX event=E key=K count=C" line per histogram bucket, then
# the triggers are removed. Numeric exit reasons are named when BENCH_TRACE_NAMES_<event>
# holds the table bench_trace_names printed; hex keys lose their leading zeros.
bench_trace_stop() {
    local h ev names
    for h in "${BENCH_HISTS[@]}"; do
        ev=${h%% *}
        names=BENCH_TRACE_NAMES_$ev
        # "{ port: 0x00000000000003f8, rw: 1 } hitcount: 42" -> "key=port=0x3f8,rw=1 count=42"
        awk -v pre="$1 event=$ev" -v names="${!names:-}" '
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
            }' "$BENCH_TRACEFS/events/kvm/$ev/hist"
        echo "!${h#* }" >"$BENCH_TRACEFS/events/kvm/$ev/trigger"
    done
}
