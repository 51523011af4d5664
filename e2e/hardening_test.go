package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podsandbox/sandbox/internal/testutil"
)

// defaultCapMask is Podman's 11: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
// SYS_CHROOT SETFCAP.
const defaultCapMask = "00000000800405fb"

// statusField returns the value of a /proc/PID/status line among lines.
func statusField(lines []string, key string) string {
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// S-5, S-6, S-7, S-17, S-2/S-5 umount, S-13 hostname: the default hardening of a container on the host root.
func TestDefaultHardening(t *testing.T) {
	forModes(t, "harden", func(t *testing.T, c *tcase) {
		script := `grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do [ -e $f ] && echo "mask $f $(stat -c '%F %t:%T' $f) $(wc -c < $f)"; done
for d in /proc/acpi /proc/scsi /sys/firmware; do [ -d $d ] && echo "maskdir $d $(ls -A $d | wc -l)"; done
(echo x > /proc/sys/kernel/hostname) 2>&1; echo "procsys=$?"
umount /proc/keys 2>&1; echo "umount=$?"
mount -o remount,rw /proc/sys 2>&1; echo "remount=$?"
unshare -U true 2>&1; echo "unshare=$?"
hostname evil 2>&1; echo "hostname=$?"`
		r := c.run(c.write(c.newPod(sh("main", script))), runOpts{})
		c.expectCode(r, 0)
		lines := strings.Split(r.stdout, "\n")
		for _, k := range []string{"CapPrm", "CapEff", "CapBnd", "CapInh"} {
			if got := statusField(lines, k); got != defaultCapMask {
				t.Errorf("%s = %s, want %s (Podman's default set)\n%s", k, got, defaultCapMask, r)
			}
		}
		if got := statusField(lines, "NoNewPrivs"); got != "1" {
			t.Errorf("NoNewPrivs = %q, want 1", got)
		}
		if got := statusField(lines, "Seccomp"); got != "2" {
			t.Errorf("Seccomp = %q, want 2 (filter)", got)
		}
		c.expectStdout(r, "mask /proc/keys character special file 1:3 0", "mask /proc/timer_list character special file 1:3 0",
			"maskdir /proc/acpi 0", "procsys=", "Read-only file system", "umount=", "remount=", "unshare=1", "hostname=")
		c.expectNoStdout(r, "procsys=0", "umount=0", "remount=0", "hostname=0", "regular file")
		c.expectStdout(r, "Operation not permitted")
		if h, _ := os.Hostname(); h == "evil" {
			t.Errorf("the container changed the host's hostname")
		}
	})
}

// The default seccomp profile holds for x86_64 processes that call the kernel as i386 (int 0x80): before the
// profile checked the compat architecture, unshare(CLONE_NEWUSER) there returned 0 (S-17 bypassed) and keyctl
// reached the keyring.
func TestSeccompCoversTheCompatArchitecture(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("int 0x80 is x86_64's compat entry; this is %s (the profile's compat table is unit-tested)", runtime.GOARCH)
	}
	src := `#include <stdio.h>
static long sys32(long nr, long a) { long r; __asm__ volatile ("int $0x80" : "=a"(r) : "a"(nr), "b"(a) : "memory"); return r; }
int main(void) {
	printf("getpid32=%s\n", sys32(20, 0) > 0 ? "ok" : "fail");
	printf("keyctl32=%ld\n", sys32(288, 0));
	printf("unshare32=%ld\n", sys32(310, 0x10000000));
	return 0;
}
`
	bin := filepath.Join(t.TempDir(), "sys32")
	cmd := exec.Command("gcc", "-O1", "-o", bin, "-x", "c", "-")
	cmd.Stdin = strings.NewReader(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		testutil.SkipOrFailUnlessCI(t, fmt.Sprintf("gcc (hack/setup-test-host.sh installs it): %v: %s", err, out))
	}
	if out, err := exec.Command(bin).Output(); err != nil || !strings.Contains(string(out), "getpid32=ok") {
		t.Skipf("the kernel has no i386 emulation (int 0x80: %v, %q): nothing to bypass", err, out)
	}
	code, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	forModes(t, "seccomp32", func(t *testing.T, c *tcase) {
		// /tmp is private in a container: the program comes in as a hostPath volume on /mnt (the host root is
		// read-only: the mount point must exist).
		dir := c.ownedDir("bin")
		if err := os.WriteFile(filepath.Join(dir, "sys32"), code, 0o755); err != nil {
			t.Fatal(err)
		}
		p := c.newKPod(sh("main", "/mnt/sys32")).set("volumes", []obj{{"name": "bin", "hostPath": obj{"path": dir, "type": "Directory"}}}).
			mounts(0, mnt("bin", "/mnt", "readOnly", true))
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "getpid32=ok", "keyctl32=-1\n", "unshare32=-1\n")
	})
}

