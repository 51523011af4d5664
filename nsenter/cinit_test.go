package nsenter_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/internal/testutil"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/rootfs"
)

// TestMain: a join role whose C init was sent a Go config returns to Go,
// which starts this test binary's main; it says so instead of running the
// tests again.
func TestMain(m *testing.M) {
	if r := nsenter.Role(); r == nsenter.RoleJoin || r == nsenter.RoleExec {
		data, _ := io.ReadAll(os.NewFile(5, "config"))
		fmt.Printf("go init read %q\n", data)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type joinResult struct {
	stdout, failure string
	code            int
}

// runJoin runs this binary in the join role with the C init selected, in
// new user (the caller's ids as root), network, UTS and IPC namespaces and
// a PID namespace the role unshares (NSFLAGS=0: nothing to join), and
// sends config on its config pipe: the container path of `sandbox run`
// without a pause to join.
func runJoin(t *testing.T, config []byte) joinResult {
	t.Helper()
	runtime.LockOSThread() // the child dies with the thread that started it (PDEATHSIG)
	defer runtime.UnlockOSThread()
	return runRole(t, config, []string{
		nsenter.EnvRole + "=" + nsenter.RoleJoin, nsenter.EnvNewPID + "=1",
		containerinit.EnvConfigFD + "=5", containerinit.EnvErrorFD + "=6",
	}, &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	})
}

// runRole runs this binary in a role with the C code selected (EnvCInit),
// no namespace to join (NSFLAGS=0, /dev/null for the pidfd), descriptors
// 3 sync, 4 pidfd, 5 config, 6 error pipe, and sends config on the config
// pipe; it reaps the process the role cloned.
func runRole(t *testing.T, config []byte, env []string, attr *syscall.SysProcAttr) joinResult {
	t.Helper()
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	pipe := func() (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		closers = append(closers, r, w)
		return r, w
	}
	syncR, syncW := pipe()
	cfgR, cfgW := pipe()
	errR, errW := pipe()
	null, err := os.Open(os.DevNull) // a stand-in for the pidfd
	if err != nil {
		t.Fatal(err)
	}
	closers = append(closers, null)
	var stdout bytes.Buffer
	cmd := exec.Command(os.Args[0])
	cmd.Env = append([]string{nsenter.EnvSyncFD + "=3", nsenter.EnvPidFD + "=4", nsenter.EnvNSFlags + "=0", nsenter.EnvCInit + "=1"}, env...)
	cmd.ExtraFiles = []*os.File{syncW, null, cfgR, errW}
	cmd.Stdout = &stdout
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		// Only a refused user namespace is the environment's doing.
		if attr != nil && attr.Cloneflags&unix.CLONE_NEWUSER != 0 && (errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EACCES)) {
			testutil.SkipOrFailUnlessCI(t, fmt.Sprintf("no user namespace for the test: %v", err))
		}
		t.Fatalf("start the role: %v", err)
	}
	for _, f := range []*os.File{syncW, cfgR, errW} {
		f.Close()
	}
	rep, err := nsenter.ReadReport(syncR)
	if err != nil {
		cmd.Wait()
		t.Fatalf("join: %v", err)
	}
	if _, err := cfgW.Write(config); err != nil {
		t.Fatal(err)
	}
	cfgW.Close()
	failure, _ := io.ReadAll(errR)
	var ws unix.WaitStatus
	if _, err := unix.Wait4(rep.PID, &ws, 0, nil); err != nil {
		t.Fatalf("wait for the container process %d: %v", rep.PID, err)
	}
	cmd.Wait()
	return joinResult{stdout: stdout.String(), failure: string(failure), code: ws.ExitStatus()}
}

func hostRootConfig(t *testing.T, argv ...string) *containerinit.Config {
	return &containerinit.Config{
		Name: "main", Argv: argv, Env: []string{"PATH=/usr/bin:/bin"}, WorkingDir: "/tmp",
		Pod:      &containerinit.PodSetup{Hostname: "cinit-test"},
		FS:       rootfs.Spec{Scratch: t.TempDir(), MaskPaths: rootfs.DefaultMaskPaths, ReadonlyPaths: rootfs.DefaultReadonlyPaths},
		Security: &containerinit.Security{Capabilities: []string{"CHOWN", "KILL"}, NoNewPrivs: true, Seccomp: true},
	}
}

func encodeC(t *testing.T, cfg *containerinit.Config) []byte {
	t.Helper()
	prog, err := containerinit.SeccompProgram(cfg.Security.Capabilities)
	if err != nil {
		t.Fatal(err)
	}
	data, err := containerinit.EncodeC(cfg, prog)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The C init builds the filesystem, applies the security settings and
// execs the workload; no Go code runs in the child.
func TestCInitRuns(t *testing.T) {
	script := `echo "hostname=$(hostname) pwd=$(pwd)"; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status | tr -s '\t' ' '
stat -c '%n %t:%T' /proc/keys; touch /usr/x 2>/dev/null || echo host-root-ro; ls /proc/self/fd | tr '\n' ' '`
	r := runJoin(t, encodeC(t, hostRootConfig(t, "sh", "-c", script)))
	if r.code != 0 || r.failure != "" {
		t.Fatalf("exit %d, failure %q, stdout %q", r.code, r.failure, r.stdout)
	}
	for _, want := range []string{"hostname=cinit-test pwd=/tmp", "NoNewPrivs: 1", "Seccomp: 2", "CapEff: 0000000000000021",
		"/proc/keys 1:3", "host-root-ro", "0 1 2 3 "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in the workload's output:\n%s", want, r.stdout)
		}
	}
}

