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
# The same overhead on one test binary, without go test's own work (about
# 100 ms per package, whose noise is larger than the overhead itself): the
# binary run as go test runs it (in its package directory, -test.count=1),
# bare and under each -exec wrapper.
go test -c -o "$mod/p1.test" ./p1 >/dev/null
cd "$mod/p1"
hyperfine -N --warmup 5 --runs "${RUNS:-60}" --export-json "$dest/gotest-binary.json" \
	-n 'p1.test' "$mod/p1.test -test.count=1" \
	-n 'unshare -Urn p1.test' "unshare -Urn $mod/p1.test -test.count=1" \
	-n 'sandbox run -- p1.test' "$bin run -- $mod/p1.test -test.count=1" >/dev/null
python3 - "$dest/gotest.json" "$N" "$dest/gotest-binary.json" > "$dest/gotest.md" <<'PY'
import json, sys

def table(results, per, digits):
    """Rows of command, median, min–max and overhead over the first row, divided by per."""
    base = results[0]["median"]
    print("| command | median | min–max | overhead |")
    print("|---|---|---|---|")
    for x in results:
        print(f"| {x['command']} | {x['median']*1000:.{digits}f} ms | {x['min']*1000:.{digits}f}–{x['max']*1000:.{digits}f} ms | {(x['median']-base)/per*1000:.{digits}f} ms |")
    return (results[1]["median"] - base) / per, (results[2]["median"] - base) / per

n = int(sys.argv[2])
r = json.load(open(sys.argv[1]))["results"]
print(f"# go test -exec overhead, {n} test binaries, -p 1 (medians of {len(r[0]['times'])} runs; overhead per test binary)\n")
u, s = table(r, n, 1)
print(f"\nsandbox's per-binary overhead is {s/u:.1f}× unshare -Urn's (go test's own time per package is the noise here).")
b = json.load(open(sys.argv[3]))["results"]
print(f"\n## one test binary, bare and under each wrapper (medians of {len(b[0]['times'])} runs)\n")
u, s = table(b, 1, 2)
print(f"\nsandbox's overhead per test binary is {s/u:.2f}× unshare -Urn's (goal: ≤ 2×).")
PY
rm -rf "$mod"
