package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/supervisor"
)

// ExitTimedOut is the exit code of an ad-hoc run stopped by --timeout, as
// coreutils timeout(1) returns.
const ExitTimedOut = 124

// adhocFlags are the flags of `sandbox run -- CMD`, in bubblewrap's spirit.
type adhocFlags struct {
	binds, roBinds, tmpfs, env []string
	envHost, keepID, subIDs    bool
	network, hostname, name    string
	timeout, grace             time.Duration
	memory, cpus               string
}

func addAdhocFlags(cmd *cobra.Command, f *adhocFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.binds, "bind", nil, "with -- CMD: bind-mount SRC[:DST] read-write (DST defaults to SRC)")
	fl.StringArrayVar(&f.roBinds, "ro-bind", nil, "with -- CMD: bind-mount SRC[:DST] read-only")
	fl.StringArrayVar(&f.tmpfs, "tmpfs", nil, "with -- CMD: mount an empty tmpfs at DST")
	fl.StringArrayVar(&f.env, "env", nil, "with -- CMD: set K=V in the command's environment")
	fl.BoolVar(&f.envHost, "env-host", false, "with -- CMD: pass the caller's whole environment")
	fl.BoolVar(&f.keepID, "keep-id", false, "with -- CMD: run as your own uid/gid inside instead of root")
	fl.BoolVar(&f.subIDs, "subids", false, "with -- CMD: also map your subordinate uids/gids (/etc/subuid, /etc/subgid) as 1..N, as a manifest's pod does (newuidmap/newgidmap: about 3 ms more); default: only root inside is mapped, to you")
	fl.StringVar(&f.network, "network", "none", "none (only lo), bridge (an IP on the user's bridge sbx0, outbound through pasta or slirp4netns) or host; default none (for a manifest: its "+pod.AnnotationNetwork+" annotation, else bridge)")
	fl.StringVar(&f.hostname, "hostname", "", "with -- CMD: hostname inside (default: the sandbox's name)")
	fl.StringVar(&f.name, "name", "", "with -- CMD: name of the sandbox (default: run-<random>)")
	fl.StringVar(&f.memory, "memory", "", "with -- CMD: memory limit (a Kubernetes quantity: 256Mi, 1G) where cgroups allow; use --pids-limit for processes")
	fl.StringVar(&f.cpus, "cpus", "", "with -- CMD: CPU limit (a Kubernetes quantity: 500m, 2) where cgroups allow")
	fl.DurationVar(&f.timeout, "timeout", 0, "with -- CMD: stop the command after this long (SIGTERM, --grace, SIGKILL; exit 124)")
	fl.DurationVar(&f.grace, "grace", 10*time.Second, "with -- CMD: time between SIGTERM and SIGKILL when stopping")
}

// adhocPod is the one-container pod that `sandbox run -- CMD` runs: the host
// root read-only, the current directory read-write at the same path and the
// working directory, a private /tmp, only lo, and root inside (or the
// caller with --keep-id).
func adhocPod(f *adhocFlags, argv []string) (*pod.Pod, error) {
	name := f.name
	if name == "" {
		var b [4]byte
		rand.Read(b[:])
		name = "run-" + hex.EncodeToString(b[:])
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("current directory: %w", err)
	}
	never := pod.RestartNever
	grace := int64(f.grace / time.Second)
	p := &pod.Pod{APIVersion: pod.APIVersion, Kind: pod.Kind}
	p.Metadata.Name = name
	p.Spec.RestartPolicy = never
	p.Spec.TerminationGracePeriodSeconds = &grace
	p.Spec.Hostname = f.hostname
	switch f.network {
	case "none":
		p.Metadata.Annotations = map[string]string{pod.AnnotationNetwork: pod.NetworkNone}
	case "host":
		p.Spec.HostNetwork = true
	case "bridge":
		p.Metadata.Annotations = map[string]string{pod.AnnotationNetwork: pod.NetworkBridge}
	default:
		return nil, fmt.Errorf("--network %q: must be none, bridge or host", f.network)
	}
	c := pod.Container{Name: "main", Image: "host", Command: argv, WorkingDir: cwd}
	mount := func(src, dst string, readOnly bool) {
		v := fmt.Sprintf("v%d", len(p.Spec.Volumes))
		p.Spec.Volumes = append(p.Spec.Volumes, pod.Volume{Name: v, HostPath: &pod.HostPathVolumeSource{Path: src}})
		c.VolumeMounts = append(c.VolumeMounts, pod.VolumeMount{Name: v, MountPath: dst, ReadOnly: readOnly})
	}
	if cwd != "/" {
		mount(cwd, cwd, false)
	}
	for _, spec := range f.binds {
		src, dst := splitBind(spec)
		mount(src, dst, false)
	}
	for _, spec := range f.roBinds {
		src, dst := splitBind(spec)
		mount(src, dst, true)
	}
	for _, dst := range f.tmpfs {
		v := fmt.Sprintf("v%d", len(p.Spec.Volumes))
		p.Spec.Volumes = append(p.Spec.Volumes, pod.Volume{Name: v, EmptyDir: &pod.EmptyDirVolumeSource{Medium: pod.StorageMediumMemory}})
		c.VolumeMounts = append(c.VolumeMounts, pod.VolumeMount{Name: v, MountPath: dst})
	}
	// The command itself must stay reachable: a test binary from `go test
	// -exec` lives in /tmp, which is private inside. Its directory is bound
	// read-only at the same path.
	if exe, err := exec.LookPath(argv[0]); err == nil {
		if abs, err := filepath.Abs(exe); err == nil && hiddenInside(abs, f.tmpfs) {
			mount(filepath.Dir(abs), filepath.Dir(abs), true)
		}
	}
	// Root-like powers are the point of a test sandbox (bind port 80, create
	// interfaces, mount a tmpfs): every capability, of the pod's user
	// namespace when rootless (worthless outside it), like `unshare -r`.
	privileged := true
	c.SecurityContext = &pod.SecurityContext{Privileged: &privileged}
	if f.keepID {
		uid, gid := int64(os.Geteuid()), int64(os.Getegid())
		c.SecurityContext.RunAsUser, c.SecurityContext.RunAsGroup = &uid, &gid
	}
	for name, value := range map[string]string{"memory": f.memory, "cpu": f.cpus} {
		if value == "" {
			continue
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", map[string]string{"memory": "memory", "cpu": "cpus"}[name], value, err)
		}
		if c.Resources.Limits == nil {
			c.Resources.Limits = pod.ResourceList{}
		}
		c.Resources.Limits[name] = q
	}
	c.Env = adhocEnv(f)
	p.Spec.Containers = []pod.Container{c}
	return p, nil
}

