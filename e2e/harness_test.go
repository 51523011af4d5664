package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podsandbox/sandbox/internal/testutil"
)

// Test users created by hack/setup-test-host.sh.
const (
	subUser   = "sandbox-e2e"       // has an /etc/subuid and /etc/subgid range
	nosubUser = "sandbox-e2e-nosub" // has none
)

const (
	defaultRunTimeout = 60 * time.Second // a hang, not a slow machine
	leakRetry         = 2 * time.Second  // the kernel reaps asynchronously
	hostPath          = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

var (
	// sandboxBin is the sandbox binary TestMain built, mode 0755 in a
	// world-traversable directory so that every test uid can run it.
	sandboxBin string
	// baseDir holds the binary and every case's files; world-traversable.
	baseDir string
	// runID keeps pod names unique when two test runs share the machine
	// (root's state dirs are machine-wide: /run/sandbox/<pod>).
	runID string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	runID = hex.EncodeToString(b)

	dir, err := os.MkdirTemp(worldTraversableTempDir(), "sandbox-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	baseDir = dir
	defer os.RemoveAll(dir)
	// MkdirTemp makes 0700; the test uids must reach the binary and their
	// manifests below it.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	sandboxBin = filepath.Join(dir, "bin", "sandbox")
	if prebuilt := os.Getenv("SANDBOX_E2E_BINARY"); prebuilt != "" {
		// For running the compiled tests where no Go toolchain is usable
		// (e.g. as an unprivileged user): copy, so the mode is right.
		if err := testutil.CopyFile(sandboxBin, prebuilt, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: SANDBOX_E2E_BINARY:", err)
			return 1
		}
	} else if err := buildSandbox(sandboxBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building cmd/sandbox:", err)
		return 1
	}
	if err := os.Chmod(sandboxBin, 0o755); err != nil { // umask
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// worldTraversableTempDir is os.TempDir when every directory from it up to /
// can be searched by other users, else /tmp.
func worldTraversableTempDir() string {
	d := os.TempDir()
	for p := d; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if p == "/" {
			return d
		}
	}
}

func buildSandbox(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
		if v := os.Getenv("GOROOT"); v != "" {
			goBin = filepath.Join(v, "bin", "go")
		}
	}
	// -buildvcs=false: under sudo the checkout belongs to another user and
	// git refuses to read it ("dubious ownership").
	cmd := exec.Command(goBin, "build", "-buildvcs=false", "-o", out, "./cmd/sandbox")
	cmd.Dir = ".." // the module root; go test runs in the package directory
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, buf.String())
	}
	return os.Chmod(out, 0o755)
}

// requireOrSkip skips t because the environment lacks something the test
// needs; when CI is set that is a failure, so a misconfigured runner cannot
// pass by skipping.
func requireOrSkip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this environment skip is a failure)", reason)
	}
	t.Skip(reason)
}

// ---------------------------------------------------------------------------
// Modes

// mode is one way of running sandbox: which uid, and what the pod's id map
// should then be.
type mode struct {
	name  string // subtest name
	short string // used in pod names
	uid   uint32
	gid   uint32
	// drop: the test runs as root and starts sandbox with this uid/gid.
	drop bool
	// subUID/subGID: the start of the user's subordinate ranges, 0 if none.
	subUID, subGID uint32
	// userName is the user whose /etc/subuid entry counts.
	userName string
}

func (m *mode) isRoot() bool { return m.uid == 0 }

var modeNames = []string{"rootless-subuid", "rootless-nosubuid", "root"}

// forModes runs fn as a subtest per mode, each with a fresh case whose pod
// name is e2e-<short>-<mode>-<run id>.
func forModes(t *testing.T, short string, fn func(t *testing.T, c *tcase)) {
	t.Helper()
	for _, name := range modeNames {
		t.Run(name, func(t *testing.T) {
			m := setupMode(t, name)
			fn(t, newCase(t, m, short))
		})
	}
}

// onlyMode runs fn only in the named mode (still as a subtest of that name).
func onlyMode(t *testing.T, name, short string, fn func(t *testing.T, c *tcase)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		m := setupMode(t, name)
		fn(t, newCase(t, m, short))
	})
}

