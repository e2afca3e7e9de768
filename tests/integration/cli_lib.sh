# cli_lib.sh — what the CLI tests (test_cli.sh, test_cli_procs.sh) share:
# check counters and helpers, and a private sbxd on a free loopback port with
# its own state dir, stopped and cleaned up on exit (its log printed when a
# check failed). Source it after naming the test: cli_start NAME.
: "${SBXD_BIN:?run through ctest}" "${SBX_BIN:?run through ctest}"

fails=0 checks=0
ok()   { checks=$((checks+1)); echo "ok   $1" >&2; }
bad()  { checks=$((checks+1)); fails=$((fails+1)); echo "FAIL $1" >&2; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
eq()   { [ "$1" = "$2" ] || { echo "  got:  $(printf %q "$1")" >&2; echo "  want: $(printf %q "$2")" >&2; return 1; }; }

cli_cleanup() {
	[ -n "${sid:-}" ] && "$SBX_BIN" session end --purge "$sid" >/dev/null 2>&1
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	[ "$fails" -gt 0 ] && { echo "---- sbxd log" >&2; cat "$dir/sbxd.log" >&2; }
	# a crashed sbxd leaves its warm pool's mounts: detach them first
	grep -o " $dir/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
	rm -rf --one-file-system "$dir"
}

# Starts sbxd for test NAME and waits until it answers; sets dir, pid,
# SBX_ENDPOINT and SBX_SERVICE_KEY.
cli_start() {
	dir=$(mktemp -d "/tmp/sbx-$1-XXXXXX")
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	export SBX_ENDPOINT="tcp://127.0.0.1:$port"
	export SBX_SERVICE_KEY="$1-test-service-key-0123456789"
	cat >"$dir/sbxd.conf" <<CONF
listen = $SBX_ENDPOINT
log_listen = tcp://127.0.0.1:0
metrics_listen = off
state_dir = $dir
service_key = $SBX_SERVICE_KEY
CONF
	# CI runs the command tests through the agent and without it
	[ "${SBX_TEST_AGENT:-}" = off ] && echo "agent = no" >>"$dir/sbxd.conf"
	"$SBXD_BIN" --config "$dir/sbxd.conf" 2>"$dir/sbxd.log" &
	pid=$!
	trap cli_cleanup EXIT
	# until it answers (or exits); the bound is a safety net, not a budget
	for _ in $(seq 1200); do
		"$SBX_BIN" session list >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}
