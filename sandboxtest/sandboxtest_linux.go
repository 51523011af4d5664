// Package sandboxtest runs a Go test inside a fresh sandbox, for tests that
// need root-like powers (bind port 80, create network interfaces, mount a
// tmpfs, set the hostname) or isolation (no network, a private /tmp), as an
// unprivileged user, without sudo or Docker:
//
//	func TestBindsPort80(t *testing.T) {
//		if !sandboxtest.Run(t) {
//			return // the test ran in the sandbox and its result is reported here
//		}
//		// From here on: root in new user, mount, network (lo up), PID, IPC and
//		// UTS namespaces, the host root read-only, the working directory
//		// writable, a private /tmp.
//		l, err := net.Listen("tcp", "127.0.0.1:80")
//		...
//	}
//
// Run re-executes the test binary with -test.run selecting just this test,
// as the one container of a pod started with supervisor.Run — the library
// API behind `sandbox run`, with the same semantics. Importing this package
// also makes the test binary able to act as the pod's pause and container
// init (package roles).
package sandboxtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/podsandbox/sandbox/pod"
	_ "github.com/podsandbox/sandbox/roles"
	"github.com/podsandbox/sandbox/supervisor"
)

// envInside names the test that runs inside the sandbox.
const envInside = "SANDBOXTEST_INSIDE"

// Option changes the sandbox a test runs in.
type Option func(*config)

type config struct {
	hostNetwork bool
	subIDs      bool
	env         []pod.EnvVar
}

// WithHostNetwork keeps the host's network namespace instead of a fresh one
// with only lo.
func WithHostNetwork() Option { return func(c *config) { c.hostNetwork = true } }

// WithSubordinateIDs also maps the caller's subordinate uids and gids
// (/etc/subuid, /etc/subgid, through newuidmap/newgidmap) as 1..N inside,
// for tests that switch to or chown to other ids. Without it only root
// inside is mapped (to the caller), like `unshare -r`.
func WithSubordinateIDs() Option { return func(c *config) { c.subIDs = true } }

// WithEnv sets an environment variable inside.
func WithEnv(key, value string) Option {
	return func(c *config) { c.env = append(c.env, pod.EnvVar{Name: key, Value: value}) }
}

// Run returns true when called inside the sandbox: the test body goes on
// there. Called in the normal test process, it runs this test again inside
// a fresh sandbox, reports its output with t.Log and its failure with
// t.Error, and returns false: the caller returns at once.
func Run(t testing.TB, opts ...Option) bool {
	t.Helper()
	if os.Getenv(envInside) == t.Name() {
		return true
	}
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	p, err := testPod(t.Name(), &cfg)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	var out lockedBuffer
	ctx := context.Background()
	if c, ok := t.(interface{ Context() context.Context }); ok {
		ctx = c.Context()
	}
	code, err := supervisor.Run(ctx, p, supervisor.Options{
		Stdout: &out, Stderr: &out,
		Warn: func(m string) { t.Log("sandboxtest: " + m) },
		// The single-id-mapping note is expected for tests; keep it quiet.
		QuietFallback: true,
		SingleMapping: !cfg.subIDs,
	})
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if line != "" {
			t.Log(line)
		}
	}
	switch {
	case err != nil:
		t.Errorf("sandboxtest: %s: %v", t.Name(), err)
	case code != 0:
		t.Errorf("sandboxtest: %s failed inside the sandbox (exit %d)", t.Name(), code)
	}
	return false
}

// testPod is a one-container pod that runs this test binary for one test.
func testPod(name string, cfg *config) (*pod.Pod, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the test binary: %w", err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	var b [4]byte
	rand.Read(b[:])
	never := pod.RestartNever
	grace := int64(5)
	p := &pod.Pod{APIVersion: pod.APIVersion, Kind: pod.Kind}
	p.Metadata.Name = "test-" + hex.EncodeToString(b[:])
	p.Spec.RestartPolicy = never
	p.Spec.TerminationGracePeriodSeconds = &grace
	p.Spec.HostNetwork = cfg.hostNetwork
	if !cfg.hostNetwork {
		// Only lo: a test is isolated from every network.
		p.Metadata.Annotations = map[string]string{pod.AnnotationNetwork: pod.NetworkNone}
	}
	args := []string{exe, "-test.run=" + runPattern(name), "-test.v=true", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short=true")
	}
	// Every capability (of the pod's user namespace when rootless): root-like
	// powers are what the test came for.
	privileged := true
	c := pod.Container{
		Name: "test", Image: "host", Command: args, WorkingDir: cwd,
		Env:             append([]pod.EnvVar{{Name: envInside, Value: name}}, cfg.env...),
		SecurityContext: &pod.SecurityContext{Privileged: &privileged},
	}
	volume := func(path string, readOnly bool) {
		v := fmt.Sprintf("v%d", len(p.Spec.Volumes))
		p.Spec.Volumes = append(p.Spec.Volumes, pod.Volume{Name: v, HostPath: &pod.HostPathVolumeSource{Path: path}})
		c.VolumeMounts = append(c.VolumeMounts, pod.VolumeMount{Name: v, MountPath: path, ReadOnly: readOnly})
	}
	if cwd != "/" {
		volume(cwd, false)
	}
	// go test builds the binary under /tmp, which is private inside.
	if dir := dirOf(exe); strings.HasPrefix(dir, "/tmp/") {
		volume(dir, true)
	}
	p.Spec.Containers = []pod.Container{c}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// runPattern selects exactly the named (sub)test: each level anchored.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, part := range parts {
		parts[i] = "^" + regexp.QuoteMeta(part) + "$"
	}
	return strings.Join(parts, "/")
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "/"
}

// lockedBuffer collects the output of both streams.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
