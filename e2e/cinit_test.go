package e2e

import (
	"strings"
	"testing"
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
		for _, tc := range []struct {
			cmd  []string
			code int
			want string
		}{
			{[]string{"no-such-program"}, 127, `exec "no-such-program": executable file not found in $PATH`},
			{[]string{"/no/such/program"}, 127, `exec "/no/such/program": no such file or directory`},
			{[]string{"/etc"}, 126, `exec "/etc": is a directory`},
		} {
			r = c.startArgs(append([]string{"run", "--"}, tc.cmd...), runOpts{}).wait()
			c.expectCode(r, tc.code)
			c.expectStderr(r, tc.want)
		}
	})
}
