#!/usr/bin/env bash
# test_cli.sh — the `sbx` CLI against a real sbxd and real containers:
# session create/list/get/end, exec with the command's exit status and raw
# stdout/stderr, write from stdin, read and cat, --json output that parses,
# snapshots (create, list, show, session create --from, restore, rm),
# and clear errors with exit status 1 (bad key, unknown session) or 2 (usage).
set -u
. "$(dirname "$0")/cli_lib.sh"
cli_start cli

sid=$("$SBX_BIN" session create --user cli-user --label purpose=test)
check "session create prints an id" [ -n "$sid" ]

out=$("$SBX_BIN" exec "$sid" -- python3 -c 'print(6*7)')
check "exec prints stdout" eq "$out" "42"
"$SBX_BIN" exec "$sid" --sh 'echo to-err >&2; exit 3' 2>"$dir/err" >/dev/null
rc=$?
check "exec exits with the command's status" eq "$rc" "3"
check "exec writes stderr to stderr" eq "$(cat "$dir/err")" "to-err"
"$SBX_BIN" exec --timeout 1000 "$sid" -- sleep 30 >/dev/null 2>&1
check "exec exits 124 on timeout" eq "$?" "124"

printf 'hello\nworld\n' | "$SBX_BIN" write "$sid" notes/hello.txt
check "write from stdin" eq "$?" "0"
check "read numbers lines" eq "$("$SBX_BIN" read "$sid" notes/hello.txt)" "$(printf '     1\thello\n     2\tworld')"
check "cat returns bytes" eq "$("$SBX_BIN" cat "$sid" /workspace/notes/hello.txt | od -c | head -1)" "$(printf 'hello\nworld\n' | od -c | head -1)"
printf 'more\n' | "$SBX_BIN" write --append "$sid" notes/hello.txt
check "write --append" eq "$("$SBX_BIN" exec "$sid" -- cat notes/hello.txt)" "$(printf 'hello\nworld\nmore')"

# file commands
"$SBX_BIN" mkdir -p "$sid" src/pkg
printf 'def f():\n    return 1\n' | "$SBX_BIN" write "$sid" src/pkg/m.py
check "ls lists directories first" eq "$("$SBX_BIN" --json ls "$sid" src | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d.get("entries", d) if isinstance(d, dict) else d; print([x["name"] for x in e])')" "['pkg']"
check "glob finds the file" eq "$("$SBX_BIN" glob "$sid" '**/*.py' | grep -c m.py)" "1"
check "grep prints path:line:text" eq "$("$SBX_BIN" grep "$sid" 'return \d' src)" "/workspace/src/pkg/m.py:2:    return 1"
check "edit prints occurrences" eq "$("$SBX_BIN" edit "$sid" src/pkg/m.py 'return 1' 'return 2')" "1"
check "the edit landed" eq "$("$SBX_BIN" exec "$sid" -- python3 -c 'import sys; sys.path.insert(0, "src"); from pkg.m import f; print(f())')" "2"
head -c 2500000 /dev/urandom >"$dir/blob"
"$SBX_BIN" upload "$sid" "$dir/blob" data/blob.bin 2>/dev/null
check "upload" eq "$?" "0"
"$SBX_BIN" download "$sid" data/blob.bin "$dir/blob.back" 2>/dev/null
check "download returns the same bytes" cmp -s "$dir/blob" "$dir/blob.back"
"$SBX_BIN" mv "$sid" data/blob.bin data/moved.bin && "$SBX_BIN" rm -r "$sid" data
check "mv and rm -r" eq "$("$SBX_BIN" stat "$sid" data >/dev/null 2>&1; echo $?)" "1"
check "outside /workspace through the container" grep -q Debian <("$SBX_BIN" cat "$sid" /etc/os-release)