var (
	usernsOnce sync.Mutex
	usernsErr  = map[uint32]error{}
)

// setupMode resolves the uid for a mode, or skips when the environment
// cannot run it.
func setupMode(t *testing.T, name string) *mode {
	t.Helper()
	me := uint32(os.Getuid())
	m := &mode{name: name}
	switch name {
	case "root":
		m.short = "root"
		if me != 0 {
			t.Skip("root mode needs the test to run as root (hack/test.sh does that with sudo)")
		}
		m.userName = "root"
		m.subUID, m.subGID = subRange(t, "/etc/subuid", "root", 0), subRange(t, "/etc/subgid", "root", 0)
		return m
	case "rootless-subuid", "rootless-nosubuid":
	default:
		t.Fatalf("unknown mode %q", name)
	}

	if name == "rootless-subuid" {
		m.short = "sub"
	} else {
		m.short = "nosub"
	}
	if me == 0 {
		want := subUser
		if name == "rootless-nosubuid" {
			want = nosubUser
		}
		u, err := user.Lookup(want)
		if err != nil {
			requireOrSkip(t, fmt.Sprintf("test user %s: %v: run hack/setup-test-host.sh as root", want, err))
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		m.uid, m.gid, m.drop, m.userName = uint32(uid), uint32(gid), true, want
	} else {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		m.uid, m.gid, m.userName = me, uint32(os.Getgid()), u.Username
	}
	m.subUID = subRange(t, "/etc/subuid", m.userName, m.uid)
	m.subGID = subRange(t, "/etc/subgid", m.userName, m.uid)
	hasRange := m.subUID != 0 && m.subGID != 0
	switch {
	case name == "rootless-subuid" && !hasRange:
		requireOrSkip(t, fmt.Sprintf("user %s has no range in /etc/subuid and /etc/subgid: run hack/setup-test-host.sh", m.userName))
	case name == "rootless-subuid":
		for _, h := range []string{"newuidmap", "newgidmap"} {
			if _, err := exec.LookPath(h); err != nil {
				requireOrSkip(t, h+" not found: install the uidmap package (hack/setup-test-host.sh)")
			}
		}
	case name == "rootless-nosubuid" && (m.subUID != 0 || m.subGID != 0):
		if m.drop {
			requireOrSkip(t, fmt.Sprintf("user %s must have no /etc/subuid or /etc/subgid range: run hack/setup-test-host.sh", m.userName))
		}
		t.Skipf("the current user %s has a subordinate range; run the tests as root to use %s", m.userName, nosubUser)
	}

	usernsOnce.Lock()
	err, done := usernsErr[m.uid]
	if !done {
		err = checkUserns(m)
		usernsErr[m.uid] = err
	}
	usernsOnce.Unlock()
	if err != nil {
		requireOrSkip(t, fmt.Sprintf("unprivileged user namespaces are unavailable for uid %d: %v", m.uid, err))
	}
	return m
}

// checkUserns runs `unshare --user true` as the mode's uid.
func checkUserns(m *mode) error {
	cmd := exec.Command("unshare", "--user", "true")
	cmd.Env = []string{"PATH=" + hostPath}
	cmd.Dir = "/"
	if m.drop {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: m.uid, Gid: m.gid, Groups: []uint32{}}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// subRange returns the start of the first range of user (by name or uid) in
// an /etc/subuid-style file, or 0.
func subRange(t testing.TB, file, name string, uid uint32) uint32 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 3 || (f[0] != name && f[0] != strconv.FormatUint(uint64(uid), 10)) {
			continue
		}
		start, err1 := strconv.ParseUint(f[1], 10, 32)
		count, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 == nil && err2 == nil && count > 0 && start > 0 {
			return uint32(start)
		}
	}
	return 0
}

// ---------------------------------------------------------------------------
// Cases

