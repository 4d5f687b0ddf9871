# shellcheck shell=bash
# expect_bad_input NAME PATTERN... -- COMMAND...: COMMAND must exit 2 with exactly one stderr
# line matching every PATTERN (a user's bad input gets one clear line, nothing else).
# Scratch files go in $W; EXPECT_TIMEOUT (default 20 s) bounds a case that wrongly starts.
expect_bad_input() {
    local name=$1 patterns=() problems=() status lines p limit=${EXPECT_TIMEOUT:-20}
    shift
    while [ "$1" != -- ]; do patterns+=("$1"); shift; done
    shift
    timeout -k 5 "$limit" "$@" </dev/null >"$W/stdout" 2>"$W/stderr"
    status=$?
    [ "$status" != 124 ] || problems+=("still running after $limit s")
    [ "$status" = 2 ] || problems+=("exit status $status, expected 2")
    lines=$(grep -c '' "$W/stderr")
    [ "$lines" = 1 ] || problems+=("stderr has $lines lines, expected exactly 1")
    for p in "${patterns[@]}"; do
        grep -Eqi -- "$p" "$W/stderr" || problems+=("stderr does not match /$p/")
    done
    [ ${#problems[@]} -eq 0 ] || problems+=("stderr: $(head -c 600 "$W/stderr" | tr '\n' '|')")
    tap_result "$name" "${problems[@]}"
}
