#!/usr/bin/env bash
# demo.sh — shows a running sbxd doing its job: two users each get a
# sandbox, run Python in it, and cannot see each other's files. Uses the
# `sbx` CLI with the service key sbxd created (/var/lib/sbx/service.key,
# readable by root) unless SBX_SERVICE_KEY is set.
set -euo pipefail
sbx=${SBX_BIN:-sbx}
show() { printf '\n$ %s\n' "$*"; "$@"; }

alice=$($sbx session create --user alice)
bob=$($sbx session create --user bob)
echo "alice's session: $alice"
echo "bob's session:   $bob"

show $sbx exec "$alice" -- python3 -c 'import platform, os; print("alice runs Python", platform.python_version(), "as uid", os.getuid())'
show $sbx exec "$bob" -- python3 -c 'print("bob computes", sum(range(101)))'

printf 'alice-only secret\n' | $sbx write "$alice" /workspace/secret.txt
show $sbx read "$alice" /workspace/secret.txt
echo
echo
echo "bob looks for alice's file:"
show $sbx exec "$bob" --sh 'ls -la /workspace; cat /workspace/secret.txt || echo "bob cannot see it"'
if $sbx cat "$bob" secret.txt >/dev/null 2>&1; then
	echo "DEMO FAILED: bob read alice's file" >&2
	exit 1
fi
echo "bob's sandbox has no secret.txt: the users are isolated."

show $sbx session list
$sbx session end "$alice" >/dev/null
$sbx session end "$bob" >/dev/null
echo
echo "Sessions ended; their workspaces are kept for the users' next sessions."
