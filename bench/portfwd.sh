#!/usr/bin/env bash
# hostPort throughput (issue 5): iperf3 from the host's loopback to an iperf3
# server in a pod through sandbox's forwarder (rootless as BENCH_USER, and as
# root), against plain host loopback, pasta's and slirp4netns's own port
# forwarding, in one run. Run as root (pasta and slirp4netns need
# /dev/net/tun, mode 0600 on this machine kind):
#   bench/portfwd.sh        # writes bench/results/portfwd.md
# BENCH_TIME (seconds per iperf3 run, default 5), BENCH_RUNS (default 3).
# Traffic: 127.0.0.1 on the host and the namespaces this script creates only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "portfwd.sh: run as root (pasta and slirp4netns need /dev/net/tun)" >&2; exit 1; }
for p in iperf3 passt slirp4netns; do
	dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"; }
done
T=${BENCH_TIME:-5}
RUNS=${BENCH_RUNS:-3}
user=${BENCH_USER:-sandbox-e2e}
out=bench/results
mkdir -p "$out"
work=$(mktemp -d /tmp/sandbox-bench-pf.XXXXXX)
chmod 755 "$work"
pids=()
# kill_tree PID: PID's children (pasta's and unshare's command), then PID.
kill_tree() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
	kill "$1" 2>/dev/null || true
}
cleanup() {
	for p in "${pids[@]}"; do kill_tree "$p"; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work" 2>/dev/null || { sleep 1; rm -rf "$work"; }
}
trap cleanup EXIT
go build -trimpath -o "$work/sandbox" ./cmd/sandbox

# stop_last ends the last background process and waits for it.
stop_last() { kill_tree "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; }
# free_port prints a TCP port free on 127.0.0.1.
free_port() { perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1) or die; print $s->sockport, "\n"'; }
# wait_for FILE TEXT: until FILE contains TEXT (10 s).
wait_for() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "portfwd.sh: no '$2' in $1:" >&2; cat "$1" >&2; return 1; }
# Every path is set up first (path NAME PORT), then measured in rounds: each
# round runs iperf3 once per path, in turn, so a busy spell of the shared
# machine is spread over all paths instead of landing on one.
names=() ports=()
path() { names+=("$1"); ports+=("$2"); }
# once PORT: one iperf3 run of T seconds; prints the Gbit/s received.
once() { iperf3 -c 127.0.0.1 -p "$1" -t "$T" -J | perl -MJSON::PP -0777 -ne 'printf "%.2f", decode_json($_)->{end}{sum_received}{bits_per_second}/1e9'; }

# 1. plain loopback
p=$(free_port)
iperf3 -s --forceflush -p "$p" >"$work/lo.log" 2>&1 & pids+=($!)
wait_for "$work/lo.log" "Server listening"
path "host loopback" "$p"

# 2./3. sandbox's forwarder, rootless and root
pod() { # NAME HOSTPORT
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, annotations: {sandbox.podsandbox.dev/network: none}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: iperf
    command: [iperf3, -s, --forceflush, -p, "5201"]
    ports: [{containerPort: 5201, hostPort: $2, hostIP: 127.0.0.1}]
YAML
}
p=$(free_port)
pod bench-pf-rootless "$p" >"$work/rootless.yaml"
install -d -m 700 -o "$user" "$work/run"
setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups env -i PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$work/run" \
	"$work/sandbox" run "$work/rootless.yaml" >"$work/rootless.log" 2>&1 & pids+=($!)
wait_for "$work/rootless.log" "Server listening"
path "sandbox hostPort, rootless" "$p"

p=$(free_port)
pod bench-pf-root "$p" >"$work/root.yaml"
XDG_RUNTIME_DIR="$work/run" "$work/sandbox" run "$work/root.yaml" >"$work/root.log" 2>&1 & pids+=($!)
wait_for "$work/root.log" "Server listening"
path "sandbox hostPort, root" "$p"

