#!/usr/bin/env bash
# tests/run.sh — the test command. Installs what the tests need, builds the
# five runtime images (cached: only what changed is rebuilt), then:
#   1. builds everything (gcc, warnings as errors) and runs every test with
#      ctest against the real Docker engine;
#   2. builds again with clang, AddressSanitizer + UndefinedBehaviorSanitizer
#      and libFuzzer instrumentation, runs every test again (sbxd itself runs
#      sanitized, and its clean exit is checked), and runs each fuzz target
#      for a bounded time from a seed corpus.
#   3. installs the Python client in a virtual environment and runs its
#      pytest suite against the gcc build's sbxd.
# Needs root (it installs packages and drives Docker); it re-runs itself
# with sudo when started as another user: bash tests/run.sh
# SBX_FUZZ_SECONDS (default 60) sets each fuzz target's time.
set -euo pipefail
[ "$(id -u)" = 0 ] || exec sudo -E bash "$0" "$@"   # needs root: packages, Docker, /usr/local
top=$(cd "$(dirname "$0")/.." && pwd)
fuzz_seconds=${SBX_FUZZ_SECONDS:-60}
bash "$top/deploy/deps.sh"
bash "$top/deploy/images/build-all.sh"   # each skipped when up to date

echo "== gcc build, all tests" >&2
build=$top/build-test
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=-Werror >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure --timeout 900)

echo "== Python client against the gcc build's sbxd" >&2
SBXD_BIN="$build/sbxd" SBX_BIN="$build/sbx" timeout 2400 bash "$top/client/python/run_tests.sh"

echo "== web app (client/web: HTTP API, WebSocket, real Chromium) against the gcc build's sbxd" >&2
SBXD_BIN="$build/sbxd" timeout 900 bash "$top/client/web/run_tests.sh"

echo "== clang ASan/UBSan build, all tests again" >&2
san=$top/build-sanitize
CC=clang cmake -S "$top" -B "$san" -DCMAKE_BUILD_TYPE=Debug -DSBX_SANITIZE=ON -DSBX_FUZZ=ON \
	-DCMAKE_C_FLAGS=-Werror >/dev/null
cmake --build "$san" -j"$(nproc)"
# nng 1.5's own leak when a peer breaks an ipc listener: see the file
(cd "$san" && LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0" \
	ctest --output-on-failure --timeout 900)

echo "== fuzzing, ${fuzz_seconds}s per target" >&2
corpus=$(mktemp -d /tmp/sbx-corpus-XXXXXX)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/fuzz_rpc" "$corpus/fuzz_path" "$corpus/fuzz_agent_frame_sbxd" "$corpus/fuzz_agent_frame_agent"
"$san/tests/fuzz/fuzz_seeds" "$corpus/fuzz_rpc"
# A finding keeps its input under build-sanitize/fuzz-findings (the corpus
# is temporary) and prints the fuzzer's report, so CI's output says what broke.
findings=$san/fuzz-findings
for t in fuzz_rpc fuzz_path fuzz_agent_frame_sbxd fuzz_agent_frame_agent; do
	mkdir -p "$findings/$t"
	if ! (cd "$corpus" && "$san/tests/fuzz/$t" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
		-artifact_prefix="$findings/$t/" "$corpus/$t" >"$findings/$t.log" 2>&1); then
		grep -v -E '^#[0-9]+' "$findings/$t.log" | tail -n 80 >&2
		for a in "$findings/$t"/*; do
			[ -f "$a" ] && echo "fuzz $t: finding $a, base64 $(base64 -w0 "$a")" >&2
		done
		echo "fuzz $t: FAILED (replay: $san/tests/fuzz/$t FILE)" >&2
		exit 1
	fi
	tail -n 4 "$findings/$t.log"
	echo "fuzz $t: no crash in ${fuzz_seconds}s" >&2
done
