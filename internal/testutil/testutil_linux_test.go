package testutil

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records Skip and Fatal instead of stopping the goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Skip(args ...any)                 { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatal(args ...any)                { r.failed = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestSkipOrFailUnlessCI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ci       string
		wantSkip bool
	}{
		{name: "skips_outside_CI", ci: "", wantSkip: true},
		{name: "fails_under_CI", ci: "true", wantSkip: false},
		{name: "fails_under_any_non-empty_CI", ci: "1", wantSkip: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			SkipOrFailUnlessCI(r, "no frobnicator here")
			got := r.skipped
			if !tc.wantSkip {
				got = r.failed
			}
			if got == "" || (r.skipped != "") == (r.failed != "") {
				t.Fatalf("skipped=%q failed=%q, want exactly one (skip: %v)", r.skipped, r.failed, tc.wantSkip)
			}
			if want := "no frobnicator here"; len(got) < len(want) || got[:len(want)] != want {
				t.Errorf("message %q does not start with the reason %q", got, want)
			}
		})
	}
}

func TestRunPatternMatchesOnlyThatTest(t *testing.T) {
	for name, want := range map[string]string{
		"TestA":           "^TestA$",
		"TestA/sub_case":  "^TestA$/^sub_case$",
		"TestA/x.y+(z)#1": `^TestA$/^x\.y\+\(z\)#1$`,
	} {
		if got := runPattern(name); got != want {
			t.Errorf("runPattern(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestMountinfoDiff(t *testing.T) {
	added, removed := diff([]string{"1 a", "2 b", "3 c"}, []string{"1 a", "3 c", "4 d"})
	if fmt.Sprint(added) != "[4 d]" || fmt.Sprint(removed) != "[2 b]" {
		t.Errorf("diff: added %q removed %q", added, removed)
	}
}
