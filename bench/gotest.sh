#!/usr/bin/env bash
# Per-test-binary overhead of `go test -exec 'sandbox run --'` against plain
# `go test` and `-exec 'unshare -Urn'`, in one hyperfine run, on a module of
# N tiny packages (one trivial test each). Run as an unprivileged user (root
# drops to BENCH_USER like startup.sh). Writes bench/results/gotest.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results # as root; the user part (run from a copy in /tmp) writes to BENCH_OUT
N=${N:-20}

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$out"
	user=${BENCH_USER:-sandbox-e2e}
	work=$(mktemp -d /tmp/sandbox-bench-gotest.XXXXXX)
	chmod 755 "$work"
	go build -trimpath -o "$work/sandbox" ./cmd/sandbox
	cp bench/gotest.sh "$work/"
	chown -R "$user" "$work"
	# sandbox's state on a tmpfs, as systemd-logind's /run/user/UID is (see run.sh).
	rt="$work/run"
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && rt=$(mktemp -d /dev/shm/sandbox-bench-rt.XXXXXX)
	install -d -m 700 -o "$user" "$rt"
	trap 'rm -rf "$work" "$rt"' EXIT # also when the user part fails
	setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
		env -i PATH="$(dirname "$(command -v go)"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		XDG_RUNTIME_DIR="$rt" HOME="$work" N="$N" BENCH_BIN="$work/sandbox" BENCH_OUT="$work" bash "$work/gotest.sh"
	cp "$work"/gotest.md "$out/"
	cat "$out/gotest.md"
	exit 0
fi

bin=${BENCH_BIN:?set BENCH_BIN to a built sandbox}
dest=${BENCH_OUT:-$out}
mkdir -p "$dest"
mod=$(mktemp -d)
export GOCACHE="$mod/.cache" GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off
printf 'module example.com/tiny\n\ngo 1.26\n' > "$mod/go.mod"
for i in $(seq "$N"); do
	mkdir -p "$mod/p$i"
	printf 'package p%d\n\nimport "testing"\n\nfunc TestNothing(t *testing.T) {}\n' "$i" > "$mod/p$i/p_test.go"
done
cd "$mod"
go test -count=1 ./... >/dev/null # build and cache the test binaries
hyperfine -N --warmup 2 --runs 10 --export-json "$dest/gotest.json" \
	-n 'go test' 'go test -count=1 -p 1 ./...' \
	-n "go test -exec 'unshare -Urn'" "go test -count=1 -p 1 -exec 'unshare -Urn' ./..." \
	-n "go test -exec 'sandbox run --'" "go test -count=1 -p 1 -exec '$bin run --' ./..." >/dev/null
python3 - "$dest/gotest.json" "$N" > "$dest/gotest.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]; n = int(sys.argv[2])
base = r[0]["median"]
print(f"# go test -exec overhead, {n} test binaries, -p 1 (medians of {len(r[0]['times'])} runs)\n")
print("| command | median | min–max | overhead per test binary |")
print("|---|---|---|---|")
for x in r:
    print(f"| {x['command']} | {x['median']*1000:.0f} ms | {x['min']*1000:.0f}–{x['max']*1000:.0f} ms | {(x['median']-base)/n*1000:.1f} ms |")
u = (r[1]["median"] - base) / n; s = (r[2]["median"] - base) / n
print(f"\nsandbox's per-binary overhead is {s/u:.1f}× unshare -Urn's.")
PY
rm -rf "$mod"
