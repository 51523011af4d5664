#!/usr/bin/env bash
# Container images (issue 10), as an unprivileged user, each timing ONE
# hyperfine -N invocation with the commands side by side:
#
#   A. pull + unpack of the same image from a local docker-registry
#      (127.0.0.1 only): `sandbox pull` into an empty store vs
#      `skopeo copy docker://… oci:…` + `umoci unpack --rootless`;
#   B. pod start from a cached image (overlay mount of the store's layers)
#      vs the host-root mode, both a one-container pod running `true`.
#
#   bench/images.sh      # as root: installs docker-registry, skopeo and umoci
#                        # when missing, builds the image, starts the registry,
#                        # drops to BENCH_USER; writes bench/results/images.{md,json}
#
# The image: busybox-static plus the host's Python standard library (about
# 1,500 files, tens of MB), built with umoci. The registry is Debian's
# docker-registry with a config of our own on a free loopback port, stopped
# by its PID at the end; the package's service is neither used nor touched.
# Without root, or without the tools, it prints why and skips (exit 0).
# Knobs: BENCH_USER (sandbox-e2e) BENCH_RUNS (20) BENCH_WARMUP (2) BENCH_SMOKE=1
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/bench/results
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
skip() { echo "bench images: skipped: $*" >&2; mkdir -p "$out"; echo "# images: skipped: $*" > "$out/images.md"; exit 0; }

