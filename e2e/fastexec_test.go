package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `sandbox exec` has two paths (nsenter/fastexec.c): the common case runs
// from the CLI's C constructor and never starts the Go runtime; everything
// else, and every case with SANDBOX_FASTPATH=0, is the Go code's. These
// tests run each exec both ways and want the same result, and check which
// path ran by the number of threads of the sandbox process while the
// command runs: the Go runtime has started several by then, the C path
// has one.

var noFastPath = []string{"SANDBOX_FASTPATH=0"}

// execWith runs `sandbox exec args...` with env added and stdin.
func (c *tcase) execWith(env []string, stdin string, args ...string) result {
	c.t.Helper()
	var in io.Reader
	if stdin != "" {
		in = strings.NewReader(stdin)
	}
	return c.launch(c.sandboxCmd(in, env, append([]string{"exec"}, args...)...), 0).wait()
}

// execBoth runs `sandbox exec args...` through the fast path and through
// the Go code and wants the same exit code, stdout and stderr; it returns
// the fast path's result.
func (c *tcase) execBoth(stdin string, args ...string) result {
	c.t.Helper()
	fast := c.execWith(nil, stdin, args...)
	slow := c.execWith(noFastPath, stdin, args...)
	if fast.code != slow.code || fast.signaled != slow.signaled || fast.stdout != slow.stdout || fast.stderr != slow.stderr {
		c.t.Errorf("exec %q: the fast path and SANDBOX_FASTPATH=0 differ\n--- fast: %s\n--- Go: %s", args, fast, slow)
	}
	return fast
}

// execThreads starts `sandbox exec args... -- sh -c 'echo ready; exec
// sleep 100'`, reads the Threads line of the sandbox process once the
// command runs, sends it sig (forwarded to the command) and returns the
// thread count and the result.
func (c *tcase) execThreads(env []string, sig syscall.Signal, args ...string) (int, result) {
	c.t.Helper()
	args = append(append([]string{"exec"}, args...), "--", "/bin/sh", "-c", "echo ready; exec sleep 100")
	p := c.launch(c.sandboxCmd(nil, env, args...), 0)
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(p.stdout.String(), "ready"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) || p.exited() {
			p.cmd.Process.Kill()
			c.t.Fatalf("exec %q: the command did not start\n%s", args, p.wait())
		}
	}
	threads := -1
	if data, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid()) + "/status"); err == nil {
		if m := regexp.MustCompile(`(?m)^Threads:\s+(\d+)$`).FindSubmatch(data); m != nil {
			threads, _ = strconv.Atoi(string(m[1]))
		}
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		c.t.Errorf("signal sandbox exec: %v", err)
	}
	return threads, p.wait()
}

// expectFast wants the exec to have run without the Go runtime (one
// thread) or with it (more), and sig to have reached the command.
func (c *tcase) expectPath(env []string, fast bool, args ...string) {
	c.t.Helper()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGUSR1} {
		threads, r := c.execThreads(env, sig, args...)
		if fast && threads != 1 || !fast && threads < 2 {
			c.t.Errorf("exec %q with %q: %d threads while the command ran, want the %s", args, env, threads,
				map[bool]string{true: "fast path's one (no Go runtime)", false: "Go runtime's (more than one)"}[fast])
		}
		if r.signaled || r.code != 128+int(sig) {
			c.t.Errorf("exec %q with %q: %v was not forwarded to the command: want exit %d\n%s", args, env, sig, 128+int(sig), r)
		}
	}
}

