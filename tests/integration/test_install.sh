#!/usr/bin/env bash
# test_install.sh — `cmake --install` into a scratch prefix gives sbxd, sbx,
# libsbx (shared and static), its one public header and a pkg-config file
# that a C program can build against; the shared library exports only the
# sbx_ API. usage: test_install.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d /tmp/sbx-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -1)
for f in bin/sbxd bin/sbx include/sbx.h; do
	[ -e "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
done
ls "$libdir"/libsbx.so* "$libdir"/libsbx.a >/dev/null
exported=$(nm -D --defined-only "$libdir"/libsbx.so | awk '$2 == "T" {print $3}')
if echo "$exported" | grep -qv '^sbx_'; then
	echo "FAIL: libsbx.so exports more than the sbx_ API:" >&2
	echo "$exported" | grep -v '^sbx_' | head >&2
	exit 1
fi
cat >"$prefix/hello.c" <<'C'
#include <stdio.h>
#include <sbx.h>
int main(void) {
	sbx_options o = { .endpoint = "tcp://127.0.0.1:1", .connect_timeout_ms = 200, .timeout_ms = 500 };
	sbx_client *c = NULL;
	sbx_session s;
	if (sbx_client_open(&o, &c) != SBX_OK) return 1;
	sbx_err rv = sbx_session_get(c, "s-x", &s);
	printf("%s %s\n", sbx_version(), sbx_err_name(rv));
	sbx_client_close(c);
	return rv == SBX_UNAVAILABLE || rv == SBX_DEADLINE_EXCEEDED ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
# shellcheck disable=SC2086
"${CC:-cc}" ${EXTRA_CFLAGS:-} -o "$prefix/hello" "$prefix/hello.c" $(pkg-config --cflags --libs libsbx) -Wl,-rpath,"$libdir"
out=$("$prefix/hello")
echo "installed client ran: $out"
"$prefix/bin/sbxd" --version
echo "1 passed, 0 failed"
