package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An unnamed `sandbox run -- CMD` of a rootless caller is run by the CLI's
// constructor in C (nsenter/fastrun.c) without starting the Go runtime;
// SANDBOX_FASTPATH=0 sends it through the Go supervisor. Both must give
// the command the same sandbox, exit code and messages.

// fastProbe prints what a command sees of its sandbox: identity,
// capabilities, hostname and pod files, environment, working directory,
// maps, PID 1, network, and every mount point with its ro/rw flag.
const fastProbe = `id; grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status
hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf
env | grep -v -e '^PWD=' -e '^SANDBOX_FASTPATH=' | sort
pwd; stat -c '%n %A %U' /tmp /dev/shm /dev/null /etc/hosts
cat /proc/self/uid_map /proc/self/gid_map
tr '\0' ' ' </proc/1/cmdline; echo; cat /proc/1/comm
ls /sys/class/net
awk '{ split($6, o, ","); print $5, o[1] }' /proc/self/mountinfo | sort
touch made-inside && echo writable`

// adhocUnnamed runs `sandbox run [flags] -- argv...` without --name (the
// fast path's case), through the Go path too when goPath is set.
func (c *tcase) adhocUnnamed(flags, argv []string, o runOpts, goPath bool) result {
	c.t.Helper()
	args := append(append([]string{"run"}, flags...), "--")
	args = append(args, argv...)
	if goPath {
		o.env = append(slices.Clone(o.env), "SANDBOX_FASTPATH=0")
	}
	return c.startArgs(args, o).wait()
}

// noStateLeft checks that the fast path made no state directory at all.
func (c *tcase) noStateLeft() {
	c.t.Helper()
	for _, d := range []string{filepath.Join(c.xdg, "sandbox"), filepath.Join("/tmp", "sandbox-"+itoa(c.m.uid))} {
		entries, err := os.ReadDir(d)
		if err == nil && len(entries) > 0 {
			c.t.Errorf("state left in %s: %d entries", d, len(entries))
		}
	}
}

