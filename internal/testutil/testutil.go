// Package testutil holds helpers shared by the project's tests: re-executing a test inside fresh user, mount,
// network and PID namespaces, the skip-or-fail rule for environment skips, a tiny busybox root filesystem and a
// check that nothing leaked into the host's mount namespace.
package testutil

import (
	"os"
	"testing"
)

// SkipOrFailUnlessCI skips the test with reason, unless the environment variable CI is set to a non-empty value:
// then the test fails instead, because an environment skip of a core test under CI hides a broken CI machine
// (the idea of containerd's -test.root).
func SkipOrFailUnlessCI(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: an environment skip is a failure here)", reason)
		return
	}
	t.Skip(reason)
}
