package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Everyday commands on detached pods: run -d, ps, exec, logs, stop, rm,
// inspect, gc, completion; lifecycle hooks; the fault cases (supervisor
// killed, recycled PID, concurrent commands). Each case removes its pod
// (rm) before the leak check.

// sandboxCmd is `sandbox args...` as the mode's uid with the case's
// environment, like start, with stdin from in (nil: /dev/null).
func (c *tcase) sandboxCmd(in io.Reader, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(sandboxBin, args...)
	cmd.Env = append([]string{"PATH=" + hostPath, "HOME=/nonexistent", "XDG_RUNTIME_DIR=" + c.xdg}, env...)
	cmd.Dir = c.dir
	cmd.Stdin = in
	cmd.SysProcAttr = c.asMode()
	return cmd
}

// launch starts cmd as a proc (outputs captured unless already set).
func (c *tcase) launch(cmd *exec.Cmd, timeout time.Duration) *proc {
	c.t.Helper()
	p := &proc{c: c, cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{}), timeout: timeout}
	if cmd.Stdout == nil {
		cmd.Stdout = p.stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.stderr
	}
	if p.timeout == 0 {
		p.timeout = defaultRunTimeout
	}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start %v: %v", cmd.Args, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	c.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			c.t.Errorf("sandbox %v (pid %d) still running at the end of the test: killing it", cmd.Args[1:], cmd.Process.Pid)
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// sb runs `sandbox args...` to the end.
func (c *tcase) sb(args ...string) result {
	c.t.Helper()
	return c.launch(c.sandboxCmd(nil, nil, args...), 0).wait()
}

// runDetached runs `sandbox run -d manifest` (with env), expects the pod's
// name, and makes sure the pod is removed before the leak check.
func (c *tcase) runDetached(manifest string, env ...string) {
	c.t.Helper()
	c.t.Cleanup(func() {
		if _, err := os.Stat(c.stateDir()); err == nil {
			c.sb("rm", "-f", "-t", "0", c.pod)
		}
	})
	r := c.launch(c.sandboxCmd(nil, env, "run", "-d", manifest), 0).wait()
	c.expectCode(r, 0)
	if strings.TrimSpace(r.stdout) != c.pod {
		c.t.Fatalf("run -d printed %q, want the pod name %q\n%s", r.stdout, c.pod, r)
	}
}

// stateDir is where the pod's state lives for this mode.
func (c *tcase) stateDir() string {
	if c.m.isRoot() {
		return filepath.Join("/run/sandbox", c.pod)
	}
	return filepath.Join(c.xdg, "sandbox", c.pod)
}

// withLifecycle writes p with lifecycle hooks set on containers by name.
func (c *tcase) withLifecycle(p *podManifest, hooks map[string]map[string]any) string {
	c.t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		c.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatal(err)
	}
	for _, ctr := range m["spec"].(map[string]any)["containers"].([]any) {
		cm := ctr.(map[string]any)
		if h, ok := hooks[cm["name"].(string)]; ok {
			cm["lifecycle"] = h
		}
	}
	data, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	return c.writeFile(fmt.Sprintf("pod-%d.json", c.n), data)
}

func execHook(script string) map[string]any {
	return map[string]any{"exec": map[string]any{"command": []string{"/bin/sh", "-c", script}}}
}

// psJSON returns `sandbox ps -o json`.
func (c *tcase) psJSON() []map[string]any {
	c.t.Helper()
	r := c.sb("ps", "-o", "json")
	c.expectCode(r, 0)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		c.t.Fatalf("ps -o json: %v\n%s", err, r)
	}
	return rows
}

func (c *tcase) podRow() map[string]any {
	c.t.Helper()
	for _, row := range c.psJSON() {
		if row["name"] == c.pod {
			return row
		}
	}
	return nil
}

