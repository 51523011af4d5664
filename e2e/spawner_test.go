package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
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
		c.expectStderr(r, ") by the first container's join, which then joins it; the join itself is a clone of the CLI's fork server")
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

// The pause the first join spawns executes the pause image
// (nsenter/pauseimage.c), a one-page program in a sealed memfd, not the
// sandbox binary; with SANDBOX_FASTPATH=0 it takes its fallback, the binary
// kept mapped (what a kernel refusing executable memfds gets), and so does
// a pause the supervisor starts itself (a bridge pod's). Either is what a pause
// must be: non-dumpable (a container, root of the pod without
// CAP_SYS_PTRACE, can read neither its environment nor its executable),
// without capabilities (bounding set included, under no_new_privs: the exec
// as the pod's root gave none back), tiny, ignoring signals other than
// SIGTERM and SIGINT and exiting 0 on SIGTERM. Its memory belongs to the
// pod's user namespace: its owner may still inspect it.
func TestSpawnedPauseExecutesTheImage(t *testing.T) {
	forModes(t, "pimg", func(t *testing.T, c *tcase) {
		for _, tc := range []struct {
			network   string
			env       []string
			exe       string // "" for the sandbox binary
			privateKB int
		}{
			{"none", nil, "/memfd:pause (deleted)", 8},
			{"none", []string{"SANDBOX_FASTPATH=0"}, "", 256}, // the binary stays mapped
			// A pause the supervisor starts (in the network holder) is told too.
			{"bridge", []string{"SANDBOX_FASTPATH=0"}, "", 256},
		} {
			p := c.start(c.write(c.newPod(sh("main", `
cat /proc/1/environ >/dev/null 2>&1 && echo environ=read || echo environ=refused
readlink /proc/1/exe >/dev/null 2>&1 && echo exe=read || echo exe=refused
echo up; exec sleep 1000`))), runOpts{env: tc.env, flags: []string{"--network", tc.network}})
			p.waitOutput("up", 20*time.Second)
			pause := c.findPause(p, 5*time.Second)
			want := tc.exe
			if want == "" {
				want = sandboxBin
			}
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pause.pid)); err != nil || exe != want {
				t.Errorf("%q: the pause executes %q (%v), want %q", tc.env, exe, err, want)
			}
			for field, want := range map[string]string{"CapBnd": "0000000000000000", "CapPrm": "0000000000000000", "NoNewPrivs": "1"} {
				if got := procStatusField(pause.pid, field); got != want {
					t.Errorf("%q: the pause's %s is %q, want %q", tc.env, field, got, want)
				}
			}
			if private := smapsRollupKB(pause.pid, "Private_Dirty") + smapsRollupKB(pause.pid, "Private_Clean"); private < 0 || private > tc.privateKB {
				t.Errorf("%q: the pause's private memory is %d kB, want at most %d", tc.env, private, tc.privateKB)
			}
			owner := exec.Command("cat", fmt.Sprintf("/proc/%d/smaps_rollup", pause.pid))
			owner.SysProcAttr = c.asMode()
			if out, err := owner.CombinedOutput(); err != nil || !strings.Contains(string(out), "Rss:") {
				t.Errorf("%q: the pod's owner cannot read the pause's smaps_rollup: %v\n%s", tc.env, err, out)
			}
			for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGCHLD, syscall.SIGPIPE} {
				if err := syscall.Kill(pause.pid, sig); err != nil {
					t.Fatalf("signal the pause: %v", err)
				}
			}
			time.Sleep(100 * time.Millisecond)
			if pi, ok := readProc(pause.pid); !ok || pi.start != pause.start || pi.state == "Z" {
				t.Fatalf("%q: the pause did not survive SIGHUP, SIGUSR1, SIGCHLD and SIGPIPE", tc.env)
			}
			if err := syscall.Kill(pause.pid, syscall.SIGTERM); err != nil {
				t.Fatalf("SIGTERM the pause: %v", err)
			}
			r := p.wait()
			c.expectCode(r, 137)
			c.expectStdout(r, "environ=refused", "exe=refused")
			c.expectStderr(r, fmt.Sprintf("pause (pid %d) exited with status 0", pause.pid))
		}
	})
}

// A later container joins the pod while the spawned pause may still be
// setting itself up before it executes the pause image: the pause must stay
// dumpable until that exec (a non-dumpable process whose memory belongs to
// the host's user namespace refuses a rootless setns through its pidfd,
// EPERM). One start in about twenty hit that window here; sixty starts per
// mode make a regression show.
func TestLaterJoinsWhileThePauseStarts(t *testing.T) {
	forModes(t, "joinrace", func(t *testing.T, c *tcase) {
		manifest := c.write(c.newPod(sh("a", "true"), sh("b", "true")))
		for i := range 60 {
			r := c.run(manifest, runOpts{})
			if r.code != 0 {
				t.Fatalf("start %d of a two-container pod: exit %d\n%s", i+1, r.code, r)
			}
		}
	})
}