// securityContext: capabilities add/drop, privileged (every capability of the pod's user namespace, no
// seccomp, no masks), seccompProfile Unconfined (a nested user namespace then works, S-17), and
// allowPrivilegeEscalation.
func TestSecurityContextOptions(t *testing.T) {
	forModes(t, "secctx", func(t *testing.T, c *tcase) {
		status := `grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; stat -c '%F' /proc/keys; unshare -U true 2>&1; echo "unshare=$?"`
		p := c.newKPod(sh("narrow", status), sh("priv", status), sh("unconfined", status), sh("escalate", status)).
			secctx(0, obj{"capabilities": obj{"drop": []string{"ALL"}, "add": []string{"NET_BIND_SERVICE"}}}).
			secctx(1, obj{"privileged": true}).
			secctx(2, obj{"seccompProfile": obj{"type": "Unconfined"}}).
			secctx(3, obj{"allowPrivilegeEscalation": true})
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 0)
		narrow, priv, unconf, esc := linesOf(r.stdout, "narrow"), linesOf(r.stdout, "priv"), linesOf(r.stdout, "unconfined"), linesOf(r.stdout, "escalate")
		check := func(name string, lines []string, key, want string) {
			t.Helper()
			if got := statusField(lines, key); got != want {
				t.Errorf("%s: %s = %q, want %q\n%s", name, key, got, want, r)
			}
		}
		check("narrow", narrow, "CapBnd", "0000000000000400")
		check("narrow", narrow, "CapEff", "0000000000000400")
		check("narrow", narrow, "Seccomp", "2")
		// Privileged: the bounding set of a fresh user namespace (all the kernel has), or as real root
		// without one, our own.
		wantBnd := fullCapMask(t)
		if c.m.isRoot() {
			wantBnd = ownCapBnd(t)
		}
		check("priv", priv, "CapBnd", wantBnd)
		check("priv", priv, "Seccomp", "0")
		check("priv", priv, "NoNewPrivs", "0")
		check("unconfined", unconf, "Seccomp", "0")
		check("unconfined", unconf, "NoNewPrivs", "1")
		check("unconfined", unconf, "CapBnd", defaultCapMask)
		check("escalate", esc, "NoNewPrivs", "0")
		check("escalate", esc, "Seccomp", "2")
		want := map[string][]string{
			"narrow":     {"character special file", "unshare=1"},
			"priv":       {"regular empty file", "unshare=0"},
			"unconfined": {"character special file", "unshare=0"},
			"escalate":   {"unshare=1"},
		}
		for name, subs := range want {
			got := strings.Join(linesOf(r.stdout, name), "\n")
			for _, s := range subs {
				if !strings.Contains(got, s) {
					t.Errorf("%s: output lacks %q\n%s", name, s, r)
				}
			}
		}
	})
}

func fullCapMask(t *testing.T) string {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%016x", uint64(1)<<(last+1)-1)
}

func ownCapBnd(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	return statusField(strings.Split(string(b), "\n"), "CapBnd")
}

