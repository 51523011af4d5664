package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A manifest in the C reader's subset (nsenter/podspec.c: one container on
// the host's root, network none, restartPolicy Never) run by a rootless
// caller is run by the CLI's constructor in C (nsenter/fastpod.c), without
// the Go runtime; SANDBOX_FASTPATH=0 sends it through the Go supervisor.
// Both must give the pod the same sandbox, output, record, logs, exit code
// and messages. (Most of the e2e suite's pods are in the subset too, so
// every other test runs them the fast way.)

// runBothWays runs manifest fast, then through the Go supervisor.
func (c *tcase) runBothWays(manifest string, o runOpts) (fast, slow result) {
	c.t.Helper()
	fast = c.run(manifest, o)
	// Checked now: the Go run of the same name would clean what it left.
	for _, d := range c.stateDirs(c.pod) {
		if _, err := os.Lstat(d); err == nil {
			c.t.Errorf("the fast path left its state directory %s", d)
		}
	}
	o.env = append(slices.Clone(o.env), "SANDBOX_FASTPATH=0")
	slow = c.run(manifest, o)
	return fast, slow
}

func TestRunManifestFastPathMatchesGoPath(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "fastpod", func(t *testing.T, c *tcase) {
			long := strings.Repeat("x", 100<<10)
			probe := sh("main", fastProbe)
			probe.WorkingDir = "/tmp"
			env := sh("main", "env | sort")
			env.Env = []envVar{{"A", "1"}, {"B", "two words"}, {"A", "3"}, {"PATH", "/bin:/usr/bin"}, {"HOME", "/tmp"}, {"EMPTY", ""}}
			args := container{Name: "main", Command: []string{"printf"}, Args: []string{"%s|", "a b", "", "c"}}
			cases := []struct {
				name string
				pod  container
				edit func(p *podManifest)
			}{
				{"probe", probe, nil},
				{"env", env, nil},
				{"args", args, nil},
				{"hostname", sh("main", "hostname; cat /etc/hostname; echo $HOSTNAME"), func(p *podManifest) { p.Spec.Hostname = "other-name" }},
				{"exit code and both streams", sh("main", "echo out; echo err >&2; exit 3"), nil},
				{"unterminated lines", sh("main", "printf out; printf err >&2"), nil},
				{"a line longer than the buffer", sh("main", "printf '"+long+"\\n"+long+"'"), nil},
				{"many lines", sh("main", "seq 1 50000; seq 1 1000 >&2"), nil},
				// Files of a subordinate uid in the pod's /dev/shm (the state
				// directory's shm): the teardown removes them (the case's
				// leak check finds any state left).
				{"subordinate files in /dev/shm", sh("main", "mkdir /dev/shm/d && touch /dev/shm/d/f && chown -R 1000:1000 /dev/shm/d && chmod 700 /dev/shm/d && ls -ln /dev/shm"), nil},
				{"killed by a signal", sh("main", "kill -TERM $$"), nil},
				{"not found", container{Name: "main", Command: []string{"no-such-command"}}, nil},
				{"not executable", container{Name: "main", Command: []string{"/etc/hostname"}}, nil},
				{"working directory missing", container{Name: "main", Command: []string{"true"}, WorkingDir: "/no/such/dir"}, nil},
				{"grace 0", sh("main", "echo ok"), func(p *podManifest) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(0)) }},
			}
			// An image directory (dir:PATH, or a plain absolute path) is
			// in the subset too: the peers' benchmarks run on one.
			root := c.busyboxRootfs("fastpod-rootfs")
			dirProbe := `cat /marker; id -u; hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf; ls /dev; awk '{ split($6, o, ","); print $5, o[1] }' /proc/self/mountinfo | sort`
			cases = append(cases, []struct {
				name string
				pod  container
				edit func(p *podManifest)
			}{
				{"dir image", container{Name: "main", Image: "dir:" + root, Command: []string{"/bin/sh", "-c", dirProbe}}, nil},
				{"path image", container{Name: "main", Image: root, Command: []string{"/bin/sh", "-c", dirProbe}}, nil},
				{"missing image directory", container{Name: "main", Image: "dir:" + root + "/nope", Command: []string{"true"}}, nil},
			}...)
			for _, tc := range cases {
				p := c.newPod(tc.pod)
				if tc.edit != nil {
					tc.edit(p)
				}
				fast, slow := c.runBothWays(c.write(p), runOpts{})
				if fast.code != slow.code || fast.stdout != slow.stdout || fast.stderr != slow.stderr {
					t.Errorf("%s: the fast path differs from the Go path\nfast: %s\ngo:   %s\ndiff of stdout:\n%s", tc.name, fast, slow, lineDiff(slow.stdout, fast.stdout))
				}
			}
			// The image directory's pod is taken by the fast path: its
			// CLI never starts the Go runtime.
			p := c.start(c.write(c.newPod(container{Name: "main", Image: "dir:" + root, Command: []string{"/bin/sh", "-c", "echo started; exec sleep 30"}})), runOpts{})
			p.waitOutput("started", 10*time.Second)
			if threads := procStatusField(p.pid(), "Threads"); threads != "1" {
				t.Errorf("dir image: the sandbox process has %s threads, want 1 (the fast path, no Go runtime)", threads)
			}
			p.signal(syscall.SIGTERM)
			c.expectCode(p.wait(), 143)
			// Absolute expectations, so that both ways cannot agree on
			// something wrong.
			r := c.run(c.write(c.newPod(sh("main", "id -u; cat /proc/1/comm; hostname; ls /sys/class/net"))), runOpts{})
			c.expectCode(r, 0)
			c.expectStdout(r, "0\npause\n"+c.pod+"\nlo\n")
			r = c.run(c.write(c.newPod(container{Name: "main", Command: []string{"no-such-command"}})), runOpts{})
			c.expectCode(r, 127)
			c.expectStderr(r, `sandbox: error: container "main": exec "no-such-command": executable file not found in $PATH`)
			if name == "rootless-nosubuid" {
				c.expectStderr(r, "sandbox: warning: only container uid/gid 0 is mapped (to your own): no subordinate id range for")
			}
		})
	}
}

