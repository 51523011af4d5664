package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func nsInode(t testing.TB, pid, ns string) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join("/proc", pid, "ns", ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestReexecInUserNSRunsBodyAsRootInFreshNamespaces(t *testing.T) {
	var parentNS []string
	if !InUserNSChild() {
		for _, ns := range []string{"user", "mnt", "net", "pid", "ipc", "uts"} {
			parentNS = append(parentNS, ns+"="+nsInode(t, "self", ns))
		}
	}
	if !ReexecInUserNS(t, WithEnv("TESTUTIL_PARENT_NS", strings.Join(parentNS, " "))) {
		return
	}
	if uid, gid := os.Getuid(), os.Getgid(); uid != 0 || gid != 0 {
		t.Errorf("uid %d gid %d in the child, want 0 0", uid, gid)
	}
	if pid := os.Getpid(); pid != 1 {
		t.Errorf("pid %d in the child, want 1 (new PID namespace)", pid)
	}
	for _, kv := range strings.Fields(os.Getenv("TESTUTIL_PARENT_NS")) {
		ns, parent, _ := strings.Cut(kv, "=")
		// /proc is still the host's proc here, so "self" is looked up by the host PID: fine for ns links.
		if got := nsInode(t, "self", ns); got == parent {
			t.Errorf("%s namespace %s is the parent's", ns, got)
		}
	}
	if err := syscall.Sethostname([]byte("reexec-child")); err != nil {
		t.Errorf("sethostname in the child's UTS namespace: %v", err)
	}
}

func TestReexecInUserNSWithoutCloneflagsSharesThatNamespace(t *testing.T) {
	parent := ""
	if !InUserNSChild() {
		parent = nsInode(t, "self", "net")
	}
	if !ReexecInUserNS(t, WithoutCloneflags(syscall.CLONE_NEWNET), WithEnv("TESTUTIL_PARENT_NET", parent)) {
		return
	}
	if got, want := nsInode(t, "self", "net"), os.Getenv("TESTUTIL_PARENT_NET"); got != want {
		t.Errorf("net namespace %s, want the parent's %s", got, want)
	}
}

func TestReexecInUserNSSubtestsRunAlone(t *testing.T) {
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			if !ReexecInUserNS(t, WithEnv("TESTUTIL_SUBTEST", name)) {
				return
			}
			if got := os.Getenv("TESTUTIL_SUBTEST"); got != name {
				t.Errorf("child for %s got the fixture of %s", name, got)
			}
		})
	}
}

func TestBusyboxRootfsLayoutAndShellRuns(t *testing.T) {
	root := BusyboxRootfs(t)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "etc", "root"} {
		fi, err := os.Lstat(filepath.Join(root, d))
		if err != nil || !fi.IsDir() {
			t.Errorf("%s: want an empty directory, got %v %v", d, fi, err)
			continue
		}
		if ents, _ := os.ReadDir(filepath.Join(root, d)); len(ents) != 0 {
			t.Errorf("%s is not empty: %v", d, ents)
		}
	}
	for _, a := range BusyboxApplets {
		if target, err := os.Readlink(filepath.Join(root, "bin", a)); err != nil || target != "busybox" {
			t.Errorf("bin/%s -> %q (%v), want busybox", a, target, err)
		}
	}
	out, err := exec.Command(filepath.Join(root, "bin", "sh"), "-c", "echo $((6*7))").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(42) {
		t.Errorf("bin/sh -c: %q %v", out, err)
	}
}

// TestReexecInUserNSHelper is driven by TestReexecInUserNSReportsChildOutcome: it does nothing unless
// TESTUTIL_META names the outcome its child should have.
func TestReexecInUserNSHelper(t *testing.T) {
	meta := os.Getenv("TESTUTIL_META")
	if meta == "" {
		return
	}
	if !ReexecInUserNS(t) {
		return
	}
	switch meta {
	case "fail":
		t.Fatal("child fails on purpose")
	case "skip":
		t.Skip("child skips on purpose")
	}
}

func TestReexecInUserNSReportsChildOutcome(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		meta, wantLine string
		wantExitErr    bool
	}{
		{meta: "pass", wantLine: "--- PASS: TestReexecInUserNSHelper"},
		{meta: "fail", wantLine: "child fails on purpose", wantExitErr: true},
		{meta: "skip", wantLine: "--- SKIP: TestReexecInUserNSHelper"},
	} {
		t.Run("child_"+tc.meta, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestReexecInUserNSHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "TESTUTIL_META="+tc.meta)
			out, err := cmd.CombinedOutput()
			if (err != nil) != tc.wantExitErr {
				t.Errorf("exit error %v, want error: %v\n%s", err, tc.wantExitErr, out)
			}
			// The parent's own verdict line, not only the child's streamed one.
			verdict := map[string]string{"pass": "--- PASS", "fail": "--- FAIL", "skip": "--- SKIP"}[tc.meta]
			if !strings.Contains(string(out), "\n"+verdict+": TestReexecInUserNSHelper") ||
				!strings.Contains(string(out), tc.wantLine) {
				t.Errorf("output lacks %q and the parent verdict %q:\n%s", tc.wantLine, verdict, out)
			}
		})
	}
}

func TestReexecAsRealRootKeepsTheUserNamespace(t *testing.T) {
	parent := ""
	if !InUserNSChild() {
		parent = nsInode(t, "self", "user")
	}
	if !ReexecInUserNS(t, AsRealRoot(), WithEnv("TESTUTIL_PARENT_USER", parent)) {
		return
	}
	if got, want := nsInode(t, "self", "user"), os.Getenv("TESTUTIL_PARENT_USER"); got != want {
		t.Errorf("user namespace %s, want the parent's %s", got, want)
	}
	if os.Getpid() != 1 {
		t.Errorf("pid %d, want 1", os.Getpid())
	}
}
