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
	"time"
)

// vmSize reads VmSize (kB) from /proc/PID/status, which any user may read,
// even of a non-dumpable process.
func vmSize(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmSize in /proc/%d/status", pid)
}

// The pause role run from this test binary (its constructor is nsenter.c):
// it reports ok, sheds its address space on amd64 and arm64, keeps its
// command line readable, ignores the signals that are not SIGTERM or SIGINT,
// and exits 0 on either of those.
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
				// One page of text and the top of the stack are left: a few
				// pages (64 kB ones on some arm64 kernels).
				limit := 4 * os.Getpagesize() / 1024
				var size int
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
					if size, err = vmSize(pid); err != nil {
						t.Fatal(err)
					}
					if size <= limit || time.Now().After(deadline) {
						break
					}
				}
				if size > limit {
					maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
					t.Fatalf("the pause's address space is %d kB, want at most %d kB (libc, the binary and the stack unmapped)\n%s", size, limit, maps)
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