// runAsUser/runAsGroup: the workload runs as that uid with no capabilities and HOME=/; a uid outside the
// pod's user namespace mapping is refused with exit 125 before anything starts, naming /etc/subuid (B-13,
// F-8); runAsNonRoot without a non-root user is refused.
func TestRunAsUser(t *testing.T) {
	forModes(t, "runas", func(t *testing.T, c *tcase) {
		// The files it leaves in an emptyDir belong to a subordinate uid; they must still go with the pod
		// (the leak check finds no state directory).
		p := c.newKPod(sh("main", `echo "ids=$(id -u):$(id -g) home=$HOME"; grep -E '^(CapEff|CapPrm):' /proc/self/status
mkdir -p /tmp/vol/a/b && echo x > /tmp/vol/a/b/f && chmod 700 /tmp/vol/a && echo vol-written`)).
			secctx(0, obj{"runAsUser": 1000, "runAsGroup": 1000}).
			set("volumes", []obj{{"name": "v", "emptyDir": obj{}}}).mounts(0, mnt("v", "/tmp/vol"))
		r := c.run(c.writeK(p), runOpts{})
		if c.m.name == "rootless-nosubuid" {
			c.expectCode(r, 125)
			c.expectStderr(r, "uid 1000 is not mapped in the pod's user namespace (mapped: 0-0)", "/etc/subuid")
			if strings.Contains(r.stdout, "ids=") {
				t.Errorf("the container ran")
			}
		} else {
			c.expectCode(r, 0)
			c.expectStdout(r, "ids=1000:1000 home=/", "vol-written")
			lines := strings.Split(r.stdout, "\n")
			if statusField(lines, "CapEff") != "0000000000000000" || statusField(lines, "CapPrm") != "0000000000000000" {
				t.Errorf("a non-root container user kept capabilities\n%s", r)
			}
		}
		if !c.m.isRoot() {
			p = c.newKPod(sh("main", "id")).secctx(0, obj{"runAsUser": 70000})
			r = c.run(c.writeK(p), runOpts{})
			c.expectCode(r, 125)
			c.expectStderr(r, "uid 70000 is not mapped in the pod's user namespace", "/etc/subuid")
		}
		p = c.newKPod(sh("main", "id")).set("securityContext", obj{"runAsNonRoot": true})
		r = c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 125)
		c.expectStderr(r, "runAsNonRoot: is true but the container would run as root")
	})
}

// S-9, CVE-2019-5736 shape: while containers of the pod start over and over (each start runs the sandbox
// binary inside the pod as its container init), a container tries to open every visible /proc/PID/exe for
// writing. Every attempt fails, whether the binary belongs to root or to the invoking user (who is root in
// the pod), and the binary is unchanged.
func TestProcExeNotWritable(t *testing.T) {
	forModes(t, "s9", func(t *testing.T, c *tcase) {
		for _, owned := range []bool{false, true} {
			bin := sandboxBin
			if owned {
				dir := c.ownedDir("ownbin")
				bin = filepath.Join(dir, "sandbox")
				if err := testutil.CopyFile(bin, sandboxBin, 0o755); err != nil {
					t.Fatal(err)
				}
				c.chown(bin)
			}
			before := fileHash(t, bin)
			attacker := sh("attacker", `end=$(( $(date +%s) + 3 )); n=0
while [ $(date +%s) -lt $end ]; do
  for e in /proc/[0-9]*/exe; do
    if (exec 3>>"$e") 2>/dev/null; then echo "OPENED $e $(cat ${e%/exe}/comm 2>/dev/null)"; fi
    n=$((n+1))
  done
done
echo "tries=$n starts=$(wc -l < /dev/shm/starts)"; touch /dev/shm/stop`)
			restarter := sh("restarter", `echo x >> /dev/shm/starts; [ -e /dev/shm/stop ] && exit 0; exit 1`)
			p := c.newKPod(attacker, restarter).set("restartPolicy", "OnFailure")
			r := c.runBinary(bin, c.writeK(p), []string{"SANDBOX_TEST_BACKOFF=20ms"})
			c.expectCode(r, 0)
			c.expectStdout(r, "tries=")
			c.expectNoStdout(r, "OPENED")
			var starts int
			for _, l := range linesOf(r.stdout, "attacker") {
				if _, s, ok := strings.Cut(l, "starts="); ok {
					starts, _ = strconv.Atoi(strings.TrimSpace(s))
				}
			}
			if starts < 5 {
				t.Errorf("only %d container starts happened during the attack\n%s", starts, r)
			}
			if after := fileHash(t, bin); after != before {
				t.Errorf("the sandbox binary %s changed", bin)
			}
		}
	})
}

