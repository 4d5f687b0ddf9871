#!/usr/bin/env bash
# The management API with real guests: curl drives the whole lifecycle over the Unix socket
# (boot source, machine, a drive and a network interface, start, pause, resume, metrics,
# Ctrl-Alt-Del ending the guest with exit 0); Firecracker's getting-started sequence of requests
# works unchanged; a Firecracker-style config file boots without the API.
#
# Runs inside the lab (tests/run.sh packs azote, its cards, curl and iproute2's ip there), or on
# a host with VT-x/AMD-V inside a network namespace of its own (it creates tap0).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab-boot.sh"

AZOTE=${AZOTE:-azote}
GUEST=${AZOTE_GUEST:-/lab/guest}
K=$GUEST/vmlinuz
I=$GUEST/initramfs.cpio.gz
IP=$(PATH=/lab/bin:/usr/sbin:/sbin:$PATH command -v ip)
W=$(mktemp -d)
S=$W/api.sock
OUT=$W/stdout ERR=$W/stderr STATUS= BOOT_TIMEOUT=${AZOTE_BOOT_TIMEOUT:-120}
VM=
trap '[ -n "$VM" ] && kill -KILL $VM 2>/dev/null; "$IP" link del tap0 2>/dev/null; rm -rf "$W"' EXIT
truncate -s 16M "$W/data.img"
"$IP" tuntap add tap0 mode tap multi_queue && "$IP" link set tap0 up ||
    { tap_result "set up tap0" "ip tuntap failed"; tap_done; }

