#!/usr/bin/env bash
# test_cli_exec.sh — how the `sbx` CLI passes commands and scopes cleanups,
# against a real sbxd and real containers: `exec ID -- CMD ARGS...` runs the
# words exactly as given (no shell: quotes, spaces, $ and empty words arrive
# untouched), `--sh 'LINE'` runs one shell line, `start` does the same for
# background processes, usage errors exit 2; `session cleanup --label/--user`
# stops only the matching idle sessions.
set -u
. "$(dirname "$0")/cli_lib.sh"
cli_start cliexec

sid=$("$SBX_BIN" session create --user cli-exec --label app=one)
check "session create" [ -n "$sid" ]

check "exec -- runs argv: python3 -c 'print(1+1)'" eq "$("$SBX_BIN" exec "$sid" -- python3 -c 'print(1+1)')" "2"
check "exec without -- runs argv too" eq "$("$SBX_BIN" exec "$sid" printf '%s|' 'a b' "c'd" '' '$HOME' '*')" "a b|c'd||\$HOME|*|"
check "exec --sh runs one shell line" eq "$("$SBX_BIN" exec "$sid" --sh 'x=$((6*7)); echo $x two | wc -w')" "2"
check "exec -- sh -c LINE is a shell too" eq "$("$SBX_BIN" exec "$sid" -- sh -c 'echo "$0-$1"' x 'y z')" "x-y z"
"$SBX_BIN" exec "$sid" -- 'echo a; echo b' >/dev/null 2>"$dir/err"
rc=$?
check "a lone word with spaces is a program name (126/127)" [ "$rc" = 126 -o "$rc" = 127 ]
check "... and sbx says how to pass a shell line" grep -q -- "--sh" "$dir/err"
"$SBX_BIN" exec "$sid" --sh 'exit 7'
check "exec --sh exits with the line's status" eq "$?" "7"
"$SBX_BIN" exec "$sid" --sh 'echo a' 'echo b' >/dev/null 2>&1
check "--sh takes one line (usage error)" eq "$?" "2"
"$SBX_BIN" exec "$sid" -- >/dev/null 2>&1
check "no command is a usage error" eq "$?" "2"
check "exec --stream with argv streams its output" eq "$("$SBX_BIN" exec --stream "$sid" -- printf '%s\n' 'x y')" "x y"

p=$("$SBX_BIN" start "$sid" -- printf '%s|' 'x y' "it's")
check "start -- runs argv" eq "$("$SBX_BIN" wait "$sid" "$p" >/dev/null; "$SBX_BIN" output "$sid" "$p")" "x y|it's|"
check "ps shows the words quoted" eq "$("$SBX_BIN" --json ps "$sid" | python3 -c 'import json,sys; print([p["command"] for p in json.load(sys.stdin)["processes"] if p["process_id"] == sys.argv[1]][0])' "$p")" "printf '%s|' 'x y' 'it'\\''s'"
q=$("$SBX_BIN" start "$sid" --sh 'echo $((6*7))')
check "start --sh runs a shell line" eq "$("$SBX_BIN" wait "$sid" "$q" >/dev/null; "$SBX_BIN" output "$sid" "$q")" "42"

# cleanup scoped by label and user: every session here is idle past 1 ms by
# the time each cleanup runs (each CLI call is a process start and a round trip)
s2=$("$SBX_BIN" session create --user cli-exec-2 --label app=two)
s3=$("$SBX_BIN" session create --user cli-exec-3 --label app=two)
check "cleanup --label app=two stops only those" eq "$("$SBX_BIN" session cleanup --max-idle 1 --label app=two | sort)" "$(printf '%s\n' "$s2" "$s3" | sort)"
"$SBX_BIN" exec "$s2" -- true
check "cleanup --user stops only that user's" eq "$("$SBX_BIN" session cleanup --max-idle 1 --user cli-exec-2 --user nobody)" "$s2"
check "cleanup --label and --user must both match" eq "$("$SBX_BIN" session cleanup --max-idle 1 --label app=one --user cli-exec-2)" ""
"$SBX_BIN" session cleanup --label 'bad key=v' >/dev/null 2>"$dir/err"
check "a malformed label is INVALID_ARGUMENT" grep -q "sbx: INVALID_ARGUMENT" "$dir/err"
"$SBX_BIN" session cleanup --label novalue >/dev/null 2>&1
check "--label without = is a usage error" eq "$?" "2"
s4=$("$SBX_BIN" session create --user cli-exec-4)
check "an unscoped cleanup stops any idle session" grep -qx "$s4" <("$SBX_BIN" session cleanup --max-idle 1)
"$SBX_BIN" session end --purge "$s4" >/dev/null
"$SBX_BIN" session end --purge "$s2" >/dev/null
"$SBX_BIN" session end --purge "$s3" >/dev/null

echo "$((checks-fails)) passed, $fails failed" >&2
[ "$fails" -eq 0 ]
