#!/usr/bin/env bash
# test_cli_procs.sh — the process commands of the `sbx` CLI against a real
# sbxd and real containers: exec --stdin, start / ps / stdin / wait /
# output / kill with their exit statuses, --json that parses, and clear
# errors (ended process, unknown id, usage).
set -u
: "${SBXD_BIN:?run through ctest}" "${SBX_BIN:?run through ctest}"

fails=0 checks=0
ok()   { checks=$((checks+1)); echo "ok   $1" >&2; }
bad()  { checks=$((checks+1)); fails=$((fails+1)); echo "FAIL $1" >&2; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
eq()   { [ "$1" = "$2" ] || { echo "  got:  $(printf %q "$1")" >&2; echo "  want: $(printf %q "$2")" >&2; return 1; }; }

dir=$(mktemp -d /tmp/sbx-cliprocs-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SBX_ENDPOINT="tcp://127.0.0.1:$port"
export SBX_SERVICE_KEY="cli-procs-test-service-key-0123456789"
cat >"$dir/sbxd.conf" <<CONF
listen = $SBX_ENDPOINT
log_listen = tcp://127.0.0.1:0
state_dir = $dir
service_key = $SBX_SERVICE_KEY
CONF
"$SBXD_BIN" --config "$dir/sbxd.conf" 2>"$dir/sbxd.log" &
pid=$!
cleanup() {
	[ -n "${sid:-}" ] && "$SBX_BIN" session end --purge "$sid" >/dev/null 2>&1
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	[ "$fails" -gt 0 ] && { echo "---- sbxd log" >&2; cat "$dir/sbxd.log" >&2; }
	rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do "$SBX_BIN" session list >/dev/null 2>&1 && break; sleep 0.1; done

sid=$("$SBX_BIN" session create --user cli-procs)
check "session create" [ -n "$sid" ]

check "exec --stdin feeds the command" eq "$(printf 'a\nb\n' | "$SBX_BIN" exec --stdin "$sid" -- wc -l)" "2"

p=$("$SBX_BIN" start "$sid" -- 'cat; echo closed')
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

q=$("$SBX_BIN" start "$sid" -- "trap '' TERM; echo ready; sleep 1020")
for _ in $(seq 100); do [ -n "$("$SBX_BIN" output "$sid" "$q")" ] && break; sleep 0.1; done
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
