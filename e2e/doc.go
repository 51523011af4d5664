// Package e2e holds the end-to-end tests of the sandbox command: they build
// cmd/sandbox once, run real pods with `sandbox run` and check exit codes,
// output and what the pod leaves behind.
//
// Every case runs in three modes, as subtests:
//
//   - rootless-subuid: as the user sandbox-e2e, which has a subordinate id
//     range in /etc/subuid and /etc/subgid (the pod gets a 65536-id map);
//   - rootless-nosubuid: as sandbox-e2e-nosub, which has none (the pod gets
//     a single-id map and sandbox warns);
//   - root: as root (no user namespace unless spec.hostUsers is false).
//
// hack/setup-test-host.sh creates the users; hack/test.sh runs it and then
// the whole suite as root. When the tests do not run as root, the rootless
// modes run as the current user and root mode is skipped. Environment skips
// (missing users, no user namespaces) become failures when CI is set.
//
// Every case ends with a leak check: no process of the pod left, no state
// directory left, no new mount in the test's or the host's mount namespace,
// and no listener on a port the case used.
package e2e
