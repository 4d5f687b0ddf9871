#!/usr/bin/env bash
# The management API before the guest starts, on the host (nothing boots here): Firecracker's
# pre-boot requests and their answers, and every kind of bad input — malformed JSON, wrong
# types, unknown and missing fields, oversized bodies, unknown paths and methods, requests in
# the wrong lifecycle state, clients that disconnect mid-request, a burst of a thousand
# requests — each with the right status and fault message while the server keeps running.
#
# Usage: AZOTE=build/azote tests/host/api.sh
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
command -v curl >/dev/null || { tap_skip "API tests" "curl is not installed (scripts/deps.sh installs it)"; tap_done; }
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) ||
    { tap_result "guest assets" "scripts/guest-assets.sh failed"; tap_done; }

W=$(mktemp -d "${TMPDIR:-/tmp}/azote-api.XXXXXX")
S=$W/api.sock
VM=
cleanup() { [ -n "$VM" ] && kill "$VM" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
truncate -s 1M "$W/disk.img"

"$AZOTE" --api-sock "$S" </dev/null >"$W/out" 2>"$W/err" &
VM=$!
for _ in $(seq 50); do [ -S "$S" ] && break; sleep 0.1; done
[ -S "$S" ] || { tap_result "azote --api-sock creates its socket" "no socket after 5 s: $(cat "$W/err")"; tap_done; }

# req METHOD PATH [BODY]: sets CODE and BODY_OUT.
req() {
    local data=()
    [ $# -ge 3 ] && data=(--data-binary "$3")
    BODY_OUT=$(curl -s --max-time 10 --unix-socket "$S" -X "$1" "${data[@]}" \
        -w '\n%{http_code}' "http://localhost$2")
    CODE=${BODY_OUT##*$'\n'}
    BODY_OUT=${BODY_OUT%$'\n'*}
}

# expect NAME STATUS FAULT-REGEX METHOD PATH [BODY]: one TAP line.
expect() {
    local name=$1 status=$2 pattern=$3 problems=()
    shift 3
    req "$@"
    [ "$CODE" = "$status" ] || problems+=("status $CODE, expected $status")
    if [ -n "$pattern" ]; then
        grep -Eq -- "$pattern" <<<"$BODY_OUT" || problems+=("body '$BODY_OUT' does not match /$pattern/")
    fi
    tap_result "$name" "${problems[@]}"
}

K=$ASSETS/vmlinuz
FAULT='"fault_message": '

expect "GET / before start: Not started" 200 '"state":"Not started"' GET /
expect "GET /version" 200 '"firecracker_version"' GET /version
expect "GET /machine-config: Firecracker's defaults" 200 '"vcpu_count":1,"mem_size_mib":128,"smt":false' GET /machine-config
expect "PUT /boot-source" 204 '' PUT /boot-source "{\"kernel_image_path\": \"$K\", \"boot_args\": \"console=ttyS0\"}"
expect "PUT /machine-config" 204 '' PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}'
expect "PATCH /machine-config keeps other fields" 204 '' PATCH /machine-config '{"mem_size_mib": 512}'
expect "GET /machine-config after PATCH" 200 '"vcpu_count":2,"mem_size_mib":512' GET /machine-config
expect "PUT /drives/rootfs" 204 '' PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$W/disk.img\", \"is_root_device\": true, \"is_read_only\": false}"
expect "PUT /network-interfaces/eth0" 204 '' PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:AC:10:00:02"}'
expect "GET /vm/config reflects the configuration" 200 '"drive_id":"rootfs".*"is_root_device":true.*"host_dev_name":"tap0"' GET /vm/config

# Bad JSON and bad fields.
expect "malformed JSON: 400" 400 "$FAULT\"malformed JSON" PUT /machine-config '{"vcpu_count": 2,'
expect "not an object: 400" 400 "$FAULT" PUT /machine-config '[1, 2]'
expect "empty body: 400" 400 "$FAULT\"the request needs a JSON body" PUT /boot-source ''
expect "wrong type: 400" 400 'invalid type for `vcpu_count`: string' PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 256}'
expect "negative number: 400" 400 'invalid value for `mem_size_mib`' PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": -5}'
expect "unknown field: 400" 400 'unknown field `cpus`' PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128, "cpus": 2}'
expect "missing field: 400" 400 'missing field `mem_size_mib`' PUT /machine-config '{"vcpu_count": 1}'
expect "duplicate key: 400" 400 "$FAULT" PUT /machine-config '{"vcpu_count": 1, "vcpu_count": 2, "mem_size_mib": 128}'
expect "0 vCPUs: 400" 400 'vCPU number is invalid' PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 128}'
expect "unsupported smt: 400, said" 400 'smt' PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128, "smt": true}'
expect "missing kernel: 400" 400 'kernel file cannot be opened' PUT /boot-source '{"kernel_image_path": "/nonexistent/vmlinuz"}'
expect "drive id mismatch: 400" 400 'does not match the id from the body' PUT /drives/a "{\"drive_id\": \"b\", \"path_on_host\": \"$W/disk.img\", \"is_root_device\": false}"
expect "missing drive file: 400" 400 'Unable to open' PUT /drives/d2 '{"drive_id": "d2", "path_on_host": "/nonexistent.img", "is_root_device": false}'
expect "second root device: 400" 400 'root block device already exists' PUT /drives/d3 "{\"drive_id\": \"d3\", \"path_on_host\": \"$W/disk.img\", \"is_root_device\": true}"
expect "rate limiter: 400, said" 400 'rate limiter' PUT /drives/d4 "{\"drive_id\": \"d4\", \"path_on_host\": \"$W/disk.img\", \"is_root_device\": false, \"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 1}}}"
expect "bad MAC: 400" 400 'guest_mac' PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "01:00:00:00:00:01"}'
expect "TAP used twice: 400" 400 'already in use' PUT /network-interfaces/eth2 '{"iface_id": "eth2", "host_dev_name": "tap0"}'
expect "bad log level: 400" 400 'Invalid log level' PUT /logger '{"level": "Loud"}'
expect "unknown action: 400" 400 'unknown variant `Reboot`' PUT /actions '{"action_type": "Reboot"}'
expect "oversized body: 400 with the limit" 400 'larger than the limit of 51200' PUT /boot-source "$(head -c 60000 /dev/zero | tr '\0' ' ')"

