#!/usr/bin/env bash
# sandbox against its peers, side by side, as an unprivileged user (issue 7).
#
#   bench/run.sh          # or: make -C bench   (as root: installs the peers,
#                         # builds sandbox and a busybox rootfs, drops to
#                         # BENCH_USER, then re-runs startup.sh and gotest.sh)
#
# Scenarios (each timing is ONE hyperfine invocation, commands side by side):
#   1 start -> true -> exit   2 two-container pod   3 exec into a running pod
#   4 namespace-holder memory 5 scale: N idle pods (BENCH_SCALE="10 100 500")
#   6 images (bench/images.sh, root part): pull + unpack vs skopeo + umoci,
#     start from a cached image vs the host root
# A peer that cannot run here is skipped with the reason (results/skipped.md).
# Results, plots and run.md go to bench/results/ (gitignored). Knobs:
#   BENCH_USER (sandbox-e2e)  BENCH_RUNS (30)  BENCH_WARMUP (5)
#   BENCH_SCALE ("10 100 500")  BENCH_SMOKE=1 (one run each, N=3: CI-sized)
#   BENCH_ONLY_RUN=1 (root: skip images.sh, startup.sh and gotest.sh)
# Nothing here asserts on time: the machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/bench/results # the root part's destination; the user part writes to BENCH_OUT
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

