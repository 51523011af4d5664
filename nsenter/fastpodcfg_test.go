package nsenter

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/pod"
)

// seccomp_default.h is generated (containerinit/mkseccompc.go): a change to
// the profile or to the default capabilities without go generate would make
// the fast path load a filter other than the supervisor's.
func TestFastPodSeccompHeaderMatchesProgram(t *testing.T) {
	want, err := containerinit.SeccompProgram(pod.DefaultCapabilities)
	if err != nil {
		t.Skipf("no default profile on %s: %v", runtime.GOARCH, err)
	}
	got := fastPodSeccomp()
	switch runtime.GOARCH {
	case "amd64", "arm64":
		if got == nil {
			t.Fatalf("seccomp_default.h has no program for %s: run go generate ./containerinit", runtime.GOARCH)
		}
	default:
		if got != nil {
			t.Fatalf("seccomp_default.h has a program for %s, which mkseccompc.go does not generate", runtime.GOARCH)
		}
		t.Skipf("no program in seccomp_default.h for %s: the fast path leaves pods to Go", runtime.GOARCH)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("seccomp_default.h (%d bytes) is not SeccompProgram(pod.DefaultCapabilities) (%d bytes) for %s: run go generate ./containerinit",
			len(got), len(want), runtime.GOARCH)
	}
}
