#!/usr/bin/env bash
# gvisor.sh — installs gVisor (Debian's runsc package) and registers it with
# the Docker engine, so sessions can ask for isolation gvisor. Idempotent;
# run as root. deploy/install.sh --gvisor and deploy/deps.sh call it.
#
# The engine's /etc/docker/daemon.json is merged, never replaced: every key
# already there stays, and only runtimes.NAME (default runsc; sbxd's
# gvisor_runtime setting names it) is added or brought up to date. The
# file is rewritten atomically (a backup beside it) under a lock, and the
# engine re-reads it on SIGHUP — it is never restarted, so running
# containers are untouched.
#
# runtimeArgs:
#   --network=none  sbx sessions run with network mode none; without this
#                   runsc refuses them ("cannot run with network enabled in
#                   root network namespace")
#   --host-uds=open the in-sandbox agent connects to sbxd's per-session unix
#                   socket in a host directory mounted into the container;
#                   gVisor refuses host socket connections unless allowed
#                   (open = connect to existing sockets, never create them)
# The platform is runsc's default (ptrace in Debian bookworm's build);
# --platform=kvm hung at create on these machines.
#
# usage: deploy/gvisor.sh [--name NAME] [--check]
#   --check: install nothing; exit 0 when the engine lists NAME, 1 if not
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
name=runsc
check=0
while [ $# -gt 0 ]; do
	case $1 in
	--name) name=$2; shift 2 ;;
	--check) check=1; shift ;;
	*) echo "usage: $0 [--name NAME] [--check]" >&2; exit 2 ;;
	esac
done
say() { printf '[gvisor] %s\n' "$*" >&2; }
conf=/etc/docker/daemon.json

args='["--network=none", "--host-uds=open"]'
# engine_lists NAME [ARGS]: the engine lists runtime NAME (with runtimeArgs ARGS)
engine_lists() {
	curl -sf --unix-socket /var/run/docker.sock http://localhost/v1.41/info |
	    python3 -c 'import json, sys
r = json.load(sys.stdin).get("Runtimes", {}).get(sys.argv[1])
sys.exit(0 if r is not None and (len(sys.argv) < 3 or r.get("runtimeArgs") == json.loads(sys.argv[2])) else 1)' "$@"
}
if [ "$check" = 1 ]; then
	engine_lists "$name"
	exit
fi
[ "$(id -u)" = 0 ] || { echo "gvisor.sh: run as root (sudo)" >&2; exit 1; }

if ! dpkg-query -W -f='${Status}' runsc 2>/dev/null | grep -q 'install ok installed'; then
	say "installing Debian's runsc"
	apt-get update -qq
	apt-get install -y -qq runsc >/dev/null
fi
runsc=$(command -v runsc)
say "$($runsc --version | head -1) at $runsc"

mkdir -p /etc/docker
exec 9>"$conf.lock"
flock 9
changed=$(python3 - "$conf" "$name" "$runsc" "$args" <<'EOF'
import json, os, sys
conf, name, path, args = sys.argv[1:5]
want = {"path": path, "runtimeArgs": json.loads(args)}
try:
    with open(conf) as f:
        text = f.read()
except FileNotFoundError:
    text = ""
d = json.loads(text) if text.strip() else {}
if not isinstance(d, dict):
    sys.exit(conf + ": not a JSON object; fix it by hand")
rts = d.setdefault("runtimes", {})
if rts.get(name) == want:
    print("no")
    sys.exit(0)
if name in rts:
    print("replacing runtimes.%s %s" % (name, json.dumps(rts[name])), file=sys.stderr)
rts[name] = want
if text:
    with open(conf + ".bak", "w") as f:
        f.write(text)
tmp = conf + ".tmp"
with open(tmp, "w") as f:
    json.dump(d, f, indent=2)
    f.write("\n")
os.chmod(tmp, 0o644)
os.rename(tmp, conf)
print("yes")
EOF
)
if [ "$changed" = yes ]; then
	say "registered runtime $name in $conf (other keys kept; the old file is $conf.bak)"
fi
if ! engine_lists "$name" "$args"; then
	pid=$(pidof dockerd || true)
	[ -n "$pid" ] || { echo "gvisor.sh: no dockerd runs; start the engine, it reads $conf" >&2; exit 1; }
	say "asking the engine (pid $pid) to reload $conf (SIGHUP; no restart)"
	kill -HUP $pid
	for _ in $(seq 100); do engine_lists "$name" "$args" && break; sleep 0.1; done
	engine_lists "$name" "$args" || { echo "gvisor.sh: the engine did not list runtime $name after SIGHUP; see its log" >&2; exit 1; }
fi
say "the Docker engine lists runtime $name"