if [ "$(id -u)" = 0 ]; then
	# command -> Debian package; each installed only if missing, failures are
	# reported and the peer is skipped later.
	declare -A pkg=([hyperfine]=hyperfine [bwrap]=bubblewrap [crun]=crun [runc]=runc [podman]=podman
		[newuidmap]=uidmap [catatonit]=catatonit [pasta]=passt [slirp4netns]=slirp4netns [iperf3]=iperf3
		[busybox]=busybox-static [gnuplot]=gnuplot-nox [nsenter]=util-linux [perf]=linux-perf)
	need=()
	for c in "${!pkg[@]}"; do command -v "$c" >/dev/null 2>&1 || need+=("${pkg[$c]}"); done
	if [ ${#need[@]} -gt 0 ]; then
		apt-get update -qq || echo "bench: apt-get update failed" >&2
		for p in "${need[@]}"; do
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null 2>&1 ||
				echo "bench: could not install $p (its peer will be skipped)" >&2
		done
	fi
	command -v hyperfine >/dev/null || { echo "bench: hyperfine missing and not installable" >&2; exit 1; }
	mkdir -p "$out"
	user=${BENCH_USER:-sandbox-e2e}
	id "$user" >/dev/null 2>&1 || { echo "bench: user $user missing: run hack/setup-test-host.sh or set BENCH_USER" >&2; exit 1; }
	work=$(mktemp -d /tmp/sandbox-bench-run.XXXXXX)
	# The users' XDG_RUNTIME_DIR (sandbox's state) on a tmpfs, as
	# systemd-logind's /run/user/UID is: this VM's /run and /tmp are ext4,
	# where the ~25 metadata operations of a pod's state directory cost
	# about 1 ms more per start. /dev/shm is the tmpfs at hand.
	rt=$work
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && rt=$(mktemp -d /dev/shm/sandbox-bench-rt.XXXXXX) && chmod 755 "$rt"
	trap 'rm -rf "$work" "$rt"' EXIT
	chmod 755 "$work"
	go build -trimpath -o "$work/sandbox" ./cmd/sandbox
	# busybox rootfs for sandbox's manifests and the OCI runtimes.
	bb=$(command -v busybox)
	mkdir -p "$work/rootfs/bin" "$work/rootfs"/{proc,dev,sys,tmp,etc,run}
	cp "$bb" "$work/rootfs/bin/busybox"
	for a in $("$bb" --list); do [ -e "$work/rootfs/bin/$a" ] || ln -s busybox "$work/rootfs/bin/$a"; done
	cp bench/run.sh bench/plot.gp "$work/"
	chown -R "$user" "$work"
	install -d -m 700 -o "$user" "$rt/run"
	rc=0
	setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
		env -i PATH="$PATH" XDG_RUNTIME_DIR="$rt/run" HOME="$work" \
		BENCH_RUNS="${BENCH_RUNS:-}" BENCH_WARMUP="${BENCH_WARMUP:-}" BENCH_SCALE="${BENCH_SCALE:-}" BENCH_SMOKE="${BENCH_SMOKE:-}" \
		BENCH_BIN="$work/sandbox" BENCH_ROOTFS="$work/rootfs" BENCH_OUT="$work/out" BENCH_PLOT="$work/plot.gp" \
		bash "$work/run.sh" || rc=$?
	cp -r "$work/out/." "$out/" 2>/dev/null || true
	# Podman's rootless pause process (holds its user namespace) is ours: stop it by its recorded PID.
	if [ -f "$rt/run/libpod/tmp/pause.pid" ]; then kill "$(cat "$rt/run/libpod/tmp/pause.pid")" 2>/dev/null || true; fi
	[ "$rc" = 0 ] || { echo "bench: scenarios failed (rc $rc)" >&2; exit "$rc"; }
	# 1b: the same start-up for a user without a subordinate id range: a
	# single-id map written directly instead of newuidmap + newgidmap, as
	# unshare -r writes it; a manifest then maps what unshare maps.
	nosub=${BENCH_USER_NOSUB:-sandbox-e2e-nosub}
	if id "$nosub" >/dev/null 2>&1; then
		install -d -m 700 -o "$nosub" "$rt/run-nosub"
		install -d -m 755 -o "$nosub" "$work/nosub"
		printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: bench-one, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: one, image: "dir:%s", command: ["true"]}\n' \
			"$work/rootfs" > "$work/nosub/one.yaml"
		setpriv --reuid="$nosub" --regid="$(id -g "$nosub")" --clear-groups \
			env -i PATH="$PATH" XDG_RUNTIME_DIR="$rt/run-nosub" HOME="$work/nosub" \
			hyperfine -N --warmup "${BENCH_WARMUP:-5}" --runs "$([ -n "${BENCH_SMOKE:-}" ] && echo 1 || echo "${BENCH_RUNS:-30}")" \
			--export-json "$work/nosub/startup-nosub.json" \
			-n unshare 'unshare -Urnpiu --fork --mount-proc true' -n 'sandbox run -- true' "$work/sandbox run -- true" \
			-n 'sandbox run one.yaml' "$work/sandbox run $work/nosub/one.yaml" >/dev/null &&
			cp "$work/nosub/startup-nosub.json" "$out/" &&
			python3 - "$out/startup-nosub.json" "$nosub" >> "$out/run.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]; fl = r[0]["median"]
print(f"## 1b. start-up as {sys.argv[2]} (no subuid range: single-id map, no newuidmap/newgidmap)\n")
print("| command | median | min–max | ratio |\n|---|---:|---:|---:|")
for x in r:
    print(f"| {x['command']} | {x['median']*1000:.1f} ms | {x['min']*1000:.1f}–{x['max']*1000:.1f} ms | {x['median']/fl:.2f}× |")
print()
PY
	fi
	# 1c: the start-up once more, interleaved (bench/ab.py): hyperfine runs
	# each command's runs back to back, and on this shared VM a command's
	# position in the run alone moved its median by up to 0.5 ms, the size
	# of a change worth measuring. Each round here runs the three in a
	# random order.
	cp bench/ab.py "$work/ab.py"
	ab_runs=$([ -n "${BENCH_SMOKE:-}" ] && echo 2 || echo "${BENCH_AB_RUNS:-200}")
	{
		echo "## 1c. the same, interleaved (bench/ab.py, $ab_runs rounds, each in a random order)"
		for who in "$user:$rt/run:$work" "$nosub:$rt/run-nosub:$work/nosub"; do
			IFS=: read -r u x h <<< "$who"
			id "$u" >/dev/null 2>&1 || continue
			printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: bench-ab, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: one, image: "dir:%s", command: ["true"]}\n' \
				"$work/rootfs" > "$h/ab-one.yaml"
			# The same pod outside the C fast path's subset (restartPolicy
			# OnFailure: true exits 0, nothing restarts): the Go
			# supervisor runs it, with everything else as in one.yaml.
			sed 's/restartPolicy: Never/restartPolicy: OnFailure/' "$h/ab-one.yaml" > "$h/ab-one-go.yaml"
			chown "$u" "$h/ab-one.yaml" "$h/ab-one-go.yaml"
			echo; echo "as $u:"; echo
			setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups env -i PATH="$PATH" XDG_RUNTIME_DIR="$x" HOME="$h" \
				python3 "$work/ab.py" -n "$ab_runs" -w 5 -l 'unshare,sandbox run -- true,sandbox run one.yaml,sandbox run one-go.yaml (Go supervisor)' \
				'unshare -Urnpiu --fork --mount-proc true' "$work/sandbox run -- true" "$work/sandbox run $h/ab-one.yaml" \
				"$work/sandbox run $h/ab-one-go.yaml" ||
				echo "bench: ab.py as $u failed" >&2
		done
		echo
	} >> "$out/run.md"
	# 6. images (bench/images.sh): pull + unpack vs skopeo copy + umoci
	# unpack, pod start from a cached image vs the host root. In the smoke
	# too; it skips (exit 0, with the reason) when its tools are missing.
	if [ -z "${BENCH_ONLY_RUN:-}" ]; then
		bash bench/images.sh >/dev/null || { echo "bench: images.sh failed" >&2; exit 1; }
		{ echo; cat "$out/images.md"; } >> "$out/run.md"
	fi
	if [ -z "${BENCH_ONLY_RUN:-}" ] && [ -z "${BENCH_SMOKE:-}" ]; then
		bash bench/startup.sh >/dev/null
		bash bench/gotest.sh >/dev/null
	fi
	cat "$out/run.md"
	exit 0
