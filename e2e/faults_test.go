package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startWait is how long a pod may take to start its containers on a noisy
// machine before the test calls it a hang.
const startWait = 30 * time.Second

func sleeper(name string) container {
	return container{Name: name, Command: []string{"/bin/sleep", "1000"}}
}

// F-1: kill -9 of the supervisor takes the whole pod with it (the pause dies
// by PDEATHSIG, and with it the PID namespace); the next run of the same pod
// name cleans the stale state and succeeds.
func TestSupervisorKilledTakesPodWithIt(t *testing.T) {
	forModes(t, "f1", func(t *testing.T, c *tcase) {
		p := c.start(c.write(c.newPod(sleeper("main"))), runOpts{})
		c.waitPodProc(p, "sleep", startWait)
		c.findPause(p, startWait)
		p.signal(syscall.SIGKILL)
		if r := p.wait(); !r.signaled || r.code != 137 {
			t.Errorf("sandbox did not die of SIGKILL\n%s", r)
		}
		if left := c.waitNoPodProcs(c.pod, 2*time.Second); len(left) > 0 {
			t.Errorf("2 s after kill -9 of the supervisor, pod processes are left:\n%s", describeProcs(left))
		}

		r := c.run(c.write(c.newPod(sh("main", "echo rerun-ok"))), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "rerun-ok")
	})
}

// F-2: kill -9 of the pause kills every pod process; sandbox reports that the
// pod sandbox died and exits 137.
func TestPauseKilledFailsPod(t *testing.T) {
	forModes(t, "f2", func(t *testing.T, c *tcase) {
		p := c.start(c.write(c.newPod(sleeper("main"))), runOpts{})
		c.waitPodProc(p, "sleep", startWait)
		pause := c.findPause(p, startWait)
		if err := syscall.Kill(pause.pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill pause %d: %v", pause.pid, err)
		}
		r := p.wait()
		c.expectCode(r, 137)
		c.expectStderr(r, "pod sandbox died")
	})
}

// F-5: SIGTERM / SIGINT to the supervisor stop the pod gracefully: exit
// 143 / 130. A container that ignores SIGTERM is killed after the grace
// period.
func TestStopSignals(t *testing.T) {
	cases := []struct {
		name   string
		sig    syscall.Signal
		want   int
		ignore bool // the container ignores SIGTERM
	}{
		{"sigterm", syscall.SIGTERM, 143, false},
		{"sigint", syscall.SIGINT, 130, false},
		{"sigterm-ignored", syscall.SIGTERM, 143, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forModes(t, "f5-"+tc.name, func(t *testing.T, c *tcase) {
				ctr := sh("main", `echo started; exec sleep 1000`)
				if tc.ignore {
					// An ignored signal stays ignored in the children (sleep).
					ctr = sh("main", `trap "" TERM; echo started; while :; do sleep 0.2; done`)
				}
				pod := c.newPod(ctr) // grace period 2 s
				// Started, then stopped with a 2 s grace period: 40 s is a hang.
				p := c.start(c.write(pod), runOpts{timeout: 40 * time.Second})
				p.waitOutput("started", startWait)
				c.waitPodProc(p, "sleep", startWait)
				sent := time.Now()
				p.signal(tc.sig)
				r := p.wait()
				c.expectCode(r, tc.want)
				if tc.ignore {
					// A lower bound only: a slow machine can make it later,
					// never earlier.
					if d := time.Since(sent); d < 1500*time.Millisecond {
						t.Errorf("a container that ignores SIGTERM was gone %v after the stop signal, before the 2 s grace period", d)
					}
				}
			})
		})
	}
}

// F-11: when the second container cannot start, the first is stopped, the
// pod fails with 127 and leaks nothing; a retry with the same name works.
func TestFailedStartRollsBack(t *testing.T) {
	forModes(t, "f11", func(t *testing.T, c *tcase) {
		bad := container{Name: "second", Command: []string{"/nonexistent/e2e-cmd"}}
		r := c.run(c.write(c.newPod(sleeper("first"), bad)), runOpts{})
		c.expectCode(r, 127)
		if left := c.waitNoPodProcs(c.pod, 2*time.Second); len(left) > 0 {
			t.Errorf("pod processes left after the failed start:\n%s", describeProcs(left))
		}

		r = c.run(c.write(c.newPod(sh("first", "sleep 0.2; echo first-ok"), sh("second", "echo second-ok"))), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "first-ok", "second-ok")
	})
}

