package e2e

import (
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The CLI's fork server (nsenter/spawner.c) starts a pod's joins as clones
// instead of executions of the binary, and is gone once the pod's first
// containers run. The second container joins the network namespace the
// pause makes after its clone, never the host's. SANDBOX_FASTPATH=0 turns
// the fork server off: the joins are executed, as a program using the
// library does it.
func TestForkServerStartsTheFirstJoin(t *testing.T) {
	forModes(t, "fork", func(t *testing.T, c *tcase) {
		hostNet, err := os.Readlink("/proc/self/ns/net")
		if err != nil {
			t.Fatal(err)
		}
		p := c.start(c.write(c.newPod(sh("first", "readlink /proc/self/ns/net; echo up; exec sleep 1000"),
			sh("second", "readlink /proc/self/ns/net"))), runOpts{flags: []string{"--explain"}})
		p.waitOutput("up", 20*time.Second)
		p.waitOutput("second | net:", 20*time.Second)
		if left := childrenNamed(p.pid(), "sandbox-spawner"); len(left) > 0 {
			t.Errorf("the fork server outlived the pod's start:\n%s", describeProcs(left))
		}
		p.signal(syscall.SIGTERM)
		r := p.wait()
		c.expectCode(r, 143)
		c.expectStderr(r, "+ exec by the first container's join, which then joins it; the join itself is a clone of the CLI's fork server")
		first, second := linesOf(r.stdout, "first"), linesOf(r.stdout, "second")
		if len(first) == 0 || len(second) != 1 || first[0] != second[0] || first[0] == hostNet {
			t.Errorf("network namespaces: first %q, second %q, the host's %q: want one of the pod's", first, second, hostNet)
		}

		r = c.run(c.write(c.newPod(sh("first", "echo done"))), runOpts{flags: []string{"--explain"}, env: []string{"SANDBOX_FASTPATH=0"}})
		c.expectCode(r, 0)
		c.expectStdout(r, "done")
		c.expectStderr(r, "by the first container's join, which then joins it")
		c.expectIn(r, "stderr", r.stderr, false, []string{"fork server"})
	})
}

// A `sandbox run` ends and reaps its fork server itself, whether a pod ran
// or not: the test is a child subreaper meanwhile, so a fork server the CLI
// left behind becomes the test's child, alive or a zombie, instead of
// vanishing into init.
func TestForkServerNeverOutlivesTheCLI(t *testing.T) {
	onlyMode(t, "rootless-subuid", "forkend", func(t *testing.T, c *tcase) {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			t.Fatalf("become a child subreaper: %v", err)
		}
		defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
		good := c.write(c.newPod(sh("first", "true")))
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"run", good}, 0},
			{[]string{"run", "/no/such/pod.yaml"}, 125},
			{[]string{"run", "--help"}, 0},
		} {
			r := c.startArgs(tc.args, runOpts{}).wait()
			c.expectCode(r, tc.code)
			if left := childrenNamed(os.Getpid(), "sandbox-spawner"); len(left) > 0 {
				t.Errorf("sandbox %v left its fork server to be reaped by someone else:\n%s", tc.args, describeProcs(left))
				for _, pi := range left {
					unix.Kill(pi.pid, unix.SIGKILL)
					var ws unix.WaitStatus
					unix.Wait4(pi.pid, &ws, 0, nil)
				}
			}
		}
	})
}

// childrenNamed lists the children of parent whose comm is comm, zombies
// included.
func childrenNamed(parent int, comm string) []procInfo {
	var out []procInfo
	for _, pid := range allPids() {
		if pi, ok := readProc(pid); ok && pi.ppid == parent && pi.comm == comm {
			out = append(out, pi)
		}
	}
	return out
}