fi

# ---- unprivileged part ----------------------------------------------------
command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (apt-get install hyperfine)" >&2; exit 1; }
W=$(mktemp -d /tmp/sandbox-bench-user.XXXXXX)
dest=${BENCH_OUT:-$out}
mkdir -p "$dest"
bin=${BENCH_BIN:-}
if [ -z "$bin" ]; then bin=$W/sandbox; go build -trimpath -o "$bin" ./cmd/sandbox; fi
rootfs=${BENCH_ROOTFS:-}
if [ -z "$rootfs" ]; then
	rootfs=$W/rootfs
	mkdir -p "$rootfs/bin" "$rootfs"/{proc,dev,sys,tmp,etc,run}
	cp "$(command -v busybox)" "$rootfs/bin/busybox"
	for a in true sh sleep; do ln -s busybox "$rootfs/bin/$a"; done
fi
plotgp=${BENCH_PLOT:-bench/plot.gp}
runs=${BENCH_RUNS:-30}
warm=${BENCH_WARMUP:-5}
scale=${BENCH_SCALE:-10 100 500}
if [ -n "${BENCH_SMOKE:-}" ]; then runs=1; warm=0; scale=3; fi
[ -n "$runs" ] || runs=30
[ -n "$warm" ] || warm=5
[ -n "$scale" ] || scale="10 100 500"
skipped=$dest/skipped.md
: > "$skipped"
skip() { echo "bench: skip $1: $2" >&2; echo "- $1: $2" >> "$skipped"; }
P="podman --runtime runc --cgroup-manager=cgroupfs"
holder=""
scale_names=()