# tokens: a session token reaches its session until rotated
read -r tsid tok < <("$SBX_BIN" --json session create --user cli-tok | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d.get("session", d); print(s["session_id"], d["session_token"])')
check "a session token reaches its session" eq "$(SBX_SERVICE_KEY= SBX_SESSION_TOKEN="$tok" "$SBX_BIN" exec "$tsid" -- echo hi)" "hi"
new=$(SBX_SERVICE_KEY= SBX_SESSION_TOKEN="$tok" "$SBX_BIN" session rotate-token "$tsid")
check "rotate-token prints a new token" eq "${new:0:5}" "sbxt_"
SBX_SERVICE_KEY= SBX_SESSION_TOKEN="$tok" "$SBX_BIN" exec "$tsid" -- echo hi >/dev/null 2>"$dir/err"
check "the old token is refused" grep -q "sbx: UNAUTHENTICATED" "$dir/err"
check "the new token works" eq "$(SBX_SERVICE_KEY= SBX_SESSION_TOKEN="$new" "$SBX_BIN" exec "$tsid" -- echo hi)" "hi"
check "cleanup with a 1 ms idle limit stops it" grep -q "$tsid" <("$SBX_BIN" session cleanup --max-idle 1)
"$SBX_BIN" session end --purge "$tsid" >/dev/null 2>&1

json=$("$SBX_BIN" --json session get "$sid")
check "session get --json parses" eq "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["session"]["user_id"] if "session" in d else d["user_id"])')" "cli-user"
json=$("$SBX_BIN" --json exec "$sid" --sh 'printf "a\tb"; exit 5')
check "exec --json carries output and exit code" eq "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["exit_code"], repr(d["stdout"]))')" "5 'a\\tb'"
check "session list shows it" eq "$("$SBX_BIN" session list --user cli-user | grep -c "$sid")" "1"

SBX_SERVICE_KEY=wrong-wrong-wrong-wrong "$SBX_BIN" session list >/dev/null 2>"$dir/err"
rc=$?
check "a wrong key exits 1" eq "$rc" "1"
check "a wrong key says UNAUTHENTICATED" grep -q "sbx: UNAUTHENTICATED" "$dir/err"
"$SBX_BIN" session get s-nope >/dev/null 2>"$dir/err"
check "unknown session exits 1 with NOT_FOUND" grep -q "sbx: NOT_FOUND" "$dir/err"
"$SBX_BIN" exec >/dev/null 2>&1
check "usage errors exit 2" eq "$?" "2"
for c in exec start shell; do
	"$SBX_BIN" $c --env =x "$sid" -- true >/dev/null 2>"$dir/err"
	check "$c --env with no name exits 2" eq "$?" "2"
	check "... saying what --env wants" grep -q "sbx: --env wants NAME=value" "$dir/err"
done
"$SBX_BIN" session create --user '../etc' >/dev/null 2>"$dir/err"
check "hostile user id is INVALID_ARGUMENT" grep -q "sbx: INVALID_ARGUMENT" "$dir/err"

# snapshots: create (saying how long it froze the session), list, show, a
# fork with session create --from, restore, rm, a bad name
"$SBX_BIN" exec "$sid" --sh 'echo snap-me > /workspace/snap.txt'
snap=$("$SBX_BIN" snapshot create "$sid" --name cli-snap --label k=v 2>"$dir/err")
check "snapshot create prints an id" eq "${snap:0:5}" "snap-"
check "... and says how long it froze the session" grep -Eq "^sbx: frozen [0-9]+ ms; kept workspace" "$dir/err"
check "snapshot list shows it" eq "$("$SBX_BIN" snapshot list --user cli-user | grep -c "^$snap ")" "1"
check "snapshot show names its session" eq "$("$SBX_BIN" snapshot show "$snap" | awk '$1 == "session_id" {print $2}')" "$sid"
fork=$("$SBX_BIN" session create --user cli-user --from "$snap")
check "session create --from forks it" eq "$("$SBX_BIN" exec "$fork" -- cat /workspace/snap.txt)" "snap-me"
"$SBX_BIN" exec "$sid" -- rm /workspace/snap.txt
check "session restore prints the session's id" eq "$("$SBX_BIN" session restore "$sid" "$snap")" "$sid"
check "session restore brings the file back" eq "$("$SBX_BIN" exec "$sid" -- cat /workspace/snap.txt)" "snap-me"
"$SBX_BIN" session end --purge "$fork" >/dev/null
"$SBX_BIN" snapshot rm "$snap" >/dev/null
check "snapshot rm" eq "$?" "0"
"$SBX_BIN" snapshot show "$snap" >/dev/null 2>"$dir/err"
check "... and it is gone (NOT_FOUND)" grep -q "sbx: NOT_FOUND" "$dir/err"
"$SBX_BIN" snapshot create "$sid" --name ../x >/dev/null 2>"$dir/err"
check "a name with path characters is INVALID_ARGUMENT" grep -q "sbx: INVALID_ARGUMENT" "$dir/err"

"$SBX_BIN" session end --purge "$sid" >/dev/null 2>&1 || "$SBX_BIN" session end "$sid" --purge >/dev/null
check "session end" eq "$("$SBX_BIN" --json session get "$sid" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d.get("session",d); print(s["state"])')" "ENDED"

echo "$((checks-fails)) passed, $fails failed" >&2
[ "$fails" -eq 0 ]
