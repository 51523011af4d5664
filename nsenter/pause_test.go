package nsenter

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// rssKB reads VmRSS (kB) from /proc/PID/status, which any user may read,
// even of a non-dumpable process.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// The pause role run from this test binary (its constructor is nsenter.c):
// it reports ok, executes the pause image on amd64 and arm64 (one page of
// program and the top of its stack in memory, nothing of the binary or libc
// mapped), keeps its command line readable, ignores the signals that are not
// SIGTERM or SIGINT, and exits 0 on either of those.
func TestPauseRole(t *testing.T) {
	for _, stop := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(stop.String(), func(t *testing.T) {
			syncR, syncW, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer syncR.Close()
			cmd := &exec.Cmd{
				Path:        os.Args[0],
				Args:        []string{"pause"},
				Env:         []string{EnvRole + "=" + RolePause, EnvSyncFD + "=3"},
				ExtraFiles:  []*os.File{syncW},
				SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			syncW.Close()
			done := false
			defer func() {
				if !done {
					cmd.Process.Kill()
					cmd.Wait()
				}
			}()
			pid := cmd.Process.Pid
			// EOF once the pause has closed its descriptors, after "ok".
			if _, err := ReadReport(syncR); err != nil {
				t.Fatalf("pause report: %v", err)
			}
			if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
				if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != "/memfd:pause (deleted)" {
					t.Errorf("the pause executes %q (%v), want the pause image, /memfd:pause (deleted)", exe, err)
				}
				maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
				if err != nil {
					t.Fatal(err)
				}
				for line := range strings.SplitSeq(strings.TrimSpace(string(maps)), "\n") {
					f := strings.Fields(line)
					name := strings.Join(f[5:], " ")
					switch {
					case name == "/memfd:pause (deleted)", name == "[stack]", name == "", name == "[vdso]",
						name == "[vsyscall]", strings.HasPrefix(name, "[vvar"):
					default:
						t.Errorf("the pause maps %q: want only its page of program, its stack and the vDSO", line)
					}
				}
				// One page of program, the top page of the stack (pages of
				// 64 kB on some arm64 kernels).
				if rss := rssKB(t, pid); rss > 2*os.Getpagesize()/1024 {
					t.Errorf("the pause's RSS is %d kB, want at most 2 pages\n%s", rss, maps)
				}
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || string(b) != "pause\x00" {
				t.Errorf("/proc/%d/cmdline = %q, %v; want \"pause\\x00\"", pid, b, err)
			}
			// Default-fatal signals (the pause is no PID 1 here): ignored.
			for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPIPE, syscall.SIGALRM, syscall.SIGQUIT, syscall.SIGCHLD} {
				if err := syscall.Kill(pid, sig); err != nil {
					t.Fatalf("kill %v: %v", sig, err)
				}
			}
			if err := syscall.Kill(pid, stop); err != nil {
				t.Fatalf("kill %v: %v", stop, err)
			}
			err = cmd.Wait()
			done = true
			if err != nil {
				t.Errorf("pause after SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGQUIT, SIGCHLD and %v: %v, want exit status 0", stop, err)
			}
		})
	}
}