# 4. pasta's port forwarding (as root it would switch to nobody: --runas 0)
p=$(free_port)
pasta --runas 0:0 --config-net -t "127.0.0.1/$p:5201" -u none -T none -U none -f -- iperf3 -s --forceflush -p 5201 >"$work/pasta.log" 2>&1 & pids+=($!)
wait_for "$work/pasta.log" "Server listening"
path "pasta -t" "$p"

# 5. slirp4netns's port forwarding (add_hostfwd over its API socket)
p=$(free_port)
unshare -n --fork --kill-child iperf3 -s --forceflush -p 5201 >"$work/slirp.log" 2>&1 & pids+=($!)
wait_for "$work/slirp.log" "Server listening"
ns_pid=$(pgrep -P "${pids[-1]}" iperf3)
slirp4netns --configure --disable-host-loopback --api-socket "$work/slirp.sock" "$ns_pid" tap0 >"$work/slirp4netns.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$work/slirp.sock" ] && break; sleep 0.1; done
perl -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "api socket: $!\n";
	print $s qq({"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": $ARGV[1], "guest_port": 5201}});
	shutdown($s, 1); my $r = <$s>; $r =~ /error/ and die "add_hostfwd: $r\n";' "$work/slirp.sock" "$p"
path "slirp4netns add_hostfwd" "$p"

results=()
for _ in $(seq "$RUNS"); do
	for i in "${!names[@]}"; do
		results[i]="${results[i]:-} $(once "${ports[i]}")"
	done
done
for i in "${!names[@]}"; do
	results[i]="${names[i]}|${results[i]# }"
	echo "${names[i]}: ${results[i]#*|} Gbit/s" >&2
done
stop_last            # slirp4netns
kill "$ns_pid"       # iperf3 in the namespace; unshare exits with it

# 6. pod start, rootless: --network none against bridge (the first pod starts
# the network holder and its user-mode network stack, pasta, and the last
# stops them, so a lone bridge pod pays both), bridge without outbound access
# (SANDBOX_USERNET=none: no pasta), and bridge while another bridge pod keeps
# the holder running.
cat >"$work/sleep.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: bench-pf-keeper, annotations: {sandbox.podsandbox.dev/network: bridge}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers: [{name: sleep, command: [sleep, "600"]}]
YAML
as_user() { setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups env -i PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$work/run" HOME="$work" "$@"; }
cd "$work"
as_user hyperfine -N --warmup 3 --runs 30 --export-markdown "$work/run/start1.md" \
	-n "run --network none -- true" "$work/sandbox run --network none -- true" \
	-n "run --network bridge -- true (holder and pasta started and stopped)" "$work/sandbox run --network bridge -- true" \
	-n "run --network bridge -- true (holder without outbound, SANDBOX_USERNET=none)" "env SANDBOX_USERNET=none $work/sandbox run --network bridge -- true" >&2
as_user "$work/sandbox" run "$work/sleep.yaml" >"$work/keeper.log" 2>&1 & pids+=($!)
sleep 1
as_user hyperfine -N --warmup 3 --runs 30 --export-markdown "$work/run/start2.md" \
	-n "run --network bridge -- true (holder running)" "$work/sandbox run --network bridge -- true" >&2
stop_last
cd - >/dev/null

{
	echo "| path | Gbit/s (${RUNS} runs of ${T} s, iperf3 -c 127.0.0.1, 1 stream) | median | vs loopback |"
	echo "|---|---|---|---|"
	base=""
	for r in "${results[@]}"; do
		name=${r%%|*} vals=${r#*|}
		med=$(printf '%s\n' $vals | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		[ -z "$base" ] && base=$med
		echo "| $name | $vals | $med | $(awk -v m="$med" -v b="$base" 'BEGIN {printf "%.2f", m/b}') |"
	done
	echo
	echo "Pod start, rootless ($user), hyperfine:"
	echo
	cat "$work/run/start1.md"
	tail -n +3 "$work/run/start2.md"
} | tee "$out/portfwd.md"