// hiddenInside reports whether a host path is covered by a mount of the
// ad-hoc sandbox (its private /tmp, /dev, /proc or a --tmpfs).
func hiddenInside(path string, tmpfs []string) bool {
	for _, dir := range append([]string{"/tmp", "/dev", "/proc", "/sys"}, tmpfs...) {
		if path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/") {
			return true
		}
	}
	return false
}

func splitBind(spec string) (src, dst string) {
	if i := strings.IndexByte(spec, ':'); i >= 0 {
		return spec[:i], spec[i+1:]
	}
	return spec, spec
}

// adhocEnv is the command's environment: the caller's PATH (the command is
// looked up as the caller would), TERM on a terminal, HOME of the caller with
// --keep-id, everything with --env-host, then --env.
func adhocEnv(f *adhocFlags) []pod.EnvVar {
	var env []pod.EnvVar
	if f.envHost {
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			if k != "" && !strings.HasPrefix(k, "_SANDBOX_") {
				env = append(env, pod.EnvVar{Name: k, Value: v})
			}
		}
	} else {
		if v, ok := os.LookupEnv("PATH"); ok {
			env = append(env, pod.EnvVar{Name: "PATH", Value: v})
		}
		if v, ok := os.LookupEnv("TERM"); ok && isTerminal(os.Stdin) {
			env = append(env, pod.EnvVar{Name: "TERM", Value: v})
		}
		if v, ok := os.LookupEnv("HOME"); ok && f.keepID {
			env = append(env, pod.EnvVar{Name: "HOME", Value: v})
		}
	}
	for _, kv := range f.env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, pod.EnvVar{Name: k, Value: v})
	}
	return env
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// runAdhoc runs `sandbox run [flags] -- CMD [ARG...]`: stdio passed through
// untouched, signals forwarded, the command's exit code returned.
func runAdhoc(g *globalFlags, rf *runFlags, f *adhocFlags, argv []string) error {
	log := logger(g)
	p, err := adhocPod(f, argv)
	if err == nil {
		err = applyNetworkFlags(p, "", rf.subnet, rf.hostLoopback) // network.go
	}
	if err != nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: err}
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("invalid sandbox:\n%w", indent(err))}
	}

	ctx := context.Background()
	var cancel context.CancelFunc = func() {}
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	defer cancel()
	// Forward what the caller sends to sandbox; terminal signals reach the
	// command directly (its process group is the terminal's foreground).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)

	opts := supervisor.Options{
		Warn:    func(m string) { log.Warn(m) },
		Event:   func(m string) { log.Info(m) },
		Error:   func(m string) { log.Error(m) },
		Explain: explainer(rf),
		Stdio:   &supervisor.Stdio{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Terminal: isTerminal(os.Stdin)},
		Forward: sigs,
		KeepID:  f.keepID,
		// Like unshare -r and bwrap: one id, no setuid helpers on the start
		// path, unless --subids asks for the ranges.
		SingleMapping: !f.subIDs,
		// The single-mapping note would repeat on every run of a test binary.
		QuietFallback: !g.verbose,
		CgroupParent:  rf.cgroupParent, PidsLimit: rf.pidsLimit, Strict: rf.strict,
		Spawner: nsenter.TakeSpawner(), // the constructor's fork server (nsenter/spawner.c)
	}
	code, err := supervisor.Run(ctx, p, opts)
	if opts.Explain != nil {
		opts.Explain(fmt.Sprintf("sandbox exits with %d", code))
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &exitError{code: ExitTimedOut, err: fmt.Errorf("%s timed out after %v", argv[0], f.timeout)}
	}
	if err != nil {
		return &exitError{code: code, err: err}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}