// F-12: a second run of a pod name that is running fails with 125 "already
// running" and leaves the first alone.
func TestSecondRunOfSamePodRefused(t *testing.T) {
	forModes(t, "f12", func(t *testing.T, c *tcase) {
		first := c.start(c.write(c.newPod(sh("main", `echo started; exec sleep 1000`))), runOpts{})
		first.waitOutput("started", startWait)
		sleep := c.waitPodProc(first, "sleep", startWait)

		// Another manifest with the same name, as a user would write it.
		r := c.run(c.write(c.newPod(sh("other", "echo SECOND-RAN"))), runOpts{timeout: 30 * time.Second})
		c.expectCode(r, 125)
		c.expectStderr(r, "already running")
		c.expectNoStdout(r, "SECOND-RAN")

		if first.exited() {
			t.Errorf("the first run exited after the second was refused\n%s", first.wait())
		} else if _, err := os.Stat("/proc/" + itoa(uint32(sleep.pid))); err != nil {
			t.Errorf("the first pod's container (pid %d) is gone after the second run: %v", sleep.pid, err)
		}
		found := false
		for _, d := range c.stateDirs(c.pod) {
			if _, err := os.Stat(d); err == nil {
				found = true
			}
		}
		if !found {
			t.Errorf("the first pod's state dir is gone after the second run was refused (looked in %v)", c.stateDirs(c.pod))
		}

		first.signal(syscall.SIGTERM)
		c.expectCode(first.wait(), 143)
	})
}

// F-4: an orphan that a container double-forks is reparented to the pause
// (PID 1 of the pod) and reaped: no zombie is left in the pod.
func TestPauseReapsOrphans(t *testing.T) {
	forModes(t, "f4", func(t *testing.T, c *tcase) {
		// The subshell exits at once, orphaning its `sleep 0.1`, which the
		// pause inherits; one second later nothing in the pod is a zombie.
		r := c.run(c.write(c.newPod(sh("main", `(sleep 0.1 &); sleep 1; `+
			`for s in /proc/[0-9]*/status; do grep -q '^State:.*Z' $s && echo "zombie: $s"; done; echo checked`))), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "checked")
		c.expectNoStdout(r, "zombie")
	})
}

// Once set up, every pause executes the pause image (amd64, arm64;
// nsenter/pauseimage.c): one page of program from a sealed memfd, which
// unmaps the stack below the page of its argv (ps shows that); nothing of
// libc, ld.so or the sandbox binary stays mapped, only the kernel's vDSO,
// shared. It still ignores other signals and exits 0 on SIGTERM or SIGINT,
// which the supervisor reports as the pod sandbox dying. Both networks: a
// bridge pod's pause is started by the supervisor inside the network
// holder, a pod without one is spawned by its first container's join.
func TestPauseIsOnePageOfProgram(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("the pause image is built for amd64 and arm64 only, not %s: the pause keeps the binary mapped", runtime.GOARCH)
	}
	forModes(t, "image", func(t *testing.T, c *tcase) {
		for _, tc := range []struct {
			network string
			stop    syscall.Signal
		}{{"none", syscall.SIGTERM}, {"bridge", syscall.SIGINT}} {
			pod := c.newPod(sleeper("main"))
			pod.Metadata.Annotations = map[string]string{"sandbox.podsandbox.dev/network": tc.network}
			p := c.start(c.write(pod), runOpts{})
			c.waitPodProc(p, "sleep", startWait)
			pause := c.findPause(p, startWait)
			if pause.exe != "/memfd:pause" { // readProc cuts " (deleted)"
				t.Errorf("network %s: the pause executes %q, want the pause image", tc.network, pause.exe)
			}
			m, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pause.pid))
			if err != nil {
				t.Fatalf("network %s: maps of the pause: %v", tc.network, err)
			}
			text, stack := 0, 0
			for line := range strings.SplitSeq(strings.TrimSpace(string(m)), "\n") {
				var lo, hi uint64
				f := strings.Fields(line)
				if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err != nil || len(f) < 5 {
					t.Fatalf("network %s: maps line %q", tc.network, line)
				}
				switch name := strings.Join(f[5:], " "); {
				case name == "/memfd:pause (deleted)" && f[1] == "r-xp":
					text += int(hi-lo) / os.Getpagesize()
				case (name == "" || name == "[stack]") && f[1] == "rw-p":
					stack += residentPages(t, pause.pid, lo)
				case name == "[vsyscall]", name == "[vdso]", strings.HasPrefix(name, "[vvar"):
				default:
					t.Errorf("network %s: the pause still maps %q", tc.network, line)
				}
			}
			if text != 1 || stack < 1 || stack > 2 {
				t.Errorf("network %s: the pause maps %d pages of the pause image and has %d of stack in memory, want 1 and the page of its argv (or two)\n%s", tc.network, text, stack, m)
			}
			if now, ok := readProc(pause.pid); !ok || now.cmdline != "pause" {
				t.Errorf("network %s: the pause's command line is %q, want \"pause\"", tc.network, now.cmdline)
			}
			// SIGHUP and SIGUSR1 from the host would kill a PID 1 that left
			// them at their default action.
			for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGCHLD, tc.stop} {
				if err := syscall.Kill(pause.pid, sig); err != nil {
					t.Fatalf("kill %v the pause: %v", sig, err)
				}
			}
			r := p.wait()
			c.expectStderr(r, "pod sandbox died", "exited with status 0")
		}
	})
}

