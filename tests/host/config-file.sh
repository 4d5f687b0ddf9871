#!/usr/bin/env bash
# Bad input through the config file and the API options: each must stop azote before anything
# runs, with exit status 2 and exactly one stderr line naming the problem.
#
# Usage: AZOTE=build/azote tests/host/config-file.sh
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$ROOT/tests/lib/tap.sh"
. "$ROOT/tests/lib/expect-bad.sh"
EXPECT_TIMEOUT=10

AZOTE=$(realpath -m "${AZOTE:-$ROOT/build/azote}")
ASSETS=$("$ROOT/scripts/guest-assets.sh" --print-dir) ||
    { tap_result "guest assets" "scripts/guest-assets.sh failed"; tap_done; }
W=$(mktemp -d "${TMPDIR:-/tmp}/azote-cfg.XXXXXX")
trap 'rm -rf "$W"' EXIT
K=$ASSETS/vmlinuz

cfg() { cat >"$W/$1"; }

expect_bad_input "--no-api without --config-file" 'no-api' 'config-file' -- "$AZOTE" --no-api
expect_bad_input "--config-file with --kernel" 'config-file' 'kernel' -- \
    "$AZOTE" --config-file "$W/x.json" --kernel "$K"
expect_bad_input "missing config file" 'nope\.json' -- "$AZOTE" --config-file "$W/nope.json" --no-api
printf '{"boot-source": {"kernel_image_path": ' >"$W/trunc.json"
expect_bad_input "truncated JSON" 'trunc\.json' 'line 1' -- "$AZOTE" --config-file "$W/trunc.json" --no-api
cfg unknown.json <<JSON
{"boot-source": {"kernel_image_path": "$K"}, "machines": {}}
JSON
expect_bad_input "unknown section" 'unknown field `machines`' -- "$AZOTE" --config-file "$W/unknown.json" --no-api
cfg balloon.json <<JSON
{"boot-source": {"kernel_image_path": "$K"}, "balloon": {"amount_mib": 10, "deflate_on_oom": false}}
JSON
expect_bad_input "unsupported device" 'balloon' 'does not support' -- "$AZOTE" --config-file "$W/balloon.json" --no-api
cfg noboot.json <<JSON
{"machine-config": {"vcpu_count": 1, "mem_size_mib": 128}}
JSON
expect_bad_input "no boot source" 'missing field `boot-source`' -- "$AZOTE" --config-file "$W/noboot.json" --no-api
cfg badtype.json <<JSON
{"boot-source": {"kernel_image_path": "$K"}, "machine-config": {"vcpu_count": true, "mem_size_mib": 128}}
JSON
expect_bad_input "wrong type in a section" 'vcpu_count' 'boolean' -- "$AZOTE" --config-file "$W/badtype.json" --no-api
cfg drives.json <<JSON
{"boot-source": {"kernel_image_path": "$K"}, "drives": {"drive_id": "x"}}
JSON
expect_bad_input "drives not an array" 'drives' 'array' -- "$AZOTE" --config-file "$W/drives.json" --no-api
cfg nodisk.json <<JSON
{"boot-source": {"kernel_image_path": "$K"},
 "drives": [{"drive_id": "x", "path_on_host": "$W/absent.img", "is_root_device": false}]}
JSON
expect_bad_input "drive file missing" 'absent\.img' -- "$AZOTE" --config-file "$W/nodisk.json" --no-api
echo notasocket >"$W/file"
expect_bad_input "--api-sock on an existing file" 'file' -- "$AZOTE" --api-sock "$W/file"

tap_done