// normalRecord is state.json with what differs between two runs of the same
// pod (pids, start times, timestamps, namespace inodes) replaced.
func normalRecord(t *testing.T, data []byte) string {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("state.json: %v\n%s", err, data)
	}
	out, _ := json.MarshalIndent(rec, "", " ")
	s := regexp.MustCompile(`"(pid|startTime|cgroup|ipc|mnt|net|user|uts)": \d+`).ReplaceAllString(string(out), `"$1": N`)
	return regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`).ReplaceAllString(s, `"TIME"`)
}

// The fast path is really taken, and what other commands see of its pod is
// what they see of the Go supervisor's: the record, ps, logs, exec, stop.
func TestRunManifestFastPathServesTheOtherCommands(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "fastcmds", func(t *testing.T, c *tcase) {
			manifest := c.write(c.newPod(sh("main", "echo out; echo err >&2; echo started; exec sleep 30")))
			records, fastexec := map[bool]string{}, map[bool][]byte{}
			for _, goPath := range []bool{false, true} {
				o := runOpts{}
				if goPath {
					o.env = []string{"SANDBOX_FASTPATH=0"}
				}
				p := c.start(manifest, o)
				p.waitOutput("started", 10*time.Second)
				threads := procStatusField(p.pid(), "Threads")
				if goPath == (threads == "1") {
					t.Errorf("go path %v: the sandbox process has %s threads (1: no Go runtime, the fast path)", goPath, threads)
				}
				dir := filepath.Join(c.xdg, "sandbox", c.pod)
				deadline := time.Now().Add(5 * time.Second)
				var data []byte
				for {
					var err error
					data, err = os.ReadFile(filepath.Join(dir, "state.json"))
					if err == nil && strings.Contains(string(data), `"mnt"`) && strings.Count(string(data), `"namespaces"`) == 2 || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				records[goPath] = normalRecord(t, data)
				// The fastexec file sandbox exec reads from C, with the
				// supervisor's and the container's pid and start time
				// (supervisor/fastexec_linux.go's layout) zeroed.
				if fe, err := os.ReadFile(filepath.Join(dir, "fastexec")); err != nil || len(fe) < 44 {
					t.Errorf("go path %v: fastexec file: %v (%d bytes)", goPath, err, len(fe))
				} else {
					for _, r := range [][2]int{{8, 12}, {16, 24}, {32, 44}} {
						clear(fe[r[0]:r[1]])
					}
					fastexec[goPath] = fe
				}
				ps := c.startArgs([]string{"ps"}, runOpts{}).wait()
				c.expectCode(ps, 0)
				c.expectStdout(ps, c.pod, "Running")
				logs := c.startArgs([]string{"logs", c.pod}, runOpts{}).wait()
				c.expectCode(logs, 0)
				c.expectStdout(logs, "out\n", "started\n")
				c.expectStderr(logs, "err\n")
				ex := c.startArgs([]string{"exec", c.pod, "--", "sh", "-c", "cat /proc/1/comm; hostname"}, runOpts{}).wait()
				c.expectCode(ex, 0)
				c.expectStdout(ex, "pause\n"+c.pod+"\n")
				// A second pod of the same name is refused while it runs.
				again := c.run(manifest, runOpts{})
				c.expectCode(again, 125)
				c.expectStderr(again, "already running")
				stop := c.startArgs([]string{"stop", c.pod}, runOpts{}).wait()
				c.expectCode(stop, 0)
				r := p.wait()
				c.expectCode(r, 143)
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("go path %v: state directory %s left after the pod: %v", goPath, dir, err)
				}
			}
			if !bytes.Equal(fastexec[false], fastexec[true]) {
				t.Errorf("the fast path's fastexec file differs from the Go supervisor's:\nfast: %x\ngo:   %x", fastexec[false], fastexec[true])
			}
			if records[false] != records[true] {
				t.Errorf("the fast path's state.json differs from the Go supervisor's:\nfast: %s\ngo:   %s", records[false], records[true])
			}
		})
	}
}

// The faults of the test plan, the fast way: SIGINT and SIGTERM stop the
// pod within its grace period; a container that ignores SIGTERM is killed
// when the grace period ends; kill -9 of the pause (F-2) and of the CLI
// (F-1) leave nothing behind.
func TestRunManifestFastPathFaults(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "fastfault", func(t *testing.T, c *tcase) {
			started := c.write(c.newPod(sh("main", "echo started; exec sleep 30")))
			for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
				p := c.start(started, runOpts{})
				p.waitOutput("started", 10*time.Second)
				p.signal(sig)
				c.expectCode(p.wait(), 128+int(sig))
			}
			stubborn := c.newPod(sh("main", "trap '' TERM; echo started; while :; do sleep 0.1; done"))
			stubborn.Spec.TerminationGracePeriodSeconds = ptr(int64(1))
			p := c.start(c.write(stubborn), runOpts{})
			p.waitOutput("started", 10*time.Second)
			p.signal(syscall.SIGTERM)
			r := p.wait()
			c.expectCode(r, 143)
			if r.elapsed < time.Second {
				t.Errorf("a container ignoring SIGTERM ended after %v, before its grace period of 1s", r.elapsed)
			}

			// sandbox stop -t 1 overrides the grace period of 30 s
			// (its stop-grace-seconds file, read when SIGTERM comes).
			stubborn.Spec.TerminationGracePeriodSeconds = ptr(int64(30))
			p = c.start(c.write(stubborn), runOpts{})
			p.waitOutput("started", 10*time.Second)
			begin := time.Now()
			c.expectCode(c.sb("stop", "-t", "1", c.pod), 0)
			if d := time.Since(begin); d > 10*time.Second {
				t.Errorf("stop -t 1 took %v (grace period 30 s not overridden?)", d)
			}
			c.expectCode(p.wait(), 143)

			p = c.start(started, runOpts{})
			p.waitOutput("started", 10*time.Second)
			pause := c.findPause(p, 5*time.Second)
			syscall.Kill(pause.pid, syscall.SIGKILL)
			r = p.wait()
			c.expectCode(r, 137)
			c.expectStderr(r, "sandbox: error: pod sandbox died: pause (pid "+strconv.Itoa(pause.pid)+") was killed by signal 9 (killed); every container was killed with it")

			p = c.start(started, runOpts{})
			p.waitOutput("started", 10*time.Second)
			c.findPause(p, 5*time.Second)
			p.signal(syscall.SIGKILL)
			c.expectCode(p.wait(), 137)
			if left := c.waitNoPodProcs(c.pod, 2*time.Second); len(left) > 0 {
				t.Errorf("kill -9 of sandbox left processes of the pod:\n%s", describeProcs(left))
			}
			// Its stale state is the Go code's to clean, on the next run
			// of that name.
			r = c.run(c.write(c.newPod(sh("main", "echo ok"))), runOpts{})
			c.expectCode(r, 0)
			c.expectStdout(r, "ok\n")
		})
	}
}

// Root gets no user namespace by default (a rootful runtime): the Go
// supervisor runs even a pod of the fast path's shape, and a flag
// (--explain here) sends any caller's pod to Go.
func TestRunManifestFastPathLeavesRootAndFlagsToGo(t *testing.T) {
	for _, name := range []string{"root", "rootless-subuid"} {
		onlyMode(t, name, "fastgo", func(t *testing.T, c *tcase) {
			manifest := c.write(c.newPod(sh("main", "echo started; exec sleep 30")))
			var flags []string
			if name != "root" {
				flags = []string{"--explain"}
			}
			p := c.start(manifest, runOpts{flags: flags})
			p.waitOutput("started", 10*time.Second)
			threads := procStatusField(p.pid(), "Threads")
			p.signal(syscall.SIGTERM)
			c.expectCode(p.wait(), 143)
			if threads == "1" {
				t.Errorf("%s %v: one thread: the fast path ran, want the Go supervisor", name, flags)
			}
		})
	}
}