# Paths, methods and lifecycle.
expect "unknown path: 400" 400 'Invalid request method and/or path: GET /nope' GET /nope
expect "unknown method: 400" 400 'Invalid request method and/or path: DELETE /machine-config' DELETE /machine-config
expect "drive path without id: 400" 400 "$FAULT" PUT /drives/ '{}'
expect "PATCH /vm before start: 400" 400 'not supported before starting' PATCH /vm '{"state": "Paused"}'
expect "SendCtrlAltDel before start: 400" 400 'not supported before starting' PUT /actions '{"action_type": "SendCtrlAltDel"}'
expect "PATCH /drives before start: 400" 400 'not supported before starting' PATCH /drives/rootfs '{"drive_id": "rootfs"}'
expect "FlushMetrics without metrics: 400" 400 'metrics system is not initialized' PUT /actions '{"action_type": "FlushMetrics"}'
expect "PUT /metrics" 204 '' PUT /metrics "{\"metrics_path\": \"$W/metrics.json\"}"
expect "PUT /metrics twice: 400" 400 'Reinitialization of metrics' PUT /metrics "{\"metrics_path\": \"$W/m2.json\"}"
expect "FlushMetrics writes a line" 204 '' PUT /actions '{"action_type": "FlushMetrics"}'
PROBLEMS=()
line=$(tail -n1 "$W/metrics.json" 2>/dev/null)
grep -q '"utc_timestamp_ms"' <<<"$line" || PROBLEMS+=("no timestamp in '$line'")
grep -q '"put_api_requests":{[^}]*"machine_cfg_count":' <<<"$line" || PROBLEMS+=("no per-endpoint API counts in '$line'")
tap_result "metrics line: Firecracker's shape, API requests by endpoint" "${PROBLEMS[@]}"
expect "GET /metrics: Prometheus text" 200 'azote_api_requests_total\{method="PUT",endpoint="machine_cfg",status="400"\}' GET /metrics

# Abusive clients: the server must keep answering.
printf 'PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"vcpu' |
    timeout 5 curl -s --unix-socket "$S" telnet://x >/dev/null 2>&1   # half a body, then gone
python3 - "$S" <<'PY' >/dev/null 2>&1
import socket, sys
for junk in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", b"\x00\xff\x01"):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(junk)
    try: s.recv(4096)
    except Exception: pass
    s.close()
PY
expect "after abusive clients the server still answers" 200 '"state":"Not started"' GET /
python3 - "$S" >"$W/burst" 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
req = b"GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n"
s.sendall(req * 1000)
data = b""
while data.count(b"HTTP/1.1 200") < 1000:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
print(data.count(b"HTTP/1.1 200"))
PY
[ "$(cat "$W/burst")" = 1000 ] && tap_result "1000 pipelined requests on one connection: 1000 answers" ||
    tap_result "1000 pipelined requests on one connection: 1000 answers" "got $(cat "$W/burst")"
kill -0 $VM 2>/dev/null && tap_result "azote still runs after all of it" || tap_result "azote still runs after all of it" "it exited"

# SIGTERM before start: exit 0, socket removed.
kill -TERM $VM
wait $VM
status=$?
VM=
PROBLEMS=()
[ "$status" = 0 ] || PROBLEMS+=("exit status $status")
[ -e "$S" ] && PROBLEMS+=("the socket file is left behind")
tap_result "SIGTERM before start: exit 0, socket removed" "${PROBLEMS[@]}"

tap_done