// TestExecFastPath: the fast path is taken for the common case and gives
// what the Go code gives: identity, capabilities, no_new_privs, seccomp,
// working directory, environment, cgroup, descriptors, stdin, exit codes,
// start failures and their messages, forwarded signals; what it does not
// cover falls back to the Go code.
func TestExecFastPath(t *testing.T) {
	forModes(t, "fx", func(t *testing.T, c *tcase) {
		main := sh("main", "exec sleep 1000")
		main.WorkingDir = "/tmp"
		main.Env = []envVar{{"FOO", "bar baz"}, {"EMPTY", ""}}
		p := c.newPod(main, sleeper("side"))
		// The default container is the first that is not an init
		// container.
		p.Spec.InitContainers = []container{{Name: "prep", Command: []string{"true"}}}
		// A postStart hook is exec'd by the supervisor: in the
		// container's cgroup too.
		c.runDetached(c.withLifecycle(p, map[string]map[string]any{"main": {
			"postStart": execHook("cat /proc/self/cgroup > /tmp/hook-cgroup"),
		}}))

		// Which path ran, and signals forwarded by both.
		c.expectPath(nil, true, c.pod)
		c.expectPath(nil, true, "-c", "side", c.pod)
		c.expectPath(nil, true, "--container=side", "-i", c.pod)
		c.expectPath(noFastPath, false, c.pod)
		c.expectPath(nil, false, "--explain", c.pod) // the Go code's

		r := c.execBoth("", c.pod, "--", "id")
		c.expectCode(r, 0)
		r = c.execBoth("", c.pod, "--", "grep", "-E", "^(Cap|NoNewPrivs|Seccomp)", "/proc/self/status")
		c.expectStdout(r, "Seccomp:\t2", "NoNewPrivs:\t1", "CapBnd:\t00000000800405fb")
		// The seccomp filter itself: unshare -U is refused by it.
		r = c.execBoth("", c.pod, "--", "unshare", "-U", "true")
		if r.code == 0 {
			t.Errorf("unshare -U succeeded through exec: no seccomp filter\n%s", r)
		}
		r = c.execBoth("", c.pod, "--", "pwd")
		c.expectStdout(r, "/tmp\n")
		r = c.execBoth("", "-c", "side", c.pod, "pwd")
		c.expectStdout(r, "/\n")
		r = c.execBoth("", c.pod, "--", "env")
		c.expectStdout(r, "FOO=bar baz\n", "EMPTY=\n")
		// The command is in its container's cgroup, as the container's
		// own process is (the pod's cgroup when it has one, root here).
		r = c.execBoth("", c.pod, "--", "cat", "/proc/self/cgroup")
		want := c.containerCgroup("main")
		if r.stdout != want {
			t.Errorf("exec: /proc/self/cgroup\n%s\nwant the container's\n%s", r.stdout, want)
		}
		if r = c.execBoth("", c.pod, "--", "cat", "/tmp/hook-cgroup"); r.stdout != want {
			t.Errorf("postStart hook: /proc/self/cgroup\n%s\nwant the container's\n%s", r.stdout, want)
		}
		// Only 0-2 reach the command (ls's own directory is 3); stdin is
		// /dev/null without -i.
		r = c.execBoth("", c.pod, "--", "sh", "-c", "ls /proc/self/fd; readlink /proc/self/fd/0")
		c.expectStdout(r, "0\n1\n2\n3\n/dev/null\n")
		r = c.execBoth("not-for-you\n", c.pod, "--", "cat")
		if r.stdout != "" {
			t.Errorf("exec without -i passed stdin\n%s", r)
		}
		r = c.execBoth("piped-in\n", "-i", c.pod, "--", "cat")
		c.expectStdout(r, "piped-in\n")
		r = c.execBoth("piped-in\n", "--stdin", "--container", "side", c.pod, "cat")
		c.expectStdout(r, "piped-in\n")
		// A "--" after the one that ends the flags is the command's.
		r = c.execBoth("", c.pod, "--", "--")
		c.expectCode(r, 127)

		// Exit codes and start failures.
		c.expectCode(c.execBoth("", c.pod, "--", "sh", "-c", "exit 3"), 3)
		c.expectCode(c.execBoth("", c.pod, "--", "/etc"), 126)
		c.expectCode(c.execBoth("", c.pod, "--", "/etc/passwd"), 126)
		r = c.execBoth("", c.pod, "--", "no-such-command")
		c.expectCode(r, 127)
		c.expectStderr(r, `sandbox: error: exec "no-such-command": executable file not found in $PATH`)
		c.expectCode(c.execBoth("", c.pod, "--", "sh", "-c", "kill -KILL $$"), 128+9)
		// The Go code's: unknown container, usage, flags it alone has.
		c.expectCode(c.execBoth("", "-c", "nope", c.pod, "--", "true"), 125)
		c.expectCode(c.execBoth("", "-c", "prep", c.pod, "--", "true"), 125)
		c.expectCode(c.execBoth("", c.pod, "--"), 125)
		c.expectCode(c.execBoth("", "no-such-pod-"+runID, "--", "true"), 125)
		c.expectCode(c.execBoth("", "--bogus", c.pod, "--", "true"), 125)

		// A fast exec file that is not exactly as written is the Go
		// code's: truncated, of another version, empty, another's.
		fx := filepath.Join(c.stateDir(), "fastexec")
		orig, err := os.ReadFile(fx)
		if err != nil {
			t.Fatal(err)
		}
		otherVersion := append([]byte(nil), orig...)
		otherVersion[4]++
		for _, bad := range [][]byte{orig[:len(orig)-1], otherVersion, nil} {
			if err := os.WriteFile(fx, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			c.expectPath(nil, false, c.pod)
			c.execBoth("", c.pod, "--", "id")
		}
		if err := os.WriteFile(fx, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		c.expectPath(nil, true, c.pod)
		// Nor one that is not the caller's own.
		if err := os.Lchown(fx, 54321, 54321); err != nil {
			t.Fatal(err)
		}
		c.expectPath(nil, false, c.pod)
		if err := os.Lchown(fx, int(c.m.uid), int(c.m.gid)); err != nil {
			t.Fatal(err)
		}
		c.expectPath(nil, true, c.pod)

		r = c.sb("stop", "-t", "0", c.pod)
		c.expectCode(r, 0)
		r = c.execBoth("", c.pod, "true")
		c.expectCode(r, 125)
		c.expectStderr(r, "not running")
	})
}

// TestExecFastPathIdentityNow: the identity an exec'd command gets is the
// container process's at the time of the exec, not at its start. A process
// whose uid changed is joined as that uid by the fast path; rootless, that
// uid is a subordinate one, whose /proc/PID/environ only it may open: both
// paths read it from inside the pod's user namespace. One whose bounding
// set changed (so the seccomp program the supervisor recorded is not the
// one to load) falls back to the Go code, with the same result.
func TestExecFastPathIdentityNow(t *testing.T) {
	forModes(t, "fxid", func(t *testing.T, c *tcase) {
		bnd := container{Name: "bnd", Command: []string{"/usr/bin/setpriv", "--inh-caps=-kill", "--bounding-set=-kill", "/bin/sleep", "1000"}}
		ctrs := []container{bnd}
		mapped := c.m.name != "rootless-nosubuid" // uid 1000 exists in the pod
		if mapped {
			ctrs = append(ctrs, container{Name: "setuid", Command: []string{"/usr/bin/setpriv", "--reuid=1000", "--regid=1000", "--clear-groups", "/bin/sleep", "1000"}})
		}
		c.runDetached(c.write(c.newPod(ctrs...)))

		// The containers exec setpriv, then sleep: wait for the change.
		waitFor := func(container, want string, cmd ...string) {
			t.Helper()
			args := append([]string{"-c", container, c.pod, "--"}, cmd...)
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				r := c.execWith(noFastPath, "", args...)
				if strings.Contains(r.stdout+r.stderr, want) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("container %s: no %q\n%s", container, want, r)
				}
			}
		}
		waitFor("bnd", "CapBnd:\t00000000800405db", "grep", "CapBnd", "/proc/self/status")
		r := c.execBoth("", "-c", "bnd", c.pod, "--", "grep", "-E", "^(Cap|NoNewPrivs|Seccomp)", "/proc/self/status")
		c.expectStdout(r, "CapBnd:\t00000000800405db", "Seccomp:\t2")
		c.expectPath(nil, false, "-c", "bnd", c.pod)
		if !mapped {
			return
		}
		waitFor("setuid", "1000\n", "id", "-u")
		r = c.execBoth("", "-c", "setuid", c.pod, "--", "sh", "-c", "id -u; id -g; id -G; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; echo \"HOSTNAME=$HOSTNAME\"")
		c.expectCode(r, 0)
		c.expectStdout(r, "1000\n1000\n1000\n", "CapEff:\t0000000000000000", "HOSTNAME="+c.pod)
		c.expectPath(nil, true, "-c", "setuid", c.pod)
	})
}