// F-13: stale state whose recorded pause PID now belongs to an unrelated
// process (same PID, other start time) is cleaned by the next run without
// signalling that process.
func TestStaleStateWithRecycledPIDIsNotSignalled(t *testing.T) {
	forModes(t, "f13", func(t *testing.T, c *tcase) {
		bystander := exec.Command("/bin/sleep", "30")
		if err := bystander.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { bystander.Process.Kill(); bystander.Wait() }()
		// A state directory as a supervisor that died would leave it, but
		// with the bystander's PID and a start time it never had.
		dir := c.stateDir()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		record := fmt.Sprintf(`{"name":%q,"supervisor":{"pid":%d,"startTime":1},"pause":{"pid":%d,"startTime":1},"phase":"Running","containers":[]}`,
			c.pod, bystander.Process.Pid, bystander.Process.Pid)
		if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(record), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{filepath.Dir(dir), dir, filepath.Join(dir, "state.json")} {
			c.chown(p)
		}
		r := c.run(c.write(c.newPod(sh("main", "echo fresh-run"))), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "fresh-run")
		if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("the unrelated process with the recorded PID was signalled: %v", err)
		}
		var ws syscall.WaitStatus
		if pid, _ := syscall.Wait4(bystander.Process.Pid, &ws, syscall.WNOHANG, nil); pid != 0 {
			t.Fatalf("the unrelated process with the recorded PID died: %v", ws)
		}
	})
}

// A failure to write the id maps comes after the containers that run first
// were started (their joins overlap newuidmap): they are stopped, the pod
// fails with 125 naming the helper, and nothing is left. newuidmap is found
// in PATH, so a failing one earlier in PATH stands in for a broken setuid
// helper or /etc/subuid.
func TestIDMapFailureStopsEarlyContainers(t *testing.T) {
	onlyMode(t, "rootless-subuid", "idmapfail", func(t *testing.T, c *tcase) {
		bin := filepath.Join(c.dir, "fakebin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\necho 'newuidmap: e2e simulated failure' >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(bin, "newuidmap"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		r := c.run(c.write(c.newPod(sleeper("first"), sleeper("second"))), runOpts{env: []string{"PATH=" + bin + ":" + hostPath}})
		c.expectCode(r, 125)
		c.expectStderr(r, "write id maps", "e2e simulated failure")
		if left := c.waitNoPodProcs(c.pod, 2*time.Second); len(left) > 0 {
			t.Errorf("pod processes left after the failed id mapping:\n%s", describeProcs(left))
		}
	})
}

// residentPages returns how many pages of pid's mapping that starts at lo
// are in memory (smaps' Rss).
func residentPages(t *testing.T, pid int, lo uint64) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatalf("smaps of %d: %v", pid, err)
	}
	in := false
	for line := range strings.SplitSeq(string(data), "\n") {
		var start, end uint64
		if _, err := fmt.Sscanf(line, "%x-%x", &start, &end); err == nil && strings.Contains(strings.Fields(line)[0], "-") {
			in = start == lo
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb * 1024 / os.Getpagesize()
		}
	}
	t.Fatalf("smaps of %d: no mapping at %x", pid, lo)
	return 0
}