if [ "$(id -u)" = 0 ] && [ -z "${BENCH_IMAGES_USER_PART:-}" ]; then
	need=()
	for c in docker-registry:docker-registry skopeo:skopeo umoci:umoci hyperfine:hyperfine busybox:busybox-static unshare:util-linux newuidmap:uidmap; do
		command -v "${c%%:*}" >/dev/null 2>&1 || need+=("${c#*:}")
	done
	if [ ${#need[@]} -gt 0 ]; then
		apt-get update -qq || echo "bench images: apt-get update failed" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
			echo "bench images: could not install ${need[*]}" >&2
	fi
	for c in docker-registry skopeo umoci hyperfine busybox; do
		command -v "$c" >/dev/null || skip "$c is not installed and could not be installed"
	done
	user=${BENCH_USER:-sandbox-e2e}
	id "$user" >/dev/null 2>&1 || skip "user $user missing: run hack/setup-test-host.sh or set BENCH_USER"
	work=$(mktemp -d /tmp/sandbox-bench-images.XXXXXX)
	reg_pid=""
	cleanup() {
		set +e
		if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null; wait "$reg_pid" 2>/dev/null; fi
		rm -rf "$work"
	}
	trap cleanup EXIT
	chmod 755 "$work"
	go build -trimpath -o "$work/sandbox" ./cmd/sandbox

	# The image, built locally with umoci: layer 1 busybox, layer 2 the
	# Python standard library.
	layout=$work/layout
	umoci init --layout "$layout"
	umoci new --image "$layout:v1"
	umoci unpack --image "$layout:v1" "$work/build" >/dev/null
	mkdir -p "$work/build/rootfs/bin" "$work/build/rootfs"/{proc,dev,sys,tmp,etc}
	cp "$(command -v busybox)" "$work/build/rootfs/bin/busybox"
	for a in sh true sleep cat ls; do ln -s busybox "$work/build/rootfs/bin/$a"; done
	umoci repack --refresh-bundle --image "$layout:v1" "$work/build" >/dev/null
	py=$(ls -d /usr/lib/python3.* 2>/dev/null | head -1)
	if [ -n "$py" ]; then
		mkdir -p "$work/build/rootfs/usr/lib"
		cp -a "$py" "$work/build/rootfs/usr/lib/"
		umoci repack --image "$layout:v1" "$work/build" >/dev/null
	fi
	rm -rf "$work/build"

	# docker-registry on a free loopback port, own config and storage.
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$work/registry"
	cat > "$work/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $work/registry}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: "127.0.0.1:$port", secret: sandbox-bench}
EOF
	env -i PATH="$PATH" docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
	reg_pid=$!
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
		kill -0 "$reg_pid" 2>/dev/null || { cat "$work/registry.log" >&2; echo "bench images: docker-registry exited" >&2; exit 1; }
		sleep 0.1
	done
	ref=127.0.0.1:$port/bench/image:v1
	skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$layout:v1" "docker://$ref"
	cp bench/images.sh "$work/"
	chown -R "$user" "$work"
	install -d -m 700 -o "$user" "$work/run"
	setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
		env -i PATH="$PATH" XDG_RUNTIME_DIR="$work/run" HOME="$work" BENCH_IMAGES_USER_PART=1 \
		BENCH_RUNS="${BENCH_RUNS:-}" BENCH_WARMUP="${BENCH_WARMUP:-}" BENCH_SMOKE="${BENCH_SMOKE:-}" \
		BENCH_BIN="$work/sandbox" BENCH_REF="$ref" BENCH_LAYOUT="$layout" BENCH_OUT="$work/out" \
		bash "$work/images.sh"
	mkdir -p "$out"
	cp "$work"/out/images.* "$out/"
	cat "$out/images.md"
	exit 0
fi

# ---- unprivileged part ------------------------------------------------------
bin=${BENCH_BIN:-}
ref=${BENCH_REF:-}
[ -n "$bin" ] && [ -n "$ref" ] || skip "run as root (it starts the registry and builds the image), or set BENCH_BIN and BENCH_REF"
for c in skopeo umoci hyperfine; do command -v "$c" >/dev/null || skip "$c is not installed"; done
dest=${BENCH_OUT:-$out}
mkdir -p "$dest"
runs=${BENCH_RUNS:-20}
warm=${BENCH_WARMUP:-2}
if [ -n "${BENCH_SMOKE:-}" ]; then runs=1; warm=0; fi
[ -n "$runs" ] || runs=20
[ -n "$warm" ] || warm=2
W=$(mktemp -d /tmp/sandbox-bench-images-user.XXXXXX)
cleanup() {
	set +e
	"$bin" rm -f bench-img bench-host >/dev/null 2>&1
	chmod -R u+rwX "$W" 2>/dev/null
	SANDBOX_IMAGE_STORE=$W/store "$bin" rmi "$ref" >/dev/null 2>&1
	SANDBOX_IMAGE_STORE=$W/store "$bin" image prune >/dev/null 2>&1
	SANDBOX_IMAGE_STORE=$W/cached "$bin" rmi "$ref" >/dev/null 2>&1
	SANDBOX_IMAGE_STORE=$W/cached "$bin" image prune >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT

# A. pull + unpack. Each run starts from nothing: an empty store for
# sandbox (its layers are removed by `image prune`, through the
# user-namespace helper when they hold subordinate ids), no layout and no
# bundle for skopeo + umoci.
export SANDBOX_IMAGE_STORE=$W/store
hyperfine -N --warmup "$warm" --runs "$runs" --export-json "$dest/images-pull.json" \
	--prepare "sh -c '$bin rmi $ref >/dev/null 2>&1; $bin image prune >/dev/null'" \
	-n 'sandbox pull' "$bin pull $ref" \
	--prepare "rm -rf $W/oci $W/bundle" \
	-n 'skopeo copy + umoci unpack --rootless' \
	"sh -c 'skopeo copy -q --src-tls-verify=false docker://$ref oci:$W/oci:v1 && umoci unpack --rootless --image $W/oci:v1 $W/bundle >/dev/null'" >/dev/null

# B. pod start: cached image (overlay) vs host root.
export SANDBOX_IMAGE_STORE=$W/cached
"$bin" pull "$ref" >/dev/null
pod() { # NAME IMAGE-LINE
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: one\n    command: ["true"]\n%s' "$1" "$2"
}
pod bench-host '' > "$W/host.yaml"
pod bench-img "    image: $ref
    imagePullPolicy: Never
" > "$W/img.yaml"
hyperfine -N --warmup "$warm" --runs "$runs" --export-json "$dest/images-start.json" \
	-n 'sandbox run (host root)' "$bin run $W/host.yaml" \
	-n 'sandbox run (cached image)' "$bin run $W/img.yaml" >/dev/null

read -r layers size < <("$bin" images --format json | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(len(r["layers"]), "%.1f MiB" % (r["size"]/2**20))')
python3 - "$dest" "$(uname -r)" "$(nproc)" "$(id -u)" "$layers" "$size" "$(skopeo --version)" "$(umoci --version)" > "$dest/images.md" <<'PY'
import json, sys, datetime
d, kernel, cores, uid, layers, size, skopeo, umoci = sys.argv[1:]
print(f"# images, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {kernel}, {cores} cores, uid {uid}\n")
print(f"image: busybox + Python stdlib, {layers} layers, {size} compressed; {skopeo}, {umoci}\n")
for sc, title in (("images-pull", "A. pull + unpack from docker-registry on 127.0.0.1"),
                  ("images-start", "B. pod start (`true`): cached image vs host root")):
    r = json.load(open(f"{d}/{sc}.json"))["results"]
    fl = r[0]["median"]
    print(f"## {title}\n\n{len(r[0]['times'])} runs each, one hyperfine -N invocation, ratio = median / first row's\n")
    print("| command | median | min–max | ratio |\n|---|---:|---:|---:|")
    for x in r:
        print(f"| {x['command']} | {x['median']*1000:.1f} ms | {x['min']*1000:.1f}–{x['max']*1000:.1f} ms | {x['median']/fl:.2f}× |")
    print()
PY
python3 -c 'import json,sys; json.dump({"pull": json.load(open(sys.argv[1])), "start": json.load(open(sys.argv[2]))}, open(sys.argv[3], "w"))' \
	"$dest/images-pull.json" "$dest/images-start.json" "$dest/images.json"
