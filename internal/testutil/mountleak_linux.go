package testutil

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// CheckNoMountLeak records the calling process's /proc/self/mountinfo now and, when the test and its subtests
// have finished, fails the test if a line was added or removed: namespace tests must never mount, unmount or
// change propagation in the mount namespace of the test process (the host's, as a rule).
func CheckNoMountLeak(t testing.TB) {
	t.Helper()
	before, err := mountinfo()
	if err != nil {
		t.Fatalf("CheckNoMountLeak: %v", err)
	}
	t.Cleanup(func() {
		after, err := mountinfo()
		if err != nil {
			t.Errorf("CheckNoMountLeak: %v", err)
			return
		}
		if added, removed := diff(before, after); len(added)+len(removed) > 0 {
			t.Errorf("the test changed the test process's mount namespace:\nadded:\n\t%s\nremoved:\n\t%s",
				strings.Join(added, "\n\t"), strings.Join(removed, "\n\t"))
		}
	})
}

func mountinfo() ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(lines)
	return lines, nil
}

// diff returns the lines only in after and the lines only in before; both are sorted.
func diff(before, after []string) (added, removed []string) {
	for _, l := range after {
		if _, found := slices.BinarySearch(before, l); !found {
			added = append(added, l)
		}
	}
	for _, l := range before {
		if _, found := slices.BinarySearch(after, l); !found {
			removed = append(removed, l)
		}
	}
	return added, removed
}
