#!/usr/bin/env bash
# Start-up and pause-memory benchmark of sandbox against its floor, in one
# hyperfine run, as an unprivileged user. Usage (root installs the peers and
# drops to BENCH_USER; a normal user runs as itself):
#   bench/startup.sh            # writes bench/results/startup.{md,json}
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"

if [ "$(id -u)" = 0 ]; then
	need=()
	for p in hyperfine catatonit uidmap; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
	if [ ${#need[@]} -gt 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
	fi
	user=${BENCH_USER:-sandbox-e2e}
	id "$user" >/dev/null 2>&1 || { echo "bench: user $user missing: run hack/setup-test-host.sh or set BENCH_USER" >&2; exit 1; }
	work=$(mktemp -d /tmp/sandbox-bench.XXXXXX)
	chmod 755 "$work"
	go build -trimpath -o "$work/sandbox" ./cmd/sandbox
	cp bench/true-pod.yaml "$work/"
	chown -R "$user" "$work"
	# On a tmpfs, as systemd-logind's /run/user/UID is (see run.sh).
	runtime_dir="$work/run"
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && runtime_dir=$(mktemp -d /dev/shm/sandbox-bench-rt.XXXXXX)
	install -d -m 700 -o "$user" "$runtime_dir"
	trap 'rm -rf "$work" "$runtime_dir"' EXIT # also when the user part fails
	setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
		env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="$runtime_dir" HOME="$work" \
		BENCH_BIN="$work/sandbox" BENCH_POD="$work/true-pod.yaml" BENCH_OUT="$work" bash "$0"
	cp "$work"/startup.* "$out/"
	cat "$out/startup.md"
	exit 0
fi

bin=${BENCH_BIN:-}
pod=${BENCH_POD:-bench/true-pod.yaml}
dest=${BENCH_OUT:-$out}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/sandbox
	go build -trimpath -o "$bin" ./cmd/sandbox
fi
command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (apt-get install hyperfine)" >&2; exit 1; }

echo "# sandbox start-up, $(date -u +%F), $(uname -r), $(nproc) cores, uid $(id -u)" > "$dest/startup.md"
hyperfine -N --warmup 5 --runs 60 --export-json "$dest/startup.json" --export-markdown "$dest/startup-table.md" \
	-n 'unshare -Urnpiu --fork --mount-proc true' 'unshare -Urnpiu --fork --mount-proc true' \
	-n 'unshare -Urn true' 'unshare -Urn true' \
	-n 'sandbox run true-pod.yaml' "$bin run $pod" \
	-n 'sandbox run -- true' "$bin run -- true" >/dev/null
cat "$dest/startup-table.md" >> "$dest/startup.md"
python3 - "$dest/startup.json" >> "$dest/startup.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
floor = r[0]["median"]
print()
for x in r:
    print(f"- {x['command']}: median {x['median']*1000:.2f} ms (min {x['min']*1000:.2f}, max {x['max']*1000:.2f}), ratio to floor {x['median']/floor:.2f}")
PY

# Memory of the namespace holder: sandbox's pause vs catatonit -P.
# private = clean + dirty: a file page counts as private while no other
# process maps it (a lone catatonit's whole text); dirty is what the process
# itself wrote (anonymous and copied-on-write pages).
pss() { awk '/^Pss:/{p=$2} /^Private_Clean:/{c=$2} /^Private_Dirty:/{d=$2} /^Rss:/{r=$2} END{printf "rss %d kB, pss %d kB, private %d kB (dirty %d kB)", r, p, c+d, d}' "/proc/$1/smaps_rollup"; }
cat > "$dest/hold.yaml" <<'Y'
apiVersion: v1
kind: Pod
metadata: {name: bench-hold, annotations: {sandbox.podsandbox.dev/network: none}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers: [{name: hold, command: [sleep, "30"]}]
Y
"$bin" run "$dest/hold.yaml" >/dev/null 2>&1 &
sup=$!
pause=""
for _ in $(seq 100); do
	for c in /proc/[0-9]*; do
		[ "$(cat "$c/comm" 2>/dev/null)" = pause ] && [ "$(awk '/^PPid:/{print $2}' "$c/status" 2>/dev/null)" = "$sup" ] && pause=${c#/proc/}
	done
	[ -n "$pause" ] && break
	sleep 0.05
done
{
	echo
	echo "## namespace holder memory (smaps_rollup)"
	if [ -n "$pause" ]; then echo "- sandbox pause: $(pss "$pause")"; else echo "- sandbox pause: not found"; fi
	echo "- sandbox supervisor (per pod): $(pss "$sup")"
} >> "$dest/startup.md"
kill -TERM "$sup"; wait "$sup" || true
if command -v catatonit >/dev/null; then
	# --kill-child: catatonit (PID 1 of its namespace) dies with unshare.
	unshare -Urpf --kill-child catatonit -P &
	cpid=$!
	child=""
	for _ in $(seq 40); do
		child=$(cat /proc/$cpid/task/$cpid/children 2>/dev/null | awk '{print $1}')
		[ -n "$child" ] && [ "$(cat "/proc/$child/comm" 2>/dev/null)" = catatonit ] && break
		child=""
		sleep 0.05
	done
	sleep 0.2 # let it settle in its loop
	if [ -n "$child" ]; then
		echo "- catatonit -P: $(pss "$child")" >> "$dest/startup.md"
	else
		echo "- catatonit -P: not measured (no catatonit child of unshare appeared)" >> "$dest/startup.md"
	fi
	# unshare --fork blocks SIGTERM while it waits: end catatonit first.
	[ -n "$child" ] && kill -KILL "$child" 2>/dev/null
	kill -TERM "$cpid" 2>/dev/null; timeout 10 tail --pid="$cpid" -f /dev/null || kill -KILL "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null || true
else
	echo "- catatonit -P: skipped (apt-get install catatonit)" >> "$dest/startup.md"
fi