func TestRunCommandFastPathMatchesGoPath(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "fastsame", func(t *testing.T, c *tcase) {
			work := c.workDir()
			data := filepath.Join(c.dir, "data")
			if err := os.Mkdir(data, 0o755); err != nil {
				t.Fatal(err)
			}
			c.chown(data)
			// A command in /tmp, which is private inside: the fast path
			// binds its directory read-only, as the Go path does.
			tool, err := os.MkdirTemp("/tmp", "sandbox-e2e-tool-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(tool) })
			os.Chmod(tool, 0o755)
			script := filepath.Join(tool, "probe.sh")
			if err := os.WriteFile(script, []byte("#!/bin/sh\n"+fastProbe+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			host := "--hostname=" + c.pod // HOSTNAME=<pod>: the leak check finds the command
			cases := []struct {
				name  string
				flags []string
				argv  []string
				env   []string
				stdin string
			}{
				{"defaults", []string{host}, []string{"sh", "-c", fastProbe}, nil, ""},
				{"keep-id", []string{"--keep-id", host}, []string{"sh", "-c", fastProbe}, []string{"HOME=" + work}, ""},
				{"env", []string{host, "--env", "A=1", "--env=B=two words", "--env", "A=3", "--env", "PATH=/bin:/usr/bin", "--env", "EMPTY"},
					[]string{"sh", "-c", fastProbe}, nil, ""},
				{"env-host", []string{"--env-host", host, "--env", "X=y"}, []string{"sh", "-c", fastProbe},
					[]string{"CALLER_VAR=kept", "_SANDBOX_SECRET=dropped", "HOSTNAME=callers"}, ""},
				{"binds", []string{host, "--bind", data, "--ro-bind=" + data + ":" + work + "/ro"},
					[]string{"sh", "-c", fastProbe + "; touch " + data + "/w && echo data-writable; touch ro/x || echo ro-refused"}, nil, ""},
				{"command in /tmp", []string{host}, []string{script}, nil, ""},
				{"stdin", []string{host}, []string{"tr", "a-z", "A-Z"}, nil, "hello\n"},
				{"exit code", []string{host}, []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, nil, ""},
				{"signal", []string{host}, []string{"sh", "-c", "kill -TERM $$"}, nil, ""},
				{"not found", []string{host}, []string{"no-such-command"}, nil, ""},
				{"not executable", []string{host}, []string{"/etc/hostname"}, nil, ""},
				{"timeout", []string{host, "--timeout", "300ms", "--grace=1s"}, []string{"sleep", "30"}, nil, ""},
				{"timeout ignoring SIGTERM", []string{host, "--timeout=200ms", "--grace", "500ms"}, []string{"sh", "-c", "trap '' TERM; sleep 30"}, nil, ""},
			}
			// Above pod.MaxArgvEnvBytes (1 MiB) Go refuses the pod: so
			// must the fast path, in Go's words.
			big := []string{host}
			for i := 0; i < 10; i++ {
				big = append(big, "--env", fmt.Sprintf("BIG%d=%s", i, strings.Repeat("x", 120<<10)))
			}
			cases = append(cases, struct {
				name  string
				flags []string
				argv  []string
				env   []string
				stdin string
			}{"over MaxArgvEnvBytes", big, []string{"true"}, nil, ""})
			if err := os.Mkdir(filepath.Join(work, "ro"), 0o755); err != nil {
				t.Fatal(err)
			}
			c.chown(filepath.Join(work, "ro"))
			for _, tc := range cases {
				o := runOpts{dir: work, env: tc.env, stdin: tc.stdin}
				fast := c.adhocUnnamed(tc.flags, tc.argv, o, false)
				c.noStateLeft()
				slow := c.adhocUnnamed(tc.flags, tc.argv, o, true)
				if fast.code != slow.code || fast.stdout != slow.stdout || fast.stderr != slow.stderr {
					t.Errorf("%s: the fast path differs from the Go path\nfast: %s\ngo:   %s\ndiff of stdout:\n%s", tc.name, fast, slow, lineDiff(slow.stdout, fast.stdout))
				}
			}
			// A few absolute expectations, so that both paths cannot
			// agree on something wrong.
			r := c.adhocUnnamed([]string{host}, []string{"sh", "-c", "id -u; cat /proc/1/comm; hostname; ls /sys/class/net"}, runOpts{dir: work}, false)
			c.expectCode(r, 0)
			c.expectStdout(r, "0\npause\n"+c.pod+"\nlo\n")
			r = c.adhocUnnamed([]string{host, "--timeout", "300ms"}, []string{"sleep", "30"}, runOpts{dir: work}, false)
			c.expectCode(r, 124)
			c.expectStderr(r, "sandbox: error: sleep timed out after 300ms")
			r = c.adhocUnnamed([]string{host}, []string{"no-such-command"}, runOpts{dir: work}, false)
			c.expectCode(r, 127)
			c.expectStderr(r, `sandbox: error: container "main": exec "no-such-command": executable file not found in $PATH`)
		})
	}
}

// lineDiff lists the lines only in a or only in b.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// The fast path is really taken: the sandbox process never starts the Go
// runtime (one thread, where Go has several), makes no state directory,
// and its pause is the same 8 kB PID 1, the pause image. SANDBOX_FASTPATH=0
// turns the image off too: that pause keeps the sandbox binary mapped.
func TestRunCommandFastPathStartsNoGoRuntime(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "fastpath", func(t *testing.T, c *tcase) {
			work := c.workDir()
			for _, goPath := range []bool{false, true} {
				args := []string{"run", "--hostname", c.pod, "--", "sh", "-c", "echo started; exec sleep 30"}
				o := runOpts{dir: work}
				if goPath {
					o.env = []string{"SANDBOX_FASTPATH=0"}
				}
				p := c.startArgs(args, o)
				p.waitOutput("started", 10*time.Second)
				threads := procStatusField(p.pid(), "Threads")
				pause := c.findPause(p, 5*time.Second)
				private := smapsRollupKB(pause.pid, "Private_Dirty") + smapsRollupKB(pause.pid, "Private_Clean")
				stateDirs, _ := os.ReadDir(filepath.Join(c.xdg, "sandbox"))
				p.signal(15) // forwarded to the command
				r := p.wait()
				c.expectCode(r, 143)
				if !goPath {
					if threads != "1" {
						t.Errorf("fast path: the sandbox process has %s threads, want 1 (no Go runtime)", threads)
					}
					if len(stateDirs) != 0 {
						t.Errorf("fast path: %d state directories while it ran, want none", len(stateDirs))
					}
				} else if threads == "1" || len(stateDirs) == 0 {
					t.Errorf("SANDBOX_FASTPATH=0: %s threads, %d state directories: want the Go supervisor", threads, len(stateDirs))
				}
				if limit := map[bool]int{false: 8, true: 256}[goPath]; private < 0 || private > limit {
					t.Errorf("SANDBOX_FASTPATH=0 %v: pause private memory %d kB, want at most %d", goPath, private, limit)
				}
			}
			// kill -9 of the pause (F-2): the kernel kills the command
			// with it; both paths report the pod's death, exit 137.
			for _, goPath := range []bool{false, true} {
				o := runOpts{dir: work}
				if goPath {
					o.env = []string{"SANDBOX_FASTPATH=0"}
				}
				p := c.startArgs([]string{"run", "--hostname", c.pod, "--", "sh", "-c", "echo started; exec sleep 30"}, o)
				p.waitOutput("started", 10*time.Second)
				pause := c.findPause(p, 5*time.Second)
				syscall.Kill(pause.pid, syscall.SIGKILL)
				r := p.wait()
				c.expectCode(r, 137)
				c.expectStderr(r, "sandbox: error: pod sandbox died: pause (pid "+strconv.Itoa(pause.pid)+") was killed by signal 9 (killed); every container was killed with it")
			}
			// Descriptors the caller leaks (F-14) do not reach the
			// command: only 0, 1, 2 (and ls's own directory).
			leak, err := os.Open("/")
			if err != nil {
				t.Fatal(err)
			}
			defer leak.Close()
			for _, goPath := range []bool{false, true} {
				o := runOpts{dir: work, extraFiles: []*os.File{leak, leak}}
				if goPath {
					o.env = []string{"SANDBOX_FASTPATH=0"}
				}
				r := c.startArgs([]string{"run", "--hostname", c.pod, "--", "ls", "/proc/self/fd"}, o).wait()
				c.expectCode(r, 0)
				if got := strings.Fields(r.stdout); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
					t.Errorf("go path %v: descriptors inside %q, want 0 1 2 and ls's 3", goPath, got)
				}
			}
			// kill -9 of the CLI: the pause dies by its parent-death
			// signal and takes the command with it (the case's leak check
			// then finds no process of the pod).
			p := c.startArgs([]string{"run", "--hostname", c.pod, "--", "sh", "-c", "echo started; exec sleep 30"}, runOpts{dir: work})
			p.waitOutput("started", 10*time.Second)
			c.findPause(p, 5*time.Second)
			p.signal(9)
			c.expectCode(p.wait(), 137)
			if left := c.waitNoPodProcs(c.pod, 2*time.Second); len(left) > 0 {
				t.Errorf("kill -9 of sandbox left processes of the pod:\n%s", describeProcs(left))
			}
		})
	}
}

