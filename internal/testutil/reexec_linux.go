package testutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envChild marks a test binary started by ReexecInUserNS; its value is the name of the test the child runs.
const envChild = "SANDBOX_TESTUTIL_USERNS_CHILD"

// DefaultCloneflags are the namespaces a ReexecInUserNS child gets unless options change them.
const DefaultCloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET |
	syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS

// ReexecOption changes how ReexecInUserNS starts the child.
type ReexecOption func(*reexecConfig)

type reexecConfig struct {
	add, remove uintptr
	env         []string
	realRoot    bool
}

// WithCloneflags adds namespace flags (for example CLONE_NEWCGROUP) to DefaultCloneflags.
func WithCloneflags(flags uintptr) ReexecOption {
	return func(c *reexecConfig) { c.add |= flags }
}

// WithoutCloneflags removes namespace flags from DefaultCloneflags, for tests that need to share a namespace with
// the host (for example the host network namespace). CLONE_NEWUSER cannot be removed.
func WithoutCloneflags(flags uintptr) ReexecOption {
	return func(c *reexecConfig) { c.remove |= flags &^ syscall.CLONE_NEWUSER }
}

// AsRealRoot runs the child without a user namespace, as the real root of the machine, in the other new
// namespaces: the rootful mode. The test is skipped unless the caller is root. Use it only for code that is
// safe as real root in a fresh mount namespace.
func AsRealRoot() ReexecOption {
	return func(c *reexecConfig) { c.realRoot = true }
}

// WithEnv passes key=value to the child, which is how a parent hands it fixtures it prepared (paths in its
// t.TempDir, for example). The option is ignored in the child.
func WithEnv(key, value string) ReexecOption {
	return func(c *reexecConfig) { c.env = append(c.env, key+"="+value) }
}

// InUserNSChild reports whether this process is a child started by ReexecInUserNS. Tests use it to prepare
// fixtures only in the parent.
func InUserNSChild() bool { return os.Getenv(envChild) != "" }

// ReexecInUserNS runs the calling test inside fresh namespaces, following rootlesskit's pkg/port/testsuite:
//
//	func TestX(t *testing.T) {
//		if !testutil.ReexecInUserNS(t) {
//			return // the parent: the child ran the test body and its result is already reported
//		}
//		// here: uid 0 in a new user, mount, network, PID, IPC and UTS namespace
//	}
//
// In the parent it re-runs the current test binary with -test.run matching only this test (subtests work), as
// a child in DefaultCloneflags namespaces with uid and gid 0 mapped to the caller's (setgroups denied), streams
// the child's output into the test log, fails the test if the child failed, skips it if the child skipped, and
// returns false. It also checks that /proc/self/mountinfo of the parent is unchanged when the test ends, so a
// mount that escaped into the host's mount namespace fails the test. In the child it returns true.
//
// When user namespaces are unavailable the test is skipped with the reason, or fails when CI is set
// (SkipOrFailUnlessCI).
func ReexecInUserNS(t *testing.T, opts ...ReexecOption) bool {
	t.Helper()
	if name := os.Getenv(envChild); name != "" {
		if name != t.Name() {
			t.Fatalf("ReexecInUserNS: already in the child started for %s; nested use is not supported", name)
		}
		return true
	}
	cfg := reexecConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.realRoot && os.Geteuid() != 0 {
		t.Skip("the rootful variant needs real root")
	}
	if reason := userNSUnavailable(); reason != "" && !cfg.realRoot {
		SkipOrFailUnlessCI(t, reason)
		return false
	}
	CheckNoMountLeak(t)

	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("ReexecInUserNS: find the test binary: %v", err)
	}
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		// Leave the parent time to report the child's output before the test binary's own timeout panics.
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-5*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, exe, "-test.run="+runPattern(t.Name()), "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), cfg.env...), envChild+"="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 (DefaultCloneflags | cfg.add) &^ cfg.remove,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		// Pdeathsig fires when the creating thread exits, so the thread stays locked while the child lives.
		Pdeathsig: syscall.SIGKILL,
	}
	if cfg.realRoot {
		cmd.SysProcAttr.Cloneflags &^= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings, cmd.SysProcAttr.GidMappings = nil, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatalf("ReexecInUserNS: %v", err)
	}
	cmd.Stdout, cmd.Stderr = w, w

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EINVAL) ||
			errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS) {
			SkipOrFailUnlessCI(t, fmt.Sprintf("user namespaces unavailable: start the test binary in new "+
				"namespaces: %v (check user.max_user_namespaces, kernel.unprivileged_userns_clone and AppArmor's "+
				"kernel.apparmor_restrict_unprivileged_userns)", err))
			return false
		}
		t.Fatalf("ReexecInUserNS: start the child: %v", err)
	}
	out := streamLines(t, r)
	waitErr := cmd.Wait()
	// A grandchild that outlived the child (possible only without CLONE_NEWPID) may hold the pipe open.
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	output := <-out
	r.Close()

	switch {
	case waitErr != nil:
		t.Fatalf("ReexecInUserNS: the child in new namespaces failed: %v", waitErr)
	case strings.Contains(output, "--- SKIP: "+t.Name()+" "):
		t.Skip("skipped in the user-namespace child (reason in the log above)")
	case strings.Contains(output, "testing: warning: no tests to run"):
		t.Fatalf("ReexecInUserNS: -test.run=%s matched no test in the child", runPattern(t.Name()))
	}
	return false
}

// runPattern turns a test name (with subtests) into a -test.run pattern that matches exactly that test.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// streamLines logs every line of r as it arrives and sends the whole output when r reaches EOF.
func streamLines(t *testing.T, r io.Reader) <-chan string {
	out := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t.Logf("userns child: %s", sc.Text())
			all.WriteString(sc.Text())
			all.WriteByte('\n')
		}
		out <- all.String()
	}()
	return out
}

// userNSUnavailable returns why user namespaces cannot be created here, or "" if they may be.
func userNSUnavailable() string {
	if _, err := os.Lstat("/proc/self/ns/user"); errors.Is(err, os.ErrNotExist) {
		return "user namespaces unavailable: the kernel has no CONFIG_USER_NS (/proc/self/ns/user is missing)"
	}
	if v, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(v)) == "0" {
		return "user namespaces unavailable: user.max_user_namespaces is 0"
	}
	if os.Geteuid() != 0 {
		if v, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil &&
			strings.TrimSpace(string(v)) == "0" {
			return "user namespaces unavailable: kernel.unprivileged_userns_clone is 0"
		}
	}
	return ""
}