// inspectPod returns `sandbox inspect POD`'s object.
func (c *tcase) inspectPod() map[string]any {
	c.t.Helper()
	r := c.sb("inspect", c.pod)
	c.expectCode(r, 0)
	var out []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 {
		c.t.Fatalf("inspect: %v\n%s", err, r)
	}
	return out[0]
}

func (c *tcase) expectGone() {
	c.t.Helper()
	if _, err := os.Stat(c.stateDir()); err == nil {
		c.t.Errorf("state dir %s still exists", c.stateDir())
	}
}

// L-1: the everyday verbs on one detached pod, hooks included.
func TestDetachedPodLifecycle(t *testing.T) {
	forModes(t, "l1", func(t *testing.T, c *tcase) {
		main := sh("main", `trap 'cat /tmp/prestop; echo got-term; exit 0' TERM; echo main-marker > /tmp/main; `+
			`echo out-line; sleep 0.2; echo err-line >&2; while :; do sleep 0.1; done`)
		main.Env = []envVar{{"FOO", "bar"}}
		main.WorkingDir = "/tmp"
		// side ignores SIGTERM: only the grace period ends it.
		side := sh("side", `echo side-marker > /tmp/side; trap '' TERM; while :; do sleep 0.1; done`)
		p := c.newPod(main, side)
		p.Spec.TerminationGracePeriodSeconds = ptr(int64(30))
		manifest := c.withLifecycle(p, map[string]map[string]any{"main": {
			"postStart": execHook(`echo post-ran > /tmp/poststart`),
			"preStop":   execHook(`echo prestop-ran > /tmp/prestop`),
		}})
		start := time.Now()
		c.runDetached(manifest)
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("run -d took %v", d)
		}
		// run -d returns once the containers started; wait for their
		// first output.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if strings.Contains(c.sb("logs", c.pod).stderr, "err-line") && c.sb("exec", "-c", "side", c.pod, "cat", "/tmp/side").code == 0 {
				break
			}
		}

		r := c.sb("rm", c.pod)
		c.expectCode(r, 125)
		c.expectStderr(r, "is running")

		r = c.sb("ps")
		c.expectCode(r, 0)
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(c.pod) + `\s+Running\s+2/2\s+0\s`).MatchString(r.stdout) {
			t.Errorf("ps does not show the pod running 2/2 with 0 restarts\n%s", r)
		}
		row := c.podRow()
		if row == nil || row["status"] != "Running" || row["ready"] != 2.0 || row["total"] != 2.0 {
			t.Errorf("ps -o json: %v", row)
		}
		r = c.sb("ps", c.pod)
		c.expectCode(r, 0)
		c.expectStdout(r, "CONTAINER", "main", "side", "Running")

		// exec: the container's mount namespace (its own /tmp), env,
		// working directory, PID namespace (the pause is PID 1).
		r = c.sb("exec", c.pod, "--", "/bin/sh", "-c", `cat /tmp/poststart /tmp/main; echo "FOO=$FOO"; pwd; cat /proc/1/comm; test -e /tmp/side || echo no-side`)
		c.expectCode(r, 0)
		c.expectStdout(r, "post-ran\nmain-marker\nFOO=bar\n/tmp\npause\nno-side\n")
		r = c.sb("exec", "-c", "side", c.pod, "cat", "/tmp/side")
		c.expectCode(r, 0)
		c.expectStdout(r, "side-marker")
		c.expectCode(c.sb("exec", c.pod, "--", "/bin/sh", "-c", "exit 7"), 7)
		r = c.sb("exec", c.pod, "--", "no-such-command")
		c.expectCode(r, 127)
		c.expectCode(c.sb("exec", "-c", "nope", c.pod, "--", "true"), 125)
		r = c.launch(c.sandboxCmd(strings.NewReader("piped-in\n"), nil, "exec", "-i", c.pod, "--", "cat"), 0).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, "piped-in")

		// logs: streams kept apart, --tail, --timestamps.
		r = c.sb("logs", c.pod)
		c.expectCode(r, 0)
		if r.stdout != "out-line\n" || r.stderr != "err-line\n" {
			t.Errorf("logs: want stdout out-line and stderr err-line\n%s", r)
		}
		r = c.sb("logs", "--tail", "1", "-c", "main", c.pod)
		if r.stdout != "" || r.stderr != "err-line\n" {
			t.Errorf("logs --tail 1: want only the last line\n%s", r)
		}
		r = c.sb("logs", "--timestamps", c.pod)
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z out-line\n$`).MatchString(r.stdout) {
			t.Errorf("logs --timestamps\n%s", r)
		}

		// inspect: PIDs, namespaces of the pause and of each container.
		in := c.inspectPod()
		if in["supervisorAlive"] != true || in["pauseAlive"] != true {
			t.Errorf("inspect: supervisor or pause not alive: %v %v", in["supervisorAlive"], in["pauseAlive"])
		}
		pauseNS, _ := in["namespaces"].(map[string]any)
		ctrs, _ := in["containers"].([]any)
		if pauseNS == nil || len(ctrs) != 2 {
			t.Fatalf("inspect: no namespaces or containers: %v", in)
		}
		for _, x := range ctrs {
			ctr := x.(map[string]any)
			ns, _ := ctr["namespaces"].(map[string]any)
			if ns["net"] == nil || ns["net"] != pauseNS["net"] || ns["mnt"] == pauseNS["mnt"] {
				t.Errorf("inspect: container %v namespaces %v, pause %v", ctr["name"], ns, pauseNS)
			}
			if ctr["alive"] != true || len(ctr["mounts"].([]any)) == 0 {
				t.Errorf("inspect: container %v: alive %v, mounts %v", ctr["name"], ctr["alive"], ctr["mounts"])
			}
		}

		// stop -t 1: preStop before SIGTERM, side killed after 1 s, not 30.
		start = time.Now()
		r = c.sb("stop", "-t", "1", c.pod)
		c.expectCode(r, 0)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("stop -t 1 took %v (grace period 30 s not overridden?)", d)
		}
		r = c.sb("logs", c.pod)
		c.expectStdout(r, "out-line\nprestop-ran\ngot-term\n")
		r = c.sb("ps", c.pod)
		c.expectStdout(r, "Terminated", "137") // side: killed after the grace period
		row = c.podRow()
		if row == nil || row["status"] != "Failed" || row["reason"] != "Stopped" {
			t.Errorf("ps after stop: %v", row)
		}
		r = c.sb("exec", c.pod, "true")
		c.expectCode(r, 125)
		c.expectStderr(r, "not running")

		r = c.sb("rm", c.pod)
		c.expectCode(r, 0)
		c.expectGone()
		r = c.sb("ps")
		c.expectNoStdout(r, c.pod)
	})
}

// L-2: exec -t through a real pseudo-terminal driven by the test: the
// terminal is the container's own, its size follows the caller's, and
// Ctrl-C reaches the command inside.
func TestExecTTY(t *testing.T) {
	forModes(t, "l2", func(t *testing.T, c *tcase) {
		c.runDetached(c.write(c.newPod(sleeper("main"))))
		p, master, term := c.onPty(t, 40, 100, []string{"TERM=dumb"}, "exec", "-it", c.pod, "--", "/bin/sh")

		send := func(s string) {
			if _, err := master.Write([]byte(s)); err != nil {
				t.Fatalf("write to the terminal: %v", err)
			}
		}
		send("echo ready-$((6*7))\r")
		term.expect(t, "ready-42", 15*time.Second)
		send("stty size; tty\r")
		term.expect(t, "40 100", 5*time.Second)
		term.expect(t, "/dev/pts/0", 5*time.Second) // the container's devpts
		setSize(t, master, 50, 120)                 // SIGWINCH to sandbox exec
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(term.String(), "50 120") && time.Now().Before(deadline) {
			send("stty size\r")
			time.Sleep(200 * time.Millisecond)
		}
		term.expect(t, "50 120", time.Second)
		send("sleep 100\r")
		time.Sleep(500 * time.Millisecond)
		send("\x03") // Ctrl-C: SIGINT to sleep, inside
		send("echo sleep-status-$?\r")
		term.expect(t, "sleep-status-130", 5*time.Second)
		send("exit 3\r")
		r := p.wait()
		c.expectCode(r, 3)
	})
}

// onPty runs sandbox with args on a new pseudo-terminal of rows x cols
// (its controlling terminal and stdio), as the mode's user; term shows
// what the terminal does, master is closed at the test's end.
func (c *tcase) onPty(t *testing.T, rows, cols uint16, env []string, args ...string) (p *proc, master *os.File, term *ptyReader) {
	t.Helper()
	master, slave := openPty(t)
	t.Cleanup(func() { master.Close() })
	setSize(t, master, rows, cols)
	if c.m.drop {
		if err := os.Chown(slave.Name(), int(c.m.uid), -1); err != nil {
			t.Fatal(err)
		}
	}
	cmd := c.sandboxCmd(nil, env, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	p = c.launch(cmd, 40*time.Second)
	slave.Close()
	term = &ptyReader{f: master}
	go term.loop()
	return p, master, term
}

// openPty opens a pseudo-terminal pair with /dev/ptmx.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func setSize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}

// ptyReader collects what the terminal shows.
type ptyReader struct {
	f   *os.File
	mu  sync.Mutex
	buf strings.Builder
}

func (r *ptyReader) loop() {
	b := make([]byte, 4096)
	for {
		n, err := r.f.Read(b)
		r.mu.Lock()
		r.buf.Write(b[:n])
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (r *ptyReader) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func (r *ptyReader) expect(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(r.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal did not show %q within %v; it shows:\n%q", s, d, r.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// L-3: logs -f shows output while the container runs and ends when it is
// over for good.
func TestLogsFollow(t *testing.T) {
	forModes(t, "l3", func(t *testing.T, c *tcase) {
		c.runDetached(c.write(c.newPod(sh("main", `echo first; sleep 1; for i in 1 2 3 4 5; do echo line-$i; sleep 0.2; done`))))
		p := c.launch(c.sandboxCmd(nil, nil, "logs", "-f", c.pod), 30*time.Second)
		p.waitOutput("first", 5*time.Second)
		if strings.Contains(p.stdout.String(), "line-5") {
			t.Errorf("logs -f printed the last line with the first: not live")
		}
		r := p.wait()
		c.expectCode(r, 0)
		c.expectStdout(r, "first\nline-1\nline-2\nline-3\nline-4\nline-5\n")
		// Still readable after the pod ended.
		r = c.sb("logs", c.pod)
		c.expectStdout(r, "line-5")
		c.expectCode(c.sb("rm", c.pod), 0)
	})
}

// L-4: a crash-looping container restarts with back-off, visible in ps.
func TestRestartBackoffVisibleInPs(t *testing.T) {
	forModes(t, "l4", func(t *testing.T, c *tcase) {
		p := c.newPod(sh("main", "echo crash; exit 3"), sleeper("side"))
		p.Spec.RestartPolicy = "Always"
		c.runDetached(c.write(p), "SANDBOX_TEST_BACKOFF=100ms")
		deadline := time.Now().Add(15 * time.Second)
		var row map[string]any
		for time.Now().Before(deadline) {
			row = c.podRow()
			if row != nil && row["restarts"].(float64) >= 3 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if row == nil || row["restarts"].(float64) < 3 || row["status"] != "Running" {
			t.Fatalf("ps: want Running with 3+ restarts: %v", row)
		}
		r := c.sb("ps", c.pod)
		if !regexp.MustCompile(`(?m)^main\s+(Waiting\s+3\s+CrashLoopBackOff|Terminated\s+3\s+Error|Running\s)`).MatchString(r.stdout) {
			t.Errorf("ps POD: main is not shown crash-looping\n%s", r)
		}
		// The back-off doubles: 100, 200, 400 (max 400) ms: well under
		// 20 restarts in 3 s, where no back-off would give hundreds.
		time.Sleep(3 * time.Second)
		if n := c.podRow()["restarts"].(float64); n > 20 {
			t.Errorf("%v restarts in ~4 s: no back-off", n)
		}
		r = c.sb("logs", c.pod)
		if strings.Count(r.stdout, "crash\n") < 3 {
			t.Errorf("logs keep every run's output across restarts\n%s", r)
		}
		c.expectCode(c.sb("rm", "-f", c.pod), 0)
		c.expectGone()
	})
}

// L-5: kill -9 of a detached pod's supervisor: no pod process survives
// 2 s, ps shows Failed (SupervisorDied), sandbox does not hang on the dead
// pod, gc removes it.
func TestDetachedSupervisorKilled(t *testing.T) {
	forModes(t, "l5", func(t *testing.T, c *tcase) {
		c.runDetached(c.write(c.newPod(sh("main", "echo alive; exec sleep 1000"))))
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if strings.Contains(c.sb("logs", c.pod).stdout, "alive") {
				break
			}
		}
		in := c.inspectPod()
		sup := in["supervisor"].(map[string]any)
		pid := int(sup["pid"].(float64))
		pi, ok := readProc(pid)
		if !ok || pi.exe != sandboxBin || pi.start != strconv.FormatUint(uint64(sup["startTime"].(float64)), 10) {
			t.Fatalf("recorded supervisor pid %d is not our sandbox process: %+v", pid, pi)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if left := c.waitNoPodProcs(c.pod, 2*time.Second); len(left) > 0 {
			t.Errorf("2 s after kill -9 of the supervisor, pod processes are left:\n%s", describeProcs(left))
		}
		row := c.podRow()
		if row == nil || row["status"] != "Failed" || row["reason"] != "SupervisorDied" {
			t.Errorf("ps: %v", row)
		}
		r := c.sb("ps")
		c.expectStdout(r, "Failed (SupervisorDied)")
		r = c.sb("exec", c.pod, "true")
		c.expectCode(r, 125)
		r = c.launch(c.sandboxCmd(nil, nil, "logs", "-f", c.pod), 10*time.Second).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, "alive")
		if r.elapsed > time.Second {
			t.Errorf("logs -f of a dead pod took %v", r.elapsed)
		}
		c.expectCode(c.sb("stop", c.pod), 0)
		r = c.sb("gc")
		c.expectCode(r, 0)
		c.expectStdout(r, c.pod, "removed")
		c.expectGone()
		checkNoCgroupLeft(t, c.pod) // gc removes the cgroups the record lists
	})
}

// L-6: stale state whose recorded PIDs were recycled by an unrelated
// process (same PID, other start time): it is shown as dead, and stop, rm
// and gc never signal the process.
func TestRecycledPIDNeverSignalled(t *testing.T) {
	forModes(t, "l6", func(t *testing.T, c *tcase) {
		// The unrelated process runs as the mode's uid, so a signal from
		// sandbox would be permitted.
		victim := exec.Command("/bin/sleep", "60")
		victim.SysProcAttr = c.asMode()
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { victim.Process.Kill(); victim.Wait() }()
		vp, _ := readProc(victim.Process.Pid)
		start, _ := strconv.ParseUint(vp.start, 10, 64)
		wrong := map[string]any{"pid": victim.Process.Pid, "startTime": start + 12345}
		rec := map[string]any{
			"name": c.pod, "created": time.Now().UTC(), "supervisor": wrong, "pause": wrong, "phase": "Running",
			"containers": []any{map[string]any{"name": "main", "state": "Running", "process": wrong, "log": "/nonexistent"}},
		}
		dir := c.stateDir()
		if c.m.isRoot() {
			os.MkdirAll(filepath.Dir(dir), 0o711)
		} else {
			os.MkdirAll(filepath.Dir(dir), 0o700)
			c.chown(filepath.Dir(dir))
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(rec)
		if err := os.WriteFile(filepath.Join(dir, "state.json"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		c.chown(dir)
		c.chown(filepath.Join(dir, "state.json"))

		r := c.sb("ps")
		c.expectStdout(r, "SupervisorDied")
		c.expectCode(c.sb("stop", c.pod), 0)
		c.expectCode(c.sb("exec", c.pod, "true"), 125)
		r = c.sb("gc")
		c.expectCode(r, 0)
		c.expectStdout(r, c.pod, "0 leftover processes killed")
		c.expectGone()
		time.Sleep(100 * time.Millisecond)
		if p, ok := readProc(victim.Process.Pid); !ok || p.state == "Z" {
			t.Errorf("the unrelated process with the recycled PID %d was signalled", victim.Process.Pid)
		}
	})
}

// L-7: two commands on the same pod at once are serialised by the pod's
// command lock: rm waits for a stop in progress, then removes the stopped
// pod; neither fails or hangs.
func TestConcurrentCommandsSerialised(t *testing.T) {
	forModes(t, "l7", func(t *testing.T, c *tcase) {
		p := c.newPod(sh("main", `trap '' TERM; echo trapped; while :; do sleep 0.1; done`))
		p.Spec.TerminationGracePeriodSeconds = ptr(int64(2))
		c.runDetached(c.write(p))
		// SIGTERM must not arrive before the shell ignores it.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.sb("logs", c.pod).stdout, "trapped"); {
			if time.Now().After(deadline) {
				t.Fatal("the container never printed that it ignores SIGTERM")
			}
			time.Sleep(20 * time.Millisecond)
		}
		stop := c.launch(c.sandboxCmd(nil, nil, "stop", c.pod), 30*time.Second)
		time.Sleep(300 * time.Millisecond) // stop holds the lock for ~2 s
		start := time.Now()
		rm := c.launch(c.sandboxCmd(nil, nil, "rm", c.pod), 30*time.Second).wait()
		c.expectCode(rm, 0)
		c.expectStderr(rm, "waiting for another sandbox command")
		if d := time.Since(start); d < time.Second {
			t.Errorf("rm finished after %v, while stop should have held the pod for ~2 s", d)
		}
		c.expectCode(stop.wait(), 0)
		c.expectGone()
	})
}

// L-8: run -d of a pod that cannot start fails with 125 and the reason;
// the ended pod is kept for ps and logs until rm.
func TestRunDetachedStartFailure(t *testing.T) {
	forModes(t, "l8", func(t *testing.T, c *tcase) {
		c.t.Cleanup(func() {
			if _, err := os.Stat(c.stateDir()); err == nil {
				c.sb("rm", "-f", c.pod)
			}
		})
		r := c.sb("run", "-d", c.write(c.newPod(container{Name: "main", Command: []string{"/no/such/program"}})))
		c.expectCode(r, 125)
		c.expectStderr(r, "/no/such/program")
		c.expectNoStdout(r, c.pod)
		r = c.sb("ps", c.pod)
		c.expectStdout(r, "StartError")
		c.expectCode(c.sb("rm", c.pod), 0)
		c.expectGone()
	})
}

// L-9: shell completion of pod and container names.
func TestCompletion(t *testing.T) {
	onlyMode(t, "rootless-subuid", "l9", func(t *testing.T, c *tcase) {
		c.runDetached(c.write(c.newPod(sleeper("main"), sleeper("helper"))))
		r := c.sb("__complete", "exec", "e2e-l9")
		c.expectStdout(r, c.pod)
		r = c.sb("__complete", "logs", c.pod, "-c", "h")
		c.expectStdout(r, "helper")
		c.expectNoStdout(r, "main")
		r = c.sb("completion", "bash")
		c.expectCode(r, 0)
		c.expectStdout(r, "__start_sandbox")
		c.expectCode(c.sb("rm", "-f", "-t", "0", c.pod), 0)
	})
}