// runBinary runs `bin run manifest` like c.run, with another sandbox binary.
func (c *tcase) runBinary(bin, manifest string, env []string) result {
	c.t.Helper()
	cmd := exec.Command(bin, "run", manifest)
	cmd.Env = append([]string{"PATH=" + hostPath, "HOME=/nonexistent", "XDG_RUNTIME_DIR=" + c.xdg}, env...)
	cmd.Dir = c.dir
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = c.asMode()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	res := result{}
	select {
	case <-done:
	case <-time.After(defaultRunTimeout):
		cmd.Process.Kill()
		<-done
		res.timedOut = true
	}
	res.elapsed = time.Since(start)
	res.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.signaled, res.code = true, 128+int(ws.Signal())
	}
	res.stdout, res.stderr = stdout.String(), stderr.String()
	return res
}

// The pause holds no descriptor of ours, only /dev/null on 0-2, and leads a
// session of its own, however it was created (by the supervisor, by the
// first container's join, by the nest role in the network holder).
func TestPauseHoldsOnlyDevNullAndOwnSession(t *testing.T) {
	forModes(t, "pausefds", func(t *testing.T, c *tcase) {
		for _, network := range []string{"none", "bridge"} {
			p := c.newPod(sleeper("main"))
			p.Metadata.Annotations = map[string]string{"sandbox.podsandbox.dev/network": network}
			run := c.start(c.write(p), runOpts{})
			c.waitPodProc(run, "sleep", startWait)
			pause := c.findPause(run, startWait)
			fdDir := fmt.Sprintf("/proc/%d/fd", pause.pid)
			entries, err := os.ReadDir(fdDir)
			if err != nil {
				t.Fatalf("network %s: %v", network, err)
			}
			var fds []string
			for _, e := range entries {
				target, _ := os.Readlink(filepath.Join(fdDir, e.Name()))
				fds = append(fds, e.Name()+"->"+target)
			}
			if want := []string{"0->/dev/null", "1->/dev/null", "2->/dev/null"}; !slices.Equal(fds, want) {
				t.Errorf("network %s: the pause's descriptors are %q, want %q", network, fds, want)
			}
			stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pause.pid))
			if err != nil {
				t.Fatal(err)
			}
			// Fields after the ")" of comm: state ppid pgrp session ...
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if f[3] != strconv.Itoa(pause.pid) {
				t.Errorf("network %s: the pause (pid %d) is in session %s, want its own", network, pause.pid, f[3])
			}
			syscall.Kill(run.pid(), syscall.SIGTERM)
			c.expectCode(run.wait(), 143)
		}
	})
}

// The pause needs no privilege and holds none, in the pod's user namespace
// or the host's: not when exec'd before its id maps (rootless), not as root
// of the pod's namespace (bridge: cloned in the network holder), not with
// hostUsers: false as root. A process of the pod that took it over would
// find nothing to use.
func TestPauseHoldsNoCapabilities(t *testing.T) {
	forModes(t, "pausecaps", func(t *testing.T, c *tcase) {
		for _, network := range []string{"none", "bridge"} {
			p := c.newPod(sh("main", `grep -E '^Cap(Inh|Prm|Eff|Amb):' /proc/1/status`))
			p.Metadata.Annotations = map[string]string{"sandbox.podsandbox.dev/network": network}
			r := c.run(c.write(p), runOpts{})
			c.expectCode(r, 0)
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n") // one container: no prefix
			for _, l := range lines {
				if f := strings.Fields(l); len(f) != 2 || strings.Trim(f[1], "0") != "" {
					t.Errorf("network %s: the pause (PID 1) holds capabilities: %q\n%s", network, l, r)
				}
			}
			if len(lines) != 4 {
				t.Errorf("network %s: %d capability lines of PID 1, want 4\n%s", network, len(lines), r)
			}
		}
	})
}
