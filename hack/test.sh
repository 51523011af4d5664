#!/usr/bin/env bash
# The whole test suite: host setup, go vet, unit + userns + end-to-end tests.
#
#   hack/test.sh [go test flags...]     e.g. hack/test.sh -run TestE2E -v
#
# Needs root (to create the test users and to run the e2e cases as other
# uids); re-executes itself with sudo when started as another user. The exit
# code is the test result. SANDBOX_E2E_BINARY=path makes the e2e tests use a
# prebuilt sandbox binary instead of building cmd/sandbox.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

# Go usually lives in /usr/local/go/bin, which sudo's secure_path drops.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	PATH=/usr/local/go/bin:$PATH
fi
command -v go >/dev/null 2>&1 || { echo "test.sh: go not found in PATH" >&2; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
	# Keep PATH (for go) and the Go/CI settings the caller chose. GOMODCACHE is
	# passed explicitly so root finds the modules already downloaded by the
	# caller; GOCACHE is not passed, so root does not write root-owned files
	# into the caller's build cache.
	envs=(PATH="$PATH" GOMODCACHE="$(go env GOMODCACHE)")
	for v in GOFLAGS GOPROXY GOSUMDB GONOSUMDB GOPRIVATE GONOPROXY GOTOOLCHAIN \
		CGO_ENABLED CC CI SANDBOX_E2E_VERBOSE; do
		if [[ -n ${!v+x} ]]; then envs+=("$v=${!v}"); fi
	done
	if ! command -v sudo >/dev/null 2>&1; then
		echo "test.sh: needs root (to create the test users and run pods as them): run it as root, or install sudo" >&2
		exit 1
	fi
	echo "test.sh: not root, re-running with sudo" >&2
	exec sudo -- env "${envs[@]}" "$repo/hack/test.sh" "$@"
fi

cd "$repo"
"$here/setup-test-host.sh"

echo "+ go vet ./..."
go vet ./...

echo "+ go test -count=1 -timeout 30m ./... $*"
go test -count=1 -timeout 30m "$@" ./...
