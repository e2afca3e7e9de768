#!/usr/bin/env bash
# test_cli_procs.sh — the process commands of the `sbx` CLI against a real
# sbxd and real containers: exec --stdin, start / ps / stdin / wait /
# output / kill with their exit statuses, --json that parses, and clear
# errors (ended process, unknown id, usage).
set -u
. "$(dirname "$0")/cli_lib.sh"
cli_start cliprocs

sid=$("$SBX_BIN" session create --user cli-procs)
check "session create" [ -n "$sid" ]

check "exec --stdin feeds the command" eq "$(printf 'a\nb\n' | "$SBX_BIN" exec --stdin "$sid" -- wc -l)" "2"

p=$("$SBX_BIN" start "$sid" --sh 'cat; echo closed')
check "start prints a process id" eq "${p#p}" "$(echo "${p#p}" | tr -cd 0-9)"
check "ps lists it running" eq "$("$SBX_BIN" ps "$sid" | awk -v p="$p" '$1 == p { print $2 }')" "running"
echo one | "$SBX_BIN" stdin "$sid" "$p"
check "stdin sends" eq "$?" "0"
"$SBX_BIN" wait --timeout 200 "$sid" "$p" 2>/dev/null
check "wait --timeout exits 124 while it runs" eq "$?" "124"
echo two | "$SBX_BIN" stdin --close "$sid" "$p"
"$SBX_BIN" wait "$sid" "$p" 2>/dev/null
check "wait exits with its status" eq "$?" "0"
check "output is what it printed" eq "$("$SBX_BIN" output "$sid" "$p")" "$(printf 'one\ntwo\nclosed')"
check "output again is empty" eq "$("$SBX_BIN" output "$sid" "$p")" ""
check "ps --json parses" eq "$("$SBX_BIN" --json ps "$sid" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["processes"][0]["state"], d["processes"][0]["exit_code"])')" "exited 0"
echo x | "$SBX_BIN" stdin "$sid" "$p" 2>"$dir/err"
check "stdin to an ended process exits 1" eq "$?" "1"
check "... with FAILED_PRECONDITION" grep -q "sbx: FAILED_PRECONDITION" "$dir/err"

q=$("$SBX_BIN" start "$sid" --sh "trap '' TERM; echo ready; sleep 1020")
# TERM only once the trap is set: wait for "ready" (the bound is a safety net)
for _ in $(seq 1200); do [ -n "$("$SBX_BIN" output "$sid" "$q")" ] && break; sleep 0.1; done
"$SBX_BIN" kill "$sid" "$q"
"$SBX_BIN" wait --timeout 500 "$sid" "$q" 2>/dev/null
check "TERM is ignored by a trap" eq "$?" "124"
"$SBX_BIN" kill --signal KILL "$sid" "$q"
"$SBX_BIN" wait "$sid" "$q" 2>/dev/null
check "KILL ends it (137)" eq "$?" "137"
"$SBX_BIN" kill "$sid" p999999 2>"$dir/err"
check "an unknown process is NOT_FOUND" grep -q "sbx: NOT_FOUND" "$dir/err"
"$SBX_BIN" start "$sid" -- sleep 1021 >/dev/null
check "kill --all reaches it" eq "$("$SBX_BIN" --json kill --all "$sid" | python3 -c 'import json,sys; print(json.load(sys.stdin)["signalled"])')" "1"
"$SBX_BIN" kill --signal HUP "$sid" "$q" 2>/dev/null
check "an unknown signal is a usage error" eq "$?" "2"

echo "$((checks-fails)) passed, $fails failed" >&2
[ "$fails" -eq 0 ]