// In root mode there is no user namespace by default: the Go supervisor
// runs it, fast path or not.
func TestRunCommandFastPathLeavesRootToGo(t *testing.T) {
	onlyMode(t, "root", "fastroot", func(t *testing.T, c *tcase) {
		p := c.startArgs([]string{"run", "--hostname", c.pod, "--", "sh", "-c", "echo started; exec sleep 30"}, runOpts{dir: c.workDir()})
		p.waitOutput("started", 10*time.Second)
		threads := procStatusField(p.pid(), "Threads")
		p.signal(15)
		c.expectCode(p.wait(), 143)
		if threads == "1" {
			t.Errorf("root: one thread: the fast path ran, want the Go supervisor")
		}
	})
}

func procStatusField(pid int, field string) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func smapsRollupKB(pid int, field string) int {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return -1
}

// Only the sandbox CLI runs the C fast paths: another program linking
// package nsenter (a program using the library, a test binary using
// sandboxtest) keeps its own command line, even one that starts with "run"
// or "exec".
func TestFastPathsOnlyInTheCLI(t *testing.T) {
	onlyMode(t, "rootless-subuid", "fastcli", func(t *testing.T, c *tcase) {
		bin := filepath.Join(c.dir, "linksnsenter")
		build := exec.Command(goBinDir()+"/go", "build", "-buildvcs=false", "-o", bin, "./e2e/testdata/linksnsenter")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build the test program: %v\n%s", err, out)
		}
		for _, args := range [][]string{{"run", "--", "true"}, {"exec", c.pod, "--", "true"}} {
			cmd := exec.Command(bin, args...)
			cmd.Env = []string{"PATH=" + hostPath, "XDG_RUNTIME_DIR=" + c.xdg}
			cmd.SysProcAttr = c.asMode()
			out, err := cmd.CombinedOutput()
			if want := "own main: [" + strings.Join(args, " ") + "]\n"; err != nil || string(out) != want {
				t.Errorf("%v: %q (%v), want %q: the program's own main", args, out, err, want)
			}
		}
	})
}
