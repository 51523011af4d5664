package e2e

import (
	"strings"
	"testing"
	"time"
)

// A simple container's init runs in C (nsenter/cinit.c: no Go runtime in
// the container), a container that needs the Go init (here a Memory
// emptyDir, a bind of a descriptor) falls back to it; --explain says which
// ran. Both start and see the same filesystem, masks and credentials.
func TestContainerInitCOrGo(t *testing.T) {
	forModes(t, "cinit", func(t *testing.T, c *tcase) {
		root := c.busyboxRootfs("cinit")
		check := `grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t ' ' '; ls /dev | tr '\n' ' '; echo
stat -c '%n %t:%T' /proc/keys; touch /proc/sys/kernel/x 2>/dev/null || echo procsys-ro; hostname; pwd`
		simple := sh("simple", check)
		simple.WorkingDir = "/tmp"
		mem := sh("mem", check+"; grep ' /mem ' /proc/mounts | cut -d' ' -f3")
		mem.WorkingDir = "/tmp"
		p := c.newKPod(simple, mem).image("dir:"+root).set("volumes", []obj{
			{"name": "mem", "emptyDir": obj{"medium": "Memory", "sizeLimit": "1Mi"}},
		}).mounts(1, mnt("mem", "/mem"))
		r := c.run(c.writeK(p), runOpts{flags: []string{"--explain"}})
		c.expectCode(r, 0)
		for _, prefix := range []string{"simple | ", "mem    | "} { // names padded to the longest
			c.expectStdout(r, prefix+"NoNewPrivs: 1", prefix+"Seccomp: 2",
				prefix+"fd full null ptmx pts random shm stderr stdin stdout tty urandom zero",
				prefix+"/proc/keys 1:3", prefix+"procsys-ro", prefix+c.pod, prefix+"/tmp")
		}
		c.expectStdout(r, "mem    | tmpfs")
		c.expectStderr(r, "] container simple: container init in C (nsenter/cinit.c)",
			`] container simple: execve("/bin/sh", `,
			"] container mem: container init in Go (package containerinit)",
			`] container mem: execve("/bin/sh", `)
		if strings.Contains(r.stderr, "container simple: container init in Go") || strings.Contains(r.stderr, "container mem: container init in C") {
			t.Errorf("--explain: the wrong init ran\n%s", r)
		}

		// sandbox run -- CMD: the host root, read-only, privileged.
		r = c.startArgs([]string{"run", "--explain", "--", "sh", "-c", "touch /usr/x 2>/dev/null || echo usr-ro"}, runOpts{}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, "usr-ro")
		c.expectStderr(r, "container init in C (nsenter/cinit.c)")

		// Start failures keep their codes and messages.
		for _, tc := range startFailures {
			r = c.startArgs(append([]string{"run", "--"}, tc.cmd...), runOpts{}).wait()
			c.expectCode(r, tc.code)
			c.expectStderr(r, tc.want)
		}
	})
}

// startFailures are commands that cannot start, with their exit codes and
// messages: the same from the C and the Go code, for a container and an
// exec.
var startFailures = []struct {
	cmd  []string
	code int
	want string
}{
	{[]string{"no-such-program"}, 127, `exec "no-such-program": executable file not found in $PATH`},
	{[]string{"/no/such/program"}, 127, `exec "/no/such/program": no such file or directory`},
	{[]string{"/etc"}, 126, `exec "/etc": is a directory`},
	{[]string{"/etc/passwd"}, 126, `exec "/etc/passwd": permission denied`},
}

// `sandbox exec` without a terminal runs the command from C (the exec
// role's child, nsenter/cinit.c: no Go runtime in the container), with the
// container process's identity, seccomp, environment and working dir, and
// the same start failures; with -t it goes through Go (package execin),
// which allocates the terminal. --explain says which ran: the C line is
// written by the C child itself.
func TestExecCOrGo(t *testing.T) {
	forModes(t, "cexec", func(t *testing.T, c *tcase) {
		main := sleeper("main")
		main.WorkingDir = "/tmp"
		c.runDetached(c.write(c.newPod(main)))
		r := c.sb("exec", "--explain", c.pod, "--", "sh", "-c",
			`grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t ' ' '; pwd; ls /proc/self/fd | tr '\n' ' '; echo; [ "$(cat /proc/self/stat | cut -d' ' -f6)" = $$ ] && echo own-session`)
		c.expectCode(r, 0)
		c.expectStdout(r, "NoNewPrivs: 1", "Seccomp: 2", "/tmp", "0 1 2 3 \n", "own-session")
		c.expectStderr(r, "] exec in C (nsenter/cinit.c): no Go runtime starts in the container",
			`] execve("`, `sh", ["sh" "-c" `)
		if strings.Contains(r.stderr, "exec in Go") {
			t.Errorf("--explain: the Go exec ran\n%s", r)
		}
		// Without --explain, nothing but the command's output.
		r = c.sb("exec", c.pod, "--", "echo", "quiet")
		c.expectCode(r, 0)
		if r.stderr != "" {
			t.Errorf("exec without --explain wrote to stderr\n%s", r)
		}
		for _, tc := range startFailures {
			r = c.sb(append([]string{"exec", "--explain", c.pod, "--"}, tc.cmd...)...)
			c.expectCode(r, tc.code)
			c.expectStderr(r, tc.want, "exec in C (nsenter/cinit.c)")
		}

		// -t: the Go exec, which allocates the terminal.
		p, _, term := c.onPty(t, 24, 80, nil, "exec", "-t", "--explain", c.pod, "--", "/bin/sh", "-c", "tty; echo tty-done")
		term.expect(t, "exec in Go (package execin)", 15*time.Second)
		term.expect(t, "/dev/pts/0", 15*time.Second)
		term.expect(t, "tty-done", 15*time.Second)
		c.expectCode(p.wait(), 0)
		if strings.Contains(term.String(), "exec in C") {
			t.Errorf("exec -t: the C exec ran\n%s", term.String())
		}
	})
}
