package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// F-14 / S-16: fds the caller leaks into sandbox never reach a container
// (only 0, 1 and 2 are open), and the container's environment is exactly
// PATH, HOSTNAME, HOME and what the manifest sets.
func TestNoFdOrEnvironmentLeak(t *testing.T) {
	forModes(t, "f14", func(t *testing.T, c *tcase) {
		dirFd, err := os.Open("/")
		if err != nil {
			t.Fatal(err)
		}
		defer dirFd.Close()
		rw, err := os.OpenFile(filepath.Join(c.dir, "leaked-file"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer rw.Close()

		// ls lists the fds of the shell that runs it (not its own fd on
		// the directory). No pipeline: the shell would hold the pipe's
		// fds for a moment while ls reads, and a redirection of a simple
		// command saves a descriptor in the shell (dash: fd 10).
		fds := sh("fds", `(ls /proc/$$/fd) > /tmp/fds; tr '\n' ' ' < /tmp/fds`)
		env := container{Name: "env", Command: []string{"/usr/bin/env"}, Env: []envVar{{"FOO", "bar"}}}
		r := c.run(c.write(c.newPod(fds, env)), runOpts{
			extraFiles: []*os.File{dirFd, rw},
			env:        []string{"SUDO_USER=e2e", "SUDO_UID=1", "SSH_AUTH_SOCK=/nonexistent", "E2E_LEAK_CANARY=1"},
		})
		c.expectCode(r, 0)
		if got := linesOf(r.stdout, "fds"); !slices.Equal(got, []string{"0 1 2 "}) {
			t.Errorf("open fds in a container: %q, want only 0 1 2\n%s", got, r)
		}
		var keys []string
		vals := map[string]string{}
		for _, kv := range linesOf(r.stdout, "env") {
			k, v, _ := strings.Cut(kv, "=")
			keys = append(keys, k)
			vals[k] = v
		}
		slices.Sort(keys)
		if want := []string{"FOO", "HOME", "HOSTNAME", "PATH"}; !slices.Equal(keys, want) {
			t.Errorf("container environment has %v, want exactly %v\n%s", keys, want, r)
		}
		if vals["HOSTNAME"] != c.pod || vals["FOO"] != "bar" || vals["PATH"] == "" {
			t.Errorf("container environment: HOSTNAME=%q FOO=%q PATH=%q\n%s", vals["HOSTNAME"], vals["FOO"], vals["PATH"], r)
		}
	})
}

// S-3: a container sees only the pod's processes: /proc lists the pause and
// the container's own, and a host pid (the test process) is not addressable.
func TestHostProcessesInvisible(t *testing.T) {
	forModes(t, "s3", func(t *testing.T, c *tcase) {
		hostPid := os.Getpid()
		script := fmt.Sprintf(`for p in /proc/[0-9]*; do echo "proc ${p#/proc/} $(cat $p/comm 2>/dev/null)"; done
if [ -e /proc/%[1]d ]; then echo "host-pid-exists-in-pod"; elif kill -0 %[1]d 2>/dev/null; then echo "host-pid-alive"; else echo "host-pid-esrch"; fi
echo "pid1=$(cat /proc/1/comm)"`, hostPid)
		r := c.run(c.write(c.newPod(sh("main", script))), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "pid1=pause")
		c.expectNoStdout(r, "host-pid-alive")
		if strings.Contains(r.stdout, "host-pid-exists-in-pod") {
			t.Logf("pid %d happens to exist in the pod: kill -0 not checked", hostPid)
		}
		var procs []string
		for line := range strings.SplitSeq(r.stdout, "\n") {
			if rest, ok := strings.CutPrefix(line, "proc "); ok {
				procs = append(procs, rest)
				f := strings.Fields(rest)
				// The pause, the shell, and what it runs to list them.
				if len(f) == 2 && !slices.Contains([]string{"pause", "sh", "cat"}, f[1]) {
					t.Errorf("a container sees a process that is not the pod's: %q", rest)
				}
			}
		}
		if len(procs) == 0 || len(procs) > 6 {
			t.Errorf("a container sees %d processes, want the few of the pod: %q\n%s", len(procs), procs, r)
		}
	})
}

// The host root image is read-only; /tmp is a private writable tmpfs.
func TestHostRootIsReadOnly(t *testing.T) {
	forModes(t, "rofs", func(t *testing.T, c *tcase) {
		etcFile := "/etc/sandbox-" + c.pod
		tmpFile := "/tmp/sandbox-" + c.pod
		// If the product is broken, root mode would write the host's /etc:
		// remove what this case created.
		t.Cleanup(func() {
			if _, err := os.Lstat(etcFile); err == nil {
				os.Remove(etcFile)
			}
			if _, err := os.Lstat(tmpFile); err == nil {
				os.Remove(tmpFile)
			}
		})
		script := fmt.Sprintf(`touch %[1]s 2>&1 || echo etc-not-writable
if touch %[2]s; then echo tmp-writable; fi
if [ -e %[3]s ]; then echo host-tmp-visible; else echo host-tmp-hidden; fi`, etcFile, tmpFile, baseDir)
		r := c.run(c.write(c.newPod(sh("main", script))), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "Read-only file system", "etc-not-writable", "tmp-writable", "host-tmp-hidden")
		if _, err := os.Lstat(etcFile); err == nil {
			t.Errorf("the container created %s on the host", etcFile)
		}
		if _, err := os.Lstat(tmpFile); err == nil {
			t.Errorf("the container's /tmp is the host's: %s exists on the host", tmpFile)
		}
	})
}

// The pod's user namespace maps container root to the caller, plus the
// subordinate range when there is one; it is never silently root. As root,
// without hostUsers: false there is no user namespace.
func TestUIDMap(t *testing.T) {
	forModes(t, "uidmap", func(t *testing.T, c *tcase) {
		r := c.run(c.write(c.newPod(sh("main", `cat /proc/self/uid_map; echo ---; cat /proc/self/gid_map`))), runOpts{})
		c.expectCode(r, 0)
		uidText, gidText, ok := strings.Cut(r.stdout, "---")
		if !ok {
			t.Fatalf("no id maps in the output\n%s", r)
		}
		uids, err := parseIDMap(uidText)
		if err != nil {
			t.Fatalf("uid_map: %v\n%s", err, r)
		}
		gids, err := parseIDMap(gidText)
		if err != nil {
			t.Fatalf("gid_map: %v\n%s", err, r)
		}
		m := c.m
		var wantU, wantG [][3]uint64
		switch m.name {
		case "root":
			wantU = [][3]uint64{{0, 0, 4294967295}}
			wantG = wantU
		case "rootless-subuid":
			wantU = [][3]uint64{{0, uint64(m.uid), 1}, {1, uint64(m.subUID), 65535}}
			wantG = [][3]uint64{{0, uint64(m.gid), 1}, {1, uint64(m.subGID), 65535}}
		case "rootless-nosubuid":
			wantU = [][3]uint64{{0, uint64(m.uid), 1}}
			wantG = [][3]uint64{{0, uint64(m.gid), 1}}
		}
		if !slices.Equal(uids, wantU) {
			t.Errorf("uid_map %v, want %v\n%s", uids, wantU, r)
		}
		if !slices.Equal(gids, wantG) {
			t.Errorf("gid_map %v, want %v\n%s", gids, wantG, r)
		}
		if !m.isRoot() {
			// Never silently root: container root must be the test uid.
			if uids[0][0] != 0 || uids[0][1] != uint64(m.uid) || m.uid == 0 {
				t.Errorf("rootless mode: container root is host uid %d, want %d", uids[0][1], m.uid)
			}
		}
		n := strings.Count(r.stderr, "/etc/subuid")
		switch m.name {
		case "rootless-nosubuid":
			if n != 1 || strings.Count(r.stderr, "sandbox: warn") != 1 {
				t.Errorf("want exactly one warning naming /etc/subuid\n%s", r)
			}
		default:
			if n != 0 {
				t.Errorf("unexpected warning naming /etc/subuid\n%s", r)
			}
		}
	})
}

// As root, spec.hostUsers: false gives the pod a user namespace on root's
// subordinate range.
func TestHostUsersFalseAsRoot(t *testing.T) {
	onlyMode(t, "root", "hostusers", func(t *testing.T, c *tcase) {
		if c.m.subUID == 0 {
			requireOrSkip(t, "root has no range in /etc/subuid: run hack/setup-test-host.sh")
		}
		p := c.newPod(sh("main", `cat /proc/self/uid_map; echo "uid=$(id -u)"`))
		p.Spec.HostUsers = ptr(false)
		r := c.run(c.write(p), runOpts{})
		if r.code != 0 {
			t.Fatalf("exit code %d, want 0\n%s", r.code, r)
		}
		c.expectStdout(r, "uid=0")
		text, _, _ := strings.Cut(r.stdout, "uid=")
		rows, err := parseIDMap(text)
		if err != nil {
			t.Fatalf("uid_map: %v\n%s", err, r)
		}
		for _, row := range rows {
			if row[1] == 0 || row[1] < uint64(c.m.subUID) || row[1]+row[2] > uint64(c.m.subUID)+65536 {
				t.Errorf("uid_map row %v is outside root's subordinate range %d+65536\n%s", row, c.m.subUID, r)
			}
		}
		if rows[0][0] != 0 || rows[0][1] != uint64(c.m.subUID) {
			t.Errorf("container root maps to host uid %d, want root's subordinate start %d\n%s", rows[0][1], c.m.subUID, r)
		}
	})
}

// A command run with `sandbox exec` gets the container's seccomp filter,
// capabilities and no_new_privs, not the namespace root's full powers.
func TestExecGetsTheContainersSeccompAndCapabilities(t *testing.T) {
	forModes(t, "s-exec", func(t *testing.T, c *tcase) {
		c.runDetached(c.write(c.newPod(sh("main", "while :; do sleep 0.1; done"))))
		defer c.sb("rm", "-f", c.pod)
		container := c.sb("exec", c.pod, "--", "sh", "-c", "grep -E '^(Seccomp|NoNewPrivs|CapBnd):' /proc/self/status")
		c.expectCode(container, 0)
		c.expectStdout(container, "Seccomp:\t2", "NoNewPrivs:\t1", "CapBnd:\t00000000800405fb")
		// S-17 through exec too: unshare -U is refused by the filter.
		r := c.sb("exec", c.pod, "--", "unshare", "-U", "true")
		if r.code == 0 {
			t.Errorf("unshare -U succeeded through exec: the seccomp filter was not applied\n%s", r)
		}
	})
}