api() { # api METHOD PATH [BODY]: prints the body, then the status on its own line
    local data=()
    [ $# -ge 3 ] && data=(--data-binary "$3")
    curl -s --max-time 60 --unix-socket "$S" -X "$1" "${data[@]}" -w '\n%{http_code}' "http://localhost$2"
}
status_of() { api "$@" | tail -n1; }
# start_api: azote with only an API socket; waits for the socket.
start_api() {
    rm -f "$S"
    "$AZOTE" --api-sock "$S" </dev/null >"$W/out" 2>"$W/err" &
    VM=$!
    for _ in $(seq 100); do [ -S "$S" ] && return 0; sleep 0.1; done
    return 1
}
wait_console() { # wait_console PATTERN SECONDS
    for _ in $(seq $(($2 * 10))); do tr -d '\r' <"$W/out" | grep -q "$1" && return 0; sleep 0.1; done
    return 1
}
finish_vm() { # finish_vm SECONDS: wait for azote to exit; sets VM_STATUS
    for _ in $(seq $(($1 * 10))); do kill -0 $VM 2>/dev/null || break; sleep 0.1; done
    kill -0 $VM 2>/dev/null && { kill -KILL $VM; VM_STATUS=killed; wait $VM 2>/dev/null; VM=; return; }
    wait $VM; VM_STATUS=$?; VM=
}
show() { tap_indent "    | " <"$W/out"; tap_indent "    stderr| " <"$W/err"; }
ticks() { tr -d '\r' <"$W/out" | grep -c '^TICK$'; }

# --- The whole lifecycle through the API.
echo "# lifecycle through the API"
start_api || { tap_result "azote --api-sock: socket" "none"; tap_done; }
P=()
[ "$(status_of PUT /logger "{\"log_path\": \"$W/azote.log\", \"level\": \"Info\", \"show_level\": true, \"show_log_origin\": true}")" = 204 ] || P+=("PUT /logger")
[ "$(status_of PUT /metrics "{\"metrics_path\": \"$W/metrics.json\"}")" = 204 ] || P+=("PUT /metrics")
cat >"$W/boot.json" <<JSON
{"kernel_image_path": "$K", "initrd_path": "$I",
 "boot_args": "console=ttyS0 quiet azote_run=\"while :; do echo TICK; sleep 0.5; done\""}
JSON
[ "$(status_of PUT /boot-source "$(cat "$W/boot.json")")" = 204 ] || P+=("PUT /boot-source")
[ "$(status_of PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}')" = 204 ] || P+=("PUT /machine-config")
[ "$(status_of PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$W/data.img\", \"is_root_device\": false, \"is_read_only\": false}")" = 204 ] || P+=("PUT /drives/data")
[ "$(status_of PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}')" = 204 ] || P+=("PUT /network-interfaces/eth0")
[ "$(status_of PUT /actions '{"action_type": "InstanceStart"}')" = 204 ] || P+=("InstanceStart")
tap_result "configure boot source, machine, drive, interface; InstanceStart: 204s" "${P[@]}"

P=()
wait_console '^TICK$' 120 || P+=("the guest never ran its command")
api GET / | grep -q '"state":"Running"' || P+=("GET / does not say Running")
tap_result "the guest runs; GET / says Running" "${P[@]}"

P=()
[ "$(status_of PATCH /vm '{"state": "Paused"}')" = 204 ] || P+=("PATCH /vm Paused refused")
api GET / | grep -q '"state":"Paused"' || P+=("GET / does not say Paused")
sleep 1
before=$(ticks)
sleep 4
[ "$(ticks)" = "$before" ] || P+=("the guest printed $(( $(ticks) - before )) lines while paused")
tap_result "pause: the vCPUs stop (no guest output for 4 s), GET / says Paused" "${P[@]}"
P=()
[ "$(status_of PATCH /vm '{"state": "Resumed"}')" = 204 ] || P+=("PATCH /vm Resumed refused")
sleep 4
[ "$(ticks)" -gt "$before" ] || P+=("no guest output after resume")
api GET / | grep -q '"state":"Running"' || P+=("GET / does not say Running")
tap_result "resume: the guest goes on" "${P[@]}"

P=()
api GET /metrics >"$W/prom"
grep -q '^azote_vcpu_exits_total{reason="io"}' "$W/prom" || P+=("no vCPU exit counters")
grep -q 'azote_device_counter{kind="block",id="data",counter="read_ops"}' "$W/prom" || P+=("no block device counters")
grep -q 'azote_device_counter{kind="net",id="eth0",counter="rx_packets"}' "$W/prom" || P+=("no network counters")
grep -q 'azote_guest_uptime_seconds [1-9]' "$W/prom" || P+=("no guest uptime")
[ "$(status_of PUT /actions '{"action_type": "FlushMetrics"}')" = 204 ] || P+=("FlushMetrics refused")
tail -n1 "$W/metrics.json" | grep -q '"vcpu":{[^}]*"exit_io"' || P+=("the metrics file has no vCPU exits")
tail -n1 "$W/metrics.json" | grep -q '"block_data":{' || P+=("the metrics file has no drive counters")
[ ${#P[@]} -eq 0 ] || P+=("$(head -c 600 "$W/prom" | tr '\n' '|')")
tap_result "metrics: Prometheus text at GET /metrics and JSON lines on FlushMetrics" "${P[@]}"

P=()
api PUT /boot-source "$(cat "$W/boot.json")" | grep -q 'not supported after starting' || P+=("PUT /boot-source after start was not refused")
api PUT /actions '{"action_type": "InstanceStart"}' | grep -q 'not supported after starting' || P+=("a second InstanceStart was not refused")
tap_result "after start, pre-boot requests get 400 with Firecracker's message" "${P[@]}"

P=()
sent=0
for _ in $(seq 20); do
    [ "$(status_of PUT /actions '{"action_type": "SendCtrlAltDel"}')" = 204 ] && { sent=1; break; }
    sleep 1
done
[ $sent = 1 ] || P+=("SendCtrlAltDel never accepted")
finish_vm 60
[ "$VM_STATUS" = 0 ] || P+=("azote exit status $VM_STATUS, expected 0")
tr -d '\r' <"$W/out" | grep -q 'reboot: Restarting system' || P+=("the guest did not restart")
[ ${#P[@]} -eq 0 ] || show
tap_result "SendCtrlAltDel ends the guest; azote exits 0" "${P[@]}"
P=()
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z \[azote:[0-9]+:INFO:[a-z_]+\.c:[0-9]+\] ' "$W/azote.log" ||
    P+=("no timestamped, leveled line with origin in the log file: $(head -3 "$W/azote.log" | tr '\n' '|')")
tap_result "logger: timestamped lines with level and origin in the log file" "${P[@]}"

# --- Firecracker's getting-started requests, unchanged (the guest prints what it got).
echo "# Firecracker's getting-started sequence"
start_api || { tap_result "azote --api-sock: socket" "none"; tap_done; }
cp "$W/data.img" "$W/rootfs.ext4"
RUN='cat /proc/cmdline; ls /dev/vda && echo HAS-VDA; cat /sys/class/net/eth0/address'
P=()
for r in \
    "PUT|/logger|{\"log_path\": \"$W/fc.log\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": true}" \
    "PUT|/boot-source|{\"kernel_image_path\": \"$K\", \"initrd_path\": \"$I\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off quiet azote_run=\\\"$RUN\\\"\"}" \
    "PUT|/drives/rootfs|{\"drive_id\": \"rootfs\", \"path_on_host\": \"$W/rootfs.ext4\", \"is_root_device\": true, \"is_read_only\": false}" \
    "PUT|/network-interfaces/net1|{\"iface_id\": \"net1\", \"guest_mac\": \"06:00:AC:10:00:02\", \"host_dev_name\": \"tap0\"}" \
    "PUT|/actions|{\"action_type\": \"InstanceStart\"}"; do
    IFS='|' read -r m p b <<<"$r"
    sleep 0.015
    c=$(status_of "$m" "$p" "$b")
    [ "$c" = 204 ] || P+=("$m $p: $c")
done
finish_vm 120
out=$(tr -d '\r' <"$W/out")
[ "$VM_STATUS" = 0 ] || P+=("azote exit status $VM_STATUS")
grep -q 'root=/dev/vda rw' <<<"$out" || P+=("the kernel command line has no root=/dev/vda rw")
grep -q 'pci=off' <<<"$out" && P+=("pci=off reached the guest (its devices are PCI)")
grep -q HAS-VDA <<<"$out" || P+=("the guest has no /dev/vda")
grep -q '06:00:ac:10:00:02' <<<"$out" || P+=("eth0 does not have the configured MAC")
[ ${#P[@]} -eq 0 ] || show
tap_result "Firecracker's getting-started requests boot a guest with its root drive and interface" "${P[@]}"

# --- A config file boots without the API.
echo "# --config-file, --no-api"
cat >"$W/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$K", "initrd_path": "$I",
                  "boot_args": "console=ttyS0 quiet azote_run=\"echo CPUS \$(nproc); cat /sys/class/net/eth0/address; ls /dev/vda\""},
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 192, "smt": false},
  "drives": [{"drive_id": "data", "path_on_host": "$W/data.img", "is_root_device": false, "is_read_only": true}],
  "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:09"}],
  "balloon": null, "vsock": null
}
JSON
vm_boot "azote --config-file vm.json --no-api" "$AZOTE" --config-file "$W/vm.json" --no-api
P=()
[ "$STATUS" = 0 ] || P+=("exit status $STATUS")
grep -q '^CPUS 2' "$OUT.txt" || P+=("the guest does not have 2 vCPUs")
grep -q '06:00:ac:10:00:09' "$OUT.txt" || P+=("eth0 does not have the file's MAC")
grep -q '^/dev/vda' "$OUT.txt" || P+=("no /dev/vda")
tap_result "--config-file boots the VM it describes, no API socket" "${P[@]}"

tap_done