// tcase is one test case in one mode: a unique pod name, a directory for its
// manifests readable by the mode's uid, its own XDG_RUNTIME_DIR, and the
// leak check that runs when the test ends.
type tcase struct {
	t    *testing.T
	m    *mode
	pod  string // metadata.name
	dir  string // manifests and other files for this case
	xdg  string // XDG_RUNTIME_DIR for sandbox
	n    int    // manifests written, for file names
	mnt0 map[string]snapshot
	// ports the pod used: nothing may listen on them on the host afterwards.
	ports []int
	// seen are pod processes the case found while it ran (e.g. the pause),
	// so the leak check finds them even if they carry no marker.
	seen []procID
	mu   sync.Mutex
}

type procID struct {
	pid   int
	start string // field 22 of /proc/PID/stat, against pid reuse
}

type snapshot struct {
	lines map[string]bool
	err   error
}

var mountinfoFiles = []string{"/proc/self/mountinfo", "/proc/1/mountinfo"}

func newCase(t *testing.T, m *mode, short string) *tcase {
	t.Helper()
	c := &tcase{t: t, m: m, pod: podName(short, m.short)}
	dir, err := os.MkdirTemp(baseDir, c.pod+"-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c.xdg = filepath.Join(dir, "xdg")
	if err := os.Mkdir(c.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	c.chown(c.xdg)
	c.mnt0 = map[string]snapshot{}
	for _, f := range mountinfoFiles {
		c.mnt0[f] = readMountinfo(f)
	}
	t.Cleanup(c.checkLeaks)
	return c
}

func podName(short, mode string) string {
	name := fmt.Sprintf("e2e-%s-%s-%s", short, mode, runID)
	if len(name) > 63 {
		panic("pod name too long: " + name)
	}
	return name
}

// chown gives path to the mode's uid (a no-op when not dropping privileges).
func (c *tcase) chown(path string) {
	c.t.Helper()
	if !c.m.drop {
		return
	}
	if err := os.Lchown(path, int(c.m.uid), int(c.m.gid)); err != nil {
		c.t.Fatal(err)
	}
}

// stateDirs are every place the pod's state dir may be, per the contract.
func (c *tcase) stateDirs(pod string) []string {
	dirs := []string{
		filepath.Join(c.xdg, "sandbox", pod),
		filepath.Join("/tmp", fmt.Sprintf("sandbox-%d", c.m.uid), pod),
	}
	if c.m.isRoot() {
		dirs = append(dirs, filepath.Join("/run/sandbox", pod))
	}
	return dirs
}

// ---------------------------------------------------------------------------
// Manifests

type podManifest struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   metadata `json:"metadata"`
	Spec       podSpec  `json:"spec"`
}

type metadata struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type podSpec struct {
	InitContainers                []container `json:"initContainers,omitempty"`
	Containers                    []container `json:"containers"`
	Hostname                      string      `json:"hostname,omitempty"`
	RestartPolicy                 string      `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64      `json:"terminationGracePeriodSeconds,omitempty"`
	ShareProcessNamespace         *bool       `json:"shareProcessNamespace,omitempty"`
	HostUsers                     *bool       `json:"hostUsers,omitempty"`
}

type container struct {
	Name       string   `json:"name"`
	Image      string   `json:"image,omitempty"`
	Command    []string `json:"command"`
	Args       []string `json:"args,omitempty"`
	Env        []envVar `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
}

type envVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// sh is a container running script with /bin/sh -c.
func sh(name, script string) container {
	return container{Name: name, Command: []string{"/bin/sh", "-c", script}}
}

// bash is a container running script with /bin/bash -c.
func bash(name, script string) container {
	return container{Name: name, Command: []string{"/bin/bash", "-c", script}}
}

func ptr[T any](v T) *T { return &v }

// newPod is a pod named after the case, restartPolicy Never (the default,
// Always, never ends) and a 2 s grace period.
func (c *tcase) newPod(containers ...container) *podManifest {
	return &podManifest{
		APIVersion: "v1",
		Kind:       "Pod",
		// Only lo, unless a case asks (--network overrides it): cases are
		// about other things than the default network, which
		// TestNetworkDefaultIsBridge covers.
		Metadata: metadata{Name: c.pod, Annotations: map[string]string{"sandbox.podsandbox.dev/network": "none"}},
		Spec: podSpec{
			Containers:                    containers,
			RestartPolicy:                 "Never",
			TerminationGracePeriodSeconds: ptr(int64(2)),
		},
	}
}

// write stores p as JSON in the case dir, readable by the mode's uid.
func (c *tcase) write(p *podManifest) string {
	c.t.Helper()
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	return c.writeFile(fmt.Sprintf("pod-%d.json", c.n), data)
}

func (c *tcase) writeFile(name string, data []byte) string {
	c.t.Helper()
	c.n++
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// ---------------------------------------------------------------------------
// Running sandbox

type runOpts struct {
	flags      []string // before the manifest, e.g. -v
	stdin      string   // standard input (default /dev/null)
	dir        string   // working directory (default the case's directory)
	env        []string // added to the minimal environment
	extraFiles []*os.File
	timeout    time.Duration
}

type result struct {
	code     int // exit code; 128+N when sandbox itself died of signal N
	signaled bool
	timedOut bool
	stdout   string
	stderr   string
	elapsed  time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (signaled %v, timed out %v, %v)\n--- stdout ---\n%s--- stderr ---\n%s",
		r.code, r.signaled, r.timedOut, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// lockedBuffer is written by the exec copier while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a running `sandbox run`.
type proc struct {
	c       *tcase
	cmd     *exec.Cmd
	stdout  *lockedBuffer
	stderr  *lockedBuffer
	started time.Time
	timeout time.Duration
	done    chan struct{}
	err     error // from cmd.Wait, valid after done
	res     *result
}

// run runs `sandbox run [flags] manifest` to the end.
func (c *tcase) run(manifest string, o runOpts) result {
	c.t.Helper()
	return c.start(manifest, o).wait()
}

// start starts `sandbox run [flags] manifest` as the mode's uid with a
// minimal environment, stdin /dev/null and its own XDG_RUNTIME_DIR.
func (c *tcase) start(manifest string, o runOpts) *proc {
	c.t.Helper()
	args := append([]string{"run"}, o.flags...)
	args = append(args, manifest)
	return c.startArgs(args, o)
}

// startArgs starts `sandbox args...` like start.
func (c *tcase) startArgs(args []string, o runOpts) *proc {
	c.t.Helper()
	var in io.Reader // nil: /dev/null
	if o.stdin != "" {
		in = strings.NewReader(o.stdin)
	}
	cmd := c.sandboxCmd(in, o.env, args...)
	if o.dir != "" {
		cmd.Dir = o.dir
	}
	cmd.ExtraFiles = o.extraFiles
	return c.launch(cmd, o.timeout)
}

// asMode is the SysProcAttr of a process the test starts as the mode's uid
// (dropping privileges when the mode says so), killed with the test.
func (c *tcase) asMode() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if c.m.drop {
		attr.Credential = &syscall.Credential{Uid: c.m.uid, Gid: c.m.gid, Groups: []uint32{}}
	}
	return attr
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether sandbox has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the sandbox process (only while it has not been
// reaped, so the pid cannot have been reused).
func (p *proc) signal(sig syscall.Signal) {
	p.c.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.c.t.Fatalf("signal %v to sandbox: %v", sig, err)
	}
}

// wait waits for sandbox to exit; after the timeout it kills sandbox by PID
// and fails the test.
func (p *proc) wait() result {
	p.c.t.Helper()
	if p.res != nil {
		return *p.res
	}
	remaining := p.timeout - time.Since(p.started)
	timer := time.NewTimer(remaining)
	defer timer.Stop()
	res := result{}
	select {
	case <-p.done:
	case <-timer.C:
		res.timedOut = true
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	res.elapsed = time.Since(p.started)
	res.stdout, res.stderr = p.stdout.String(), p.stderr.String()
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		res.signaled = true
		res.code = 128 + int(ws.Signal())
	default:
		res.code = ws.ExitStatus()
	}
	p.res = &res
	if res.timedOut {
		p.c.t.Errorf("sandbox run hung: killed after %v\n%s", p.timeout, res)
	}
	if testing.Verbose() && os.Getenv("SANDBOX_E2E_VERBOSE") != "" {
		p.c.t.Logf("sandbox %v: %s", p.cmd.Args[1:], res)
	}
	return res
}

// waitOutput polls stdout until it contains s, or fails after timeout.
func (p *proc) waitOutput(s string, timeout time.Duration) {
	p.c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stdout.String(), s) {
		if p.exited() || time.Now().After(deadline) {
			p.c.t.Fatalf("waiting for %q in the output: sandbox exited %v\n%s", s, p.exited(), p.wait())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Assertions on results

func (c *tcase) expectCode(r result, want int) {
	c.t.Helper()
	if r.code != want {
		c.t.Errorf("exit code %d, want %d\n%s", r.code, want, r)
	}
}

func (c *tcase) expectStdout(r result, substrings ...string) {
	c.t.Helper()
	c.expectIn(r, "stdout", r.stdout, true, substrings)
}

func (c *tcase) expectStderr(r result, substrings ...string) {
	c.t.Helper()
	c.expectIn(r, "stderr", r.stderr, true, substrings)
}

func (c *tcase) expectNoStdout(r result, substrings ...string) {
	c.t.Helper()
	c.expectIn(r, "stdout", r.stdout, false, substrings)
}

// expectIn reports, in one error, the substrings that out (stdout or stderr)
// lacks (want true) or has (want false).
func (c *tcase) expectIn(r result, what, out string, want bool, substrings []string) {
	c.t.Helper()
	var bad []string
	for _, s := range substrings {
		if strings.Contains(out, s) != want {
			bad = append(bad, strconv.Quote(s))
		}
	}
	if len(bad) == 0 {
		return
	}
	verb := "lacks"
	if !want {
		verb = "has"
	}
	c.t.Errorf("%s %s %s\n%s", what, verb, strings.Join(bad, ", "), r)
}

// linesOf returns the lines of out that carry the prefix of container name
// ("name | ", the name padded with spaces to the longest name of the pod),
// without the prefix. The padding is not checked here: which names count
// (init containers or not) is the product's choice; see expectPrefix.
func linesOf(out, name string) []string {
	var lines []string
	for line := range strings.SplitSeq(out, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok {
			continue
		}
		pad := len(rest) - len(strings.TrimLeft(rest, " "))
		if rest, ok = strings.CutPrefix(rest[pad:], "| "); ok && pad >= 1 {
			lines = append(lines, rest)
		}
	}
	return lines
}

// ---------------------------------------------------------------------------
// Pod processes

// procInfo is what the leak check knows about one host process.
type procInfo struct {
	pid     int
	ppid    int
	state   string
	comm    string
	exe     string
	cmdline string
	start   string
	env     []string
}

func readProc(pid int) (procInfo, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	p := procInfo{pid: pid}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return p, false
	}
	// comm is in parentheses and may contain spaces or ')'.
	s := string(stat)
	i, j := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if i < 0 || j < i {
		return p, false
	}
	p.comm = s[i+1 : j]
	fields := strings.Fields(s[j+1:]) // fields[0] is state (field 3)
	if len(fields) > 19 {
		p.state = fields[0]
		p.ppid, _ = strconv.Atoi(fields[1])
		p.start = fields[19] // field 22: starttime
	}
	exe, _ := os.Readlink(dir + "/exe")
	p.exe = strings.TrimSuffix(exe, " (deleted)")
	if b, err := os.ReadFile(dir + "/cmdline"); err == nil {
		p.cmdline = strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " ")
	}
	if b, err := os.ReadFile(dir + "/environ"); err == nil {
		p.env = strings.Split(string(b), "\x00")
	}
	return p, true
}

func allPids() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// podProcs lists live processes that belong to pod: HOSTNAME=<pod> in the
// environment (every container process), the sandbox binary as executable
// or, for a pause that executes the pause image (nsenter/pauseimage.c),
// as _SANDBOX_EXE in its environment (the network holder and the keeper of
// its user-mode network stack included), a user-mode network stack that
// sandbox started (pasta or slirp4netns with _SANDBOX_USERNET in the
// environment), or one of the processes the case saw.
func (c *tcase) podProcs(pod string) []procInfo {
	c.mu.Lock()
	seen := slices.Clone(c.seen)
	c.mu.Unlock()
	self := os.Getpid()
	var out []procInfo
	for _, pid := range allPids() {
		if pid == self {
			continue
		}
		p, ok := readProc(pid)
		// A zombie has exited and holds nothing but its pid; when the
		// supervisor is killed, the pause is reparented to host PID 1, which
		// may reap it late. That is not a leak.
		if !ok || p.state == "Z" || p.state == "X" {
			continue
		}
		match := p.exe == sandboxBin || slices.Contains(p.env, "_SANDBOX_EXE="+sandboxBin) || isUsernetTool(p) ||
			slices.Contains(p.env, "HOSTNAME="+pod) ||
			slices.Contains(seen, procID{pid, p.start})
		if match {
			out = append(out, p)
		}
	}
	return out
}

// isUsernetTool reports whether p is a pasta or slirp4netns that the
// sandbox binary under test started for a network holder: usernet.EnvMarker
// in its environment names its keeper, which runs that binary, or the keeper
// is gone (the tool should have died with it, by its parent-death signal).
func isUsernetTool(p procInfo) bool {
	for _, e := range p.env {
		if v, ok := strings.CutPrefix(e, "_SANDBOX_USERNET="); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				return false
			}
			k, ok := readProc(pid)
			return !ok || p.ppid != pid || k.exe == sandboxBin
		}
	}
	return false
}

// waitPodProc polls until a process of the pod whose comm is comm runs, and
// remembers it for the leak check.
func (c *tcase) waitPodProc(p *proc, comm string, timeout time.Duration) procInfo {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, pi := range c.podProcs(c.pod) {
			if pi.comm == comm && pi.exe != sandboxBin {
				c.remember(pi)
				return pi
			}
		}
		if p.exited() || time.Now().After(deadline) {
			c.t.Fatalf("no %q process of pod %s appeared (sandbox exited: %v)\n%s", comm, c.pod, p.exited(), p.wait())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findPause finds the child of the sandbox process whose comm is "pause"
// and whose command line is "pause": not the network holder (bridge
// networking), which has the same comm.
func (c *tcase) findPause(p *proc, timeout time.Duration) procInfo {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, pid := range allPids() {
			if pi, ok := readProc(pid); ok && pi.ppid == p.pid() && pi.comm == "pause" && pi.cmdline == "pause" {
				c.remember(pi)
				return pi
			}
		}
		if p.exited() || time.Now().After(deadline) {
			c.t.Fatalf("no child of sandbox (pid %d) named pause (sandbox exited: %v)\n%s", p.pid(), p.exited(), p.wait())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *tcase) remember(pi procInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, procID{pi.pid, pi.start})
}

// waitNoPodProcs waits up to d for every process of pod to be gone and
// returns those still left.
func (c *tcase) waitNoPodProcs(pod string, d time.Duration) []procInfo {
	deadline := time.Now().Add(d)
	for {
		left := c.podProcs(pod)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func describeProcs(ps []procInfo) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  pid %d ppid %d state %s comm %q exe %q cmdline %q\n", p.pid, p.ppid, p.state, p.comm, p.exe, p.cmdline)
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// Leak check

// checkLeaks runs when the case ends: no pod process left (after letting the
// kernel reap for up to 2 s), no state dir, mountinfo of the test process and
// of host PID 1 unchanged, no host listener on the case's ports.
func (c *tcase) checkLeaks() {
	c.checkLeaksFor(c.pod)
}

func (c *tcase) checkLeaksFor(pod string) {
	t := c.t
	t.Helper()
	if left := c.waitNoPodProcs(pod, leakRetry); len(left) > 0 {
		t.Errorf("leak: %d process(es) of pod %s left %v after the run:\n%s", len(left), pod, leakRetry, describeProcs(left))
		// They are proven to be this pod's (its marker in their environment,
		// or our freshly built binary): kill them so later cases start clean.
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		c.waitNoPodProcs(pod, leakRetry)
	}
	var leakedDirs []string
	for _, d := range c.stateDirs(pod) {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("leak: state dir %s of pod %s is left after the run", d, pod)
			leakedDirs = append(leakedDirs, d)
		}
	}
	mountsChanged := false
	defer func() {
		// Remove what this case's uniquely named pod left, so that the
		// machine stays clean, unless a mount may hang below it.
		if !mountsChanged {
			for _, d := range leakedDirs {
				os.RemoveAll(d)
			}
		}
	}()
	for _, f := range mountinfoFiles {
		before := c.mnt0[f]
		if before.err != nil {
			continue
		}
		after := readMountinfo(f)
		if after.err != nil {
			t.Errorf("leak check: %v", after.err)
			continue
		}
		var added, removed []string
		for l := range after.lines {
			if !before.lines[l] {
				added = append(added, l)
			}
		}
		for l := range before.lines {
			if !after.lines[l] {
				removed = append(removed, l)
			}
		}
		if len(added)+len(removed) > 0 {
			mountsChanged = true
			t.Errorf("leak: %s changed during the case:\nadded:\n  %s\nremoved:\n  %s", f,
				strings.Join(added, "\n  "), strings.Join(removed, "\n  "))
		}
	}
	for _, port := range c.ports {
		if l := hostListeners(port); len(l) > 0 {
			t.Errorf("leak: host listener on port %d after the case: %v", port, l)
		}
	}
}

func readMountinfo(path string) snapshot {
	data, err := os.ReadFile(path)
	if err != nil {
		return snapshot{err: err}
	}
	s := snapshot{lines: map[string]bool{}}
	for line := range strings.SplitSeq(string(data), "\n") {
		if line != "" {
			s.lines[line] = true
		}
	}
	return s
}

// hostListeners returns the /proc/net/tcp{,6} lines (in the test's network
// namespace, the host's) listening on port.
func hostListeners(port int) []string {
	var found []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				found = append(found, f+": "+sc.Text())
			}
		}
		fh.Close()
	}
	return found
}

// ---------------------------------------------------------------------------
// Root filesystems

// busyboxRootfs builds a rootfs directory from the static busybox: bin/busybox,
// a symlink per applet, the usual empty directories and a marker file. For
// rootless modes the tree is chowned to the mode's uid so that container root
// owns it.
func (c *tcase) busyboxRootfs(marker string) string {
	c.t.Helper()
	const busybox = "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		requireOrSkip(c.t, "a static busybox is needed for dir: images: install busybox-static (hack/setup-test-host.sh)")
	}
	root := filepath.Join(c.dir, "rootfs")
	for _, d := range []string{"", "bin", "proc", "sys", "dev", "tmp", "etc", "root"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		c.t.Fatal(err)
	}
	if err := testutil.CopyFile(filepath.Join(root, "bin", "busybox"), busybox, 0o755); err != nil {
		c.t.Fatal(err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		c.t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "marker"), []byte(marker+"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	if c.m.drop {
		err := filepath.WalkDir(root, func(path string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, int(c.m.uid), int(c.m.gid))
		})
		if err != nil {
			c.t.Fatal(err)
		}
	}
	return root
}

// ---------------------------------------------------------------------------
// Misc

// parseIDMap parses /proc/PID/uid_map text into rows of three numbers.
func parseIDMap(text string) ([][3]uint64, error) {
	var rows [][3]uint64
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("bad id map line %q", line)
		}
		var row [3]uint64
		for i := range f {
			v, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad id map line %q: %w", line, err)
			}
			row[i] = v
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, errors.New("empty id map")
	}
	return rows, nil
}

// testPort picks a port for a listener inside a pod (its own network
// namespace, so only collisions with itself matter).
func testPort() int {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return 20000 + (int(b[0])<<8|int(b[1]))%20000
}