// containerCgroup is /proc/PID/cgroup of container name's process, read
// on the host (PID from sandbox inspect).
func (c *tcase) containerCgroup(name string) string {
	c.t.Helper()
	ctrs, _ := c.inspectPod()["containers"].([]any)
	for _, x := range ctrs {
		ctr, _ := x.(map[string]any)
		proc, _ := ctr["process"].(map[string]any)
		if ctr["name"] != name || proc == nil {
			continue
		}
		pid, _ := proc["pid"].(float64)
		data, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/cgroup")
		if err != nil {
			c.t.Fatalf("container %s: %v", name, err)
		}
		return string(data)
	}
	c.t.Fatalf("inspect: no running container %s", name)
	return ""
}

// A container whose process runs as a subordinate uid (runAsUser 1000; as
// root, an ordinary uid) gets its postStart hook and `sandbox exec` run with
// its environment: rootless, only that uid may open its /proc/PID/environ,
// and both are read from inside the pod's user namespace (execin's environ
// role, the fast path's helper).
func TestHookAndExecInAContainerOfAnotherUID(t *testing.T) {
	forModes(t, "otheruid", func(t *testing.T, c *tcase) {
		if c.m.name == "rootless-nosubuid" {
			return // uid 1000 is not mapped in this mode's pods: nothing to test
		}
		manifest := fmt.Sprintf(`{"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": %q, "annotations": {"sandbox.podsandbox.dev/network": "none"}},
  "spec": {"restartPolicy": "Never", "containers": [{"name": "main",
    "command": ["/bin/sh", "-c", "echo up; exec sleep 1000"],
    "env": [{"name": "FOO", "value": "bar"}],
    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000},
    "lifecycle": {"postStart": {"exec": {"command": ["/bin/sh", "-c", "echo \"post $(id -u) $FOO\" > /tmp/post"]}}}}]}}`, c.pod)
		c.runDetached(c.writeFile("pod.json", []byte(manifest)))
		r := c.execBoth("", c.pod, "--", "sh", "-c", `id -u; echo "FOO=$FOO"; cat /tmp/post`)
		c.expectCode(r, 0)
		c.expectStdout(r, "1000\nFOO=bar\npost 1000 bar\n")
		c.expectPath(nil, true, c.pod)
	})
}