// Failures are the Go init's: Failure JSON, 125/126/127 and its messages.
func TestCInitFailures(t *testing.T) {
	bad := []byte{containerinit.CModeC, 'V', 4, 0, 0, 0, 9, 0, 0, 0, 'Z', 0, 0, 0, 0}
	for _, tc := range []struct {
		name   string
		config []byte
		code   int
		want   string
	}{
		{"not found", encodeC(t, hostRootConfig(t, "no-such-program")), 127, `exec \"no-such-program\": executable file not found in $PATH`},
		{"directory", encodeC(t, hostRootConfig(t, "/etc")), 126, `exec \"/etc\": is a directory`},
		{"version", bad, 125, fmt.Sprintf("C init format version 9, this binary reads %d", containerinit.CFormatVersion)},
		{"truncated", bad[:10], 125, "the config ended before its 'Z' record"},
		{"exec config", execC(t, nil, "true"), 125, "an exec config for a container init"},
		{"mode", []byte("{}"), 125, "want 'C' or 'G' first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runJoin(t, tc.config)
			if r.code != tc.code || !strings.Contains(r.failure, tc.want) || !strings.HasPrefix(r.failure, fmt.Sprintf(`{"code":%d,"message":"`, tc.code)) {
				t.Errorf("exit %d, failure %s; want %d and %q", r.code, r.failure, tc.code, tc.want)
			}
		})
	}
}

// 'G': the C init returns and the Go runtime reads the rest of the pipe.
func TestCInitFallsBackToGo(t *testing.T) {
	r := runJoin(t, append([]byte{containerinit.CModeGo}, `{"name":"x"}`...))
	if r.code != 0 || r.stdout != "go init read \"{\\\"name\\\":\\\"x\\\"}\"\n" {
		t.Errorf("exit %d, stdout %q, failure %q", r.code, r.stdout, r.failure)
	}
}

func execC(t *testing.T, id *containerinit.CIdentity, argv ...string) []byte {
	t.Helper()
	data, err := containerinit.EncodeCExec(argv, []string{"PATH=/usr/bin:/bin", "X=y"}, "/tmp", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// runExec runs this binary in the exec role with the C child selected
// and sends config on its config pipe.
func runExec(t *testing.T, config []byte) joinResult {
	t.Helper()
	return runRole(t, config, []string{
		nsenter.EnvRole + "=" + nsenter.RoleExec, "_SANDBOX_EXEC_CONFIG_FD=5", "_SANDBOX_EXEC_ERROR_FD=6",
	}, nil)
}

// The exec role's C child runs the command: working dir, environment, a
// session of its own, only 0-2; failures are execin's.
func TestCExec(t *testing.T) {
	r := runExec(t, execC(t, nil, "sh", "-c", `echo "pwd=$(pwd) X=$X"; [ "$(cut -d' ' -f6 /proc/self/stat)" = $$ ] && echo own-session; ls /proc/self/fd | tr '\n' ' '`))
	if r.code != 0 || r.failure != "" {
		t.Fatalf("exit %d, failure %q, stdout %q", r.code, r.failure, r.stdout)
	}
	for _, want := range []string{"pwd=/tmp X=y", "own-session", "0 1 2 3 "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no %q in the command's output:\n%s", want, r.stdout)
		}
	}
	if os.Getuid() != 0 {
		// The caller's own ids as the identity: the same steps, no change.
		id := &containerinit.CIdentity{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), Bounding: ^uint64(0)}
		r = runExec(t, execC(t, id, "sh", "-c", "id -u"))
		if r.code != 0 || strings.TrimSpace(r.stdout) != fmt.Sprint(os.Getuid()) {
			t.Errorf("identity: exit %d, failure %q, stdout %q", r.code, r.failure, r.stdout)
		}
	}
	for _, tc := range []struct {
		name   string
		config []byte
		code   int
		want   string
	}{
		{"not found", execC(t, nil, "no-such-program"), 127, `exec \"no-such-program\": executable file not found in $PATH`},
		{"no file", execC(t, nil, "/no/such/program"), 127, `exec \"/no/such/program\": no such file or directory`},
		{"directory", execC(t, nil, "/etc"), 126, `exec \"/etc\": is a directory`},
		{"container config", encodeC(t, hostRootConfig(t, "true")), 125, "not an exec config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runExec(t, tc.config)
			if r.code != tc.code || !strings.Contains(r.failure, tc.want) || !strings.HasPrefix(r.failure, fmt.Sprintf(`{"code":%d,"message":"`, tc.code)) {
				t.Errorf("exit %d, failure %s; want %d and %q", r.code, r.failure, tc.code, tc.want)
			}
		})
	}
	// 'G': the C child returns and the Go runtime reads the rest.
	r = runExec(t, append([]byte{containerinit.CModeGo}, `{"argv":["x"]}`...))
	if r.code != 0 || r.stdout != "go init read \"{\\\"argv\\\":[\\\"x\\\"]}\"\n" {
		t.Errorf("fallback: exit %d, stdout %q, failure %q", r.code, r.stdout, r.failure)
	}
}