cleanup() {
	set +e
	[ ${#scale_names[@]} -gt 0 ] && "$bin" rm -f "${scale_names[@]}" >/dev/null 2>&1
	"$bin" rm -f bench-exec bench-one bench-two >/dev/null 2>&1
	if command -v runc >/dev/null; then
		runc --root "$W/runc-root" kill bench-runc-exec KILL >/dev/null 2>&1
		runc --root "$W/runc-root" delete -f bench-runc-exec >/dev/null 2>&1
	fi
	if [ -n "$holder" ]; then
		nsenter --preserve-credentials -U -m -t "$holder" crun --root "$W/crun-root" delete -f bench-crun-exec >/dev/null 2>&1
		kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
	fi
	if command -v podman >/dev/null; then
		$P rm -f -t 0 bench-podman-exec >/dev/null 2>&1
		$P pod rm -f bench-pod2 >/dev/null 2>&1
	fi
	rm -rf "$W"
}
trap cleanup EXIT

# probe NAME CMD: run CMD once (bounded); on failure record the reason.
probe() {
	local name=$1 cmd=$2 err
	err=$(timeout 60 bash -c "exec $cmd" 2>&1 >/dev/null) && return 0
	skip "$name" "$(printf '%s' "$err" | grep -v 'is not a shared mount' | tail -n 2 | tr '\n' ' ' | cut -c1-300)"
	return 1
}

# hf SCENARIO NAME CMD [NAME CMD]...: one hyperfine run, side by side; the
# first command is the floor of the ratios.
hf() {
	local sc=$1; shift
	local args=()
	while [ $# -gt 0 ]; do
		if probe "$sc: $1" "$2"; then args+=(-n "$1" "$2"); fi
		shift 2
	done
	hyperfine -N --warmup "$warm" --runs "$runs" --export-json "$dest/$sc.json" "${args[@]}" >/dev/null ||
		echo "bench: hyperfine for $sc failed" >&2
}

# ---- manifests and OCI bundles ----------------------------------------------
# Network none, like the peers' runs (podman --network=none, the OCI specs'
# empty network namespace); bridge against none is timed by portfwd.sh.
pod() { # NAME RESTART CMD...
	local name=$1 restart=$2; shift 2
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  restartPolicy: %s\n  terminationGracePeriodSeconds: 1\n  containers:\n' "$name" "$restart"
}
ctr() { # NAME ARGV-JSON
	printf '  - {name: %s, image: "dir:%s", command: %s}\n' "$1" "$rootfs" "$2"
}
{ pod bench-one Never; ctr one '["true"]'; } > "$W/one.yaml"
{ pod bench-two Never; ctr a '["true"]'; ctr b '["true"]'; } > "$W/two.yaml"
{ pod bench-exec Always; ctr hold '["sleep", "infinity"]'; } > "$W/exec.yaml"

oci() { # DIR HOSTID ARGV-JSON: a rootless runc spec on the busybox rootfs
	mkdir -p "$1"
	(cd "$1" && runc spec --rootless)
	python3 - "$1/config.json" "$2" "$3" "$rootfs" <<'PY'
import json, sys
path, host, argv, rootfs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
s = json.load(open(path))
s["process"]["args"] = argv
s["process"]["terminal"] = False
s["root"] = {"path": rootfs, "readonly": True}
# No cgroup resources or cgroup mount: rootless on cgroup v1 there is none to use.
s["linux"].pop("resources", None)
s["mounts"] = [m for m in s["mounts"] if m["type"] != "cgroup"]
if host != "self":
    for k in ("uidMappings", "gidMappings"):
        for m in s["linux"][k]:
            m["hostID"] = int(host)
json.dump(s, open(path, "w"), indent=1)
PY
}

have_runc=""; have_crun=""; have_podman=""
if command -v runc >/dev/null; then
	oci "$W/oci-true" self '["true"]' && oci "$W/oci-sleep" self '["sleep", "infinity"]' && have_runc=1
else skip "runc" "not installed"; fi
# crun 1.8 refuses this machine's hybrid cgroup layout ("cgroups in hybrid mode
# not supported, drop all controllers from cgroupv2": /sys/fs/cgroup/unified
# has hugetlb) even with --cgroup-manager=disabled. Workaround: a holder user+
# mount namespace of ours in which a tmpfs hides /sys/fs/cgroup/unified; every
# crun command enters it with nsenter -U -m (no fork; adds one exec).
crun_pfx=""
crun_tag=""
if command -v crun >/dev/null; then
	if err=$(crun --cgroup-manager=disabled --root "$W/crun-probe" run -b "$W/oci-true" bench-crun-probe 2>&1); then
		crun_pfx="crun --cgroup-manager=disabled --root $W/crun-root"
		have_crun=1
	else
		echo "- crun (plain): $err" >> "$skipped"
		unshare -Urm sh -c 'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec sleep 3600' &
		holder=$!
		for _ in $(seq 50); do
			[ "$(readlink /proc/$holder/exe 2>/dev/null)" = "$(readlink -f "$(command -v sleep)")" ] && break
			sleep 0.02
		done
		oci "$W/oci-crun-true" 0 '["true"]'; oci "$W/oci-crun-sleep" 0 '["sleep", "infinity"]'
		crun_tag=" (via nsenter)"
		crun_pfx="nsenter --preserve-credentials -U -m -t $holder crun --cgroup-manager=disabled --root $W/crun-root"
		have_crun=1
	fi
else skip "crun" "not installed"; fi
command -v podman >/dev/null && have_podman=1 || skip "podman" "not installed"

{
	echo "# sandbox vs peers, $(date -u '+%F %H:%M UTC'), $(uname -r), $(nproc) cores, uid $(id -u)"
	echo
	echo "versions: $("$bin" --version 2>/dev/null | head -1 || echo sandbox), $(hyperfine --version), $(bwrap --version 2>/dev/null || true)," \
		"$(runc --version 2>/dev/null | head -1 || true), $(crun --version 2>/dev/null | head -1 || true), $(podman --version 2>/dev/null || true)," \
		"$(catatonit --version 2>&1 | head -1 || true), $(unshare --version 2>/dev/null || true)"
} > "$dest/env.md"

floor='unshare -Urnpiu --fork --mount-proc true'
crun_d=$W/oci-true; [ -d "$W/oci-crun-true" ] && crun_d=$W/oci-crun-true
crun_s=$W/oci-sleep; [ -d "$W/oci-crun-sleep" ] && crun_s=$W/oci-crun-sleep

# ---- 1. start -> true -> exit ---------------------------------------------------
echo "bench: 1 start-up" >&2
s1=(unshare "$floor"
	bwrap 'bwrap --unshare-all --die-with-parent --ro-bind / / --proc /proc --dev /dev --tmpfs /tmp true'
	'sandbox run -- true' "$bin run -- true"
	'sandbox run one.yaml' "$bin run $W/one.yaml")
[ -n "$have_crun" ] && s1+=("crun run$crun_tag" "$crun_pfx run -b $crun_d bench-crun")
[ -n "$have_runc" ] && s1+=('runc run' "runc --root $W/runc-root run -b $W/oci-true bench-runc")
[ -n "$have_podman" ] && s1+=('podman run --rm' "$P run --rm --network=none --rootfs $rootfs true")
hf startup-peers "${s1[@]}"

# ---- 2. two-container pod -----------------------------------------------------------
echo "bench: 2 two-container pod" >&2
s2=(unshare "$floor" 'sandbox run two.yaml' "$bin run $W/two.yaml")
[ -n "$have_podman" ] && s2+=('podman pod create + 2 run' "sh -c '$P pod create --network none --name bench-pod2 >/dev/null && $P run --pod bench-pod2 --rm --rootfs $rootfs true && $P run --pod bench-pod2 --rm --rootfs $rootfs true && $P pod rm -f bench-pod2 >/dev/null'")
hf pod2 "${s2[@]}"

# ---- 3. exec into a running pod ---------------------------------------------------
echo "bench: 3 exec" >&2
"$bin" run -d "$W/exec.yaml" >/dev/null
pids=$("$bin" inspect bench-exec | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["pause"]["pid"], d["supervisor"]["pid"], d["containers"][0]["process"]["pid"])')
read -r pause sup hold <<< "$pids"
s3=('nsenter (pause)' "nsenter --preserve-credentials -U -n -i -p -u -t $pause true"
	'sandbox exec' "$bin exec bench-exec -- true")
if [ -n "$have_crun" ]; then
	if $crun_pfx run -d -b "$crun_s" bench-crun-exec </dev/null >/dev/null 2>"$W/crun.err"; then
		s3+=("crun exec$crun_tag" "$crun_pfx exec bench-crun-exec true")
	else skip "exec: crun exec" "crun run -d: $(tail -1 "$W/crun.err")"; fi
fi
if [ -n "$have_runc" ]; then
	if runc --root "$W/runc-root" run -d -b "$W/oci-sleep" bench-runc-exec </dev/null >/dev/null 2>"$W/runc.err"; then
		s3+=('runc exec' "runc --root $W/runc-root exec bench-runc-exec true")
	else skip "exec: runc exec" "runc run -d: $(tail -1 "$W/runc.err")"; fi
fi
conmon=""
if [ -n "$have_podman" ]; then
	if $P run -d --name bench-podman-exec --network=none --rootfs "$rootfs" sleep infinity >/dev/null 2>"$W/podman.err"; then
		s3+=('podman exec' "$P exec bench-podman-exec true")
		conmon=$($P inspect -f '{{.State.ConmonPid}}' bench-podman-exec 2>/dev/null || true)
	else skip "exec: podman exec" "podman run -d: $(grep -v 'shared mount' "$W/podman.err" | tail -1)"; fi
fi
hf exec "${s3[@]}"

# ---- 4. memory of the namespace holder --------------------------------------------
echo "bench: 4 memory" >&2
mem() { # LABEL PID -> json line
	[ -n "$2" ] && [ -r "/proc/$2/smaps_rollup" ] || { echo "{\"what\": \"$1\", \"missing\": true}"; return; }
	awk -v w="$1" '/^Rss:/{r=$2} /^Pss:/{p=$2} /^Private_Clean:/{c=$2} /^Private_Dirty:/{d=$2} /^Anonymous:/{a=$2}
		END{printf "{\"what\": \"%s\", \"rss\": %d, \"pss\": %d, \"private\": %d, \"anon\": %d}\n", w, r, p, c+d, a}' "/proc/$2/smaps_rollup"
}
{
	mem "sandbox pause (PID 1 of the pod)" "$pause"
	mem "sandbox supervisor (one per pod)" "$sup"
	mem "container: busybox sleep" "$hold"
	if command -v catatonit >/dev/null; then
		unshare -Urpf --kill-child catatonit -P 2>/dev/null &
		cu=$!
		cat_pid=""
		for _ in $(seq 50); do
			cat_pid=$(awk '{print $1}' "/proc/$cu/task/$cu/children" 2>/dev/null || true)
			[ -n "$cat_pid" ] && [ "$(cat "/proc/$cat_pid/comm" 2>/dev/null)" = catatonit ] && break
			sleep 0.02
		done
		mem "catatonit -P (podman's pause)" "$cat_pid"
		# unshare --fork blocks SIGTERM while it waits: end catatonit (our
		# child, PID 1 of its namespace) and unshare follows.
		[ -n "$cat_pid" ] && kill -KILL "$cat_pid" 2>/dev/null
		kill "$cu" 2>/dev/null; timeout 10 tail --pid="$cu" -f /dev/null || kill -KILL "$cu" 2>/dev/null; wait "$cu" 2>/dev/null || true
	fi
	[ -n "$conmon" ] && mem "podman conmon (one per container)" "$conmon"
} > "$dest/memory.jsonl"
"$bin" rm -f bench-exec >/dev/null
if [ -n "$have_runc" ]; then runc --root "$W/runc-root" kill bench-runc-exec KILL 2>/dev/null; runc --root "$W/runc-root" delete -f bench-runc-exec 2>/dev/null || true; fi
[ -n "$have_crun" ] && { $crun_pfx delete -f bench-crun-exec >/dev/null 2>&1 || true; }
[ -n "$have_podman" ] && { $P rm -f -t 0 bench-podman-exec >/dev/null 2>&1 || true; }

# ---- --explain and perf stat of the start path ------------------------------------
for i in 1 2 3; do "$bin" run --explain -- true 2> "$dest/explain-$i.txt" || true; done
if command -v perf >/dev/null; then
	perf stat -r "$((runs > 20 ? 20 : runs))" -e task-clock,page-faults,context-switches -- "$bin" run -- true 2> "$dest/perf-sandbox.txt" || true
	perf stat -r "$((runs > 20 ? 20 : runs))" -e task-clock,page-faults,context-switches -- unshare -Urnpiu --fork --mount-proc true 2> "$dest/perf-unshare.txt" || true
fi

# ---- 5. scale -----------------------------------------------------------------------
echo "bench: 5 scale ($scale)" >&2
: > "$dest/scale.jsonl"
: > "$dest/scale-starts.dat"
for n in $scale; do
	[ "$n" -le 500 ] || { skip "scale N=$n" "capped at 500"; continue; }
	scale_names=()
	t0=$EPOCHREALTIME
	deadline=$((SECONDS + 600))
	failed=0
	for i in $(seq "$n"); do
		name=bench-s$n-$i
		printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - {name: idle, image: "dir:%s", command: [sleep, infinity]}\n' "$name" "$rootfs" > "$W/s.yaml"
		a=$EPOCHREALTIME
		if ! "$bin" run -d "$W/s.yaml" >/dev/null 2>"$W/s.err"; then
			failed=$((failed + 1)); skip "scale N=$n pod $i" "$(tail -1 "$W/s.err")"
			[ "$failed" -lt 5 ] || break
			continue
		fi
		b=$EPOCHREALTIME
		scale_names+=("$name")
		us=$(( ${b/./} - ${a/./} ))
		printf '%d %d %d.%03d\n' "$n" "$i" $((us / 1000)) $((us % 1000)) >> "$dest/scale-starts.dat"
		[ "$SECONDS" -lt "$deadline" ] || { skip "scale N=$n" "stopped at $i pods: 600 s bound"; break; }
	done
	t1=$EPOCHREALTIME
	avail=$(awk '/^MemAvailable:/{print $2}' /proc/meminfo)
	# memory of every pause and supervisor, from inspect's PIDs
	"$bin" inspect "${scale_names[@]}" > "$W/inspect.json"
	python3 - "$W/inspect.json" "$n" "${#scale_names[@]}" "$t0" "$t1" >> "$dest/scale.jsonl" <<'PY'
import json, sys
pods = json.load(open(sys.argv[1])); n = int(sys.argv[2]); got = int(sys.argv[3])
def roll(pid):
    v = {}
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            f = line.split()
            if f[0] in ("Rss:", "Pss:", "Private_Clean:", "Private_Dirty:", "Anonymous:"):
                v[f[0][:-1]] = int(f[1])
    except OSError:
        return None
    return {"rss": v["Rss"], "pss": v["Pss"], "private": v["Private_Clean"] + v["Private_Dirty"], "anon": v["Anonymous"]}
tot = {"pause": [], "supervisor": [], "container": []}
for p in pods:
    for k, pid in (("pause", p["pause"]["pid"]), ("supervisor", p["supervisor"]["pid"]), ("container", p["containers"][0]["process"]["pid"])):
        r = roll(pid)
        if r: tot[k].append(r)
res = {"n": n, "started": got, "start_total_s": float(sys.argv[5]) - float(sys.argv[4])}
for k, l in tot.items():
    if l:
        res[k] = {m: sum(x[m] for x in l) / len(l) for m in ("rss", "pss", "private", "anon")}
print(json.dumps(res))
PY
	a=$EPOCHREALTIME
	[ ${#scale_names[@]} -eq 0 ] || timeout 600 "$bin" rm -f "${scale_names[@]}" >/dev/null 2>"$W/rm.err" || skip "scale N=$n rm" "$(tail -1 "$W/rm.err")"
	b=$EPOCHREALTIME
	avail2=$(awk '/^MemAvailable:/{print $2}' /proc/meminfo)
	python3 - "$dest/scale.jsonl" "$a" "$b" "$avail" "$avail2" <<'PY'
import json, sys
p = sys.argv[1]; lines = open(p).read().splitlines()
r = json.loads(lines[-1]); r["rm_total_s"] = float(sys.argv[3]) - float(sys.argv[2])
r["memavailable_delta_kb"] = int(sys.argv[5]) - int(sys.argv[4])
lines[-1] = json.dumps(r); open(p, "w").write("\n".join(lines) + "\n")
PY
	scale_names=()
	left=$("$bin" ps 2>/dev/null | grep -c '^bench-s' || true)
	[ "$left" = 0 ] || skip "scale N=$n" "$left pods left after rm -f"
done

# ---- report -------------------------------------------------------------------------
python3 - "$dest" > "$dest/run.md" <<'PY'
import json, os, sys, statistics
d = sys.argv[1]
print(open(f"{d}/env.md").read())
def table(sc, title, floorname):
    p = f"{d}/{sc}.json"
    if not os.path.exists(p):
        print(f"## {title}\n\n(no results)\n"); return
    r = json.load(open(p))["results"]
    fl = r[0]["median"]
    runs = len(r[0]["times"])
    print(f"## {title}\n\n{runs} runs each, one hyperfine invocation, ratio = median / median of {floorname}\n")
    print("| command | median | min–max | user+sys CPU (mean) | ratio |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for x in r:
        name = x["command"]
        print(f"| {name} | {x['median']*1000:.1f} ms | {x['min']*1000:.1f}–{x['max']*1000:.1f} ms | {(x['user']+x['system'])*1000:.1f} ms | {x['median']/fl:.2f}× |")
        rows.append((name, x["median"]*1000, x["min"]*1000, x["max"]*1000))
    print()
    with open(f"{d}/{sc}.dat", "w") as f:
        for i, (n, m, lo, hi) in enumerate(rows):
            f.write(f'{i} "{n}" {m:.3f} {lo:.3f} {hi:.3f}\n')
table("startup-peers", "1. start → true → exit", "unshare -Urnpiu --fork --mount-proc true")
table("pod2", "2. two-container pod, until both ran (and torn down)", "unshare (one process)")
table("exec", "3. exec `true` into a running pod/container", "nsenter into the pause")
print("## 4. memory of the namespace holder (smaps_rollup, kB)\n")
print("| process | RSS | PSS | private (clean+dirty) | anonymous |")
print("|---|---:|---:|---:|---:|")
for line in open(f"{d}/memory.jsonl"):
    m = json.loads(line)
    if m.get("missing"): print(f"| {m['what']} | not found | | | |"); continue
    print(f"| {m['what']} | {m['rss']} | {m['pss']} | {m['private']} | {m['anon']} |")
print("\nprivate counts file pages only this process maps (a lone supervisor is the only mapper of most of the\nsandbox binary's text); anonymous is the memory the process itself allocated.\n")
print("## 5. scale: N idle pods (`sandbox run -d`, busybox `sleep infinity`), started one after another\n")
starts = {}
for line in open(f"{d}/scale-starts.dat"):
    n, i, ms = line.split(); starts.setdefault(int(n), []).append(float(ms))
print("| N | started | start all | per pod: median (min–max) | last 10% of pods: median | pause PSS / anon | supervisor PSS / anon | pause+supervisor PSS per pod | MemAvailable drop / pod (noisy) | rm -f all |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
with open(f"{d}/scale.dat", "w") as f:
    for line in open(f"{d}/scale.jsonl"):
        r = json.loads(line); n = r["n"]; s = starts.get(n, [0])
        tail = s[-max(1, len(s)//10):]
        pa, su = r.get("pause", {}), r.get("supervisor", {})
        tot = pa.get("pss", 0) + su.get("pss", 0)
        print(f"| {n} | {r['started']} | {r['start_total_s']:.2f} s | {statistics.median(s):.1f} ms ({min(s):.1f}–{max(s):.1f}) | {statistics.median(tail):.1f} ms | "
              f"{pa.get('pss',0):.0f} / {pa.get('anon',0):.0f} kB | {su.get('pss',0):.0f} / {su.get('anon',0):.0f} kB | {tot/1024:.1f} MB | "
              f"{-r['memavailable_delta_kb']/max(1,r['started'])/1024:.1f} MB | {r['rm_total_s']:.2f} s |")
        f.write(f"{n} {statistics.median(s):.3f} {min(s):.3f} {max(s):.3f} {statistics.median(tail):.3f} {tot/1024:.3f} {r['rm_total_s']/max(1,r['started'])*1000:.3f}\n")
print()
if 500 in starts or max(starts, default=0) >= 100:
    big = max(starts); s = starts[big]; step = max(1, len(s)//10)
    print(f"N={big}, per-pod start by position (median of each block of {step} pods):\n")
    print("| pods | " + " | ".join(f"{i+1}–{min(i+step, len(s))}" for i in range(0, len(s), step)) + " |")
    print("|---" * (1 + len(range(0, len(s), step))) + "|")
    print("| ms | " + " | ".join(f"{statistics.median(s[i:i+step]):.1f}" for i in range(0, len(s), step)) + " |\n")
sk = open(f"{d}/skipped.md").read().strip()
print("## skipped or worked around\n\n" + (sk or "nothing") + "\n")
print("## sandbox run --explain -- true\n\n```\n" + open(f"{d}/explain-1.txt").read().rstrip() + "\n```\n")
for w in ("sandbox", "unshare"):
    p = f"{d}/perf-{w}.txt"
    if os.path.exists(p):
        print(f"## perf stat, {w}\n\n```\n" + open(p).read().strip() + "\n```\n")
PY

if command -v gnuplot >/dev/null; then
	(cd "$dest" && gnuplot "$plotgp") || echo "bench: gnuplot failed" >&2
else
	skip "plots" "gnuplot not installed"
fi
echo "bench: done: $dest/run.md" >&2
