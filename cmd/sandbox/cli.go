package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/image"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/supervisor"
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

type globalFlags struct {
	verbose bool
}

func runCLI(args []string) int {
	var g globalFlags
	// State left by a killed supervisor may hold files of subordinate ids.
	if exe, err := os.Executable(); err == nil {
		state.RemoveTree = func(dir string) error { return image.RemoveTree(exe, dir) }
	}
	root := &cobra.Command{
		Use:           "sandbox",
		Short:         "Run Kubernetes pods as an unprivileged user, with Linux namespaces",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "print lifecycle events (container started, exited, restarting)")
	root.AddCommand(newRunCommand(&g))
	addLifecycleCommands(root, &g) // completion.go: ps, exec, logs, stop, rm, inspect, gc
	addImageCommands(root, &g)     // image.go: pull, images, rmi, image prune
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			logger(&g).Error(ee.err.Error())
		}
		return ee.code
	}
	// Usage errors (unknown flag, wrong argument count) are sandbox failures.
	logger(&g).Error(err.Error())
	return supervisor.ExitSandboxFailed
}

// logger writes "sandbox: level: message" lines to stderr; -v shows info.
func logger(g *globalFlags) *slog.Logger {
	level := slog.LevelWarn
	if g.verbose {
		level = slog.LevelInfo
	}
	return slog.New(&lineHandler{w: os.Stderr, level: level})
}

type lineHandler struct {
	w     io.Writer
	level slog.Level
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }
func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	level := strings.ToLower(r.Level.String())
	if r.Level == slog.LevelWarn {
		level = "warning"
	}
	_, err := fmt.Fprintf(h.w, "sandbox: %s: %s\n", level, r.Message)
	return err
}
func (h *lineHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineHandler) WithGroup(string) slog.Handler      { return h }

type runFlags struct {
	explain      bool
	strict       bool
	cgroupParent string
	pidsLimit    int64
	// network and subnet: --network (when given) and --subnet, network.go.
	network, subnet string
	// hostLoopback: --allow-host-loopback (bridge pods), network.go.
	hostLoopback bool
}

func newRunCommand(g *globalFlags) *cobra.Command {
	var f runFlags
	var adhoc adhocFlags
	var det detachFlags // detach.go
	cmd := &cobra.Command{
		Use:   "run [flags] POD.(json|yaml) | run [flags] -- CMD [ARG...]",
		Short: "Run a pod, or one command in a fresh sandbox, in the foreground",
		Long: `Run the pod described by a Kubernetes Pod manifest (JSON or YAML) in the
foreground. Container output is streamed to the terminal, prefixed with the
container name when the pod has more than one. Ctrl-C stops the pod
gracefully (SIGTERM, terminationGracePeriodSeconds, then SIGKILL).

With -- CMD, run one command in a fresh sandbox made for tests: the host root
read-only, the current directory read-write (and the working directory), a
private /tmp, no network but lo, root inside; stdio and the terminal passed
through untouched, signals forwarded, the command's exit code returned
(124 after --timeout). Works as go test -exec 'sandbox run --'.

Networks (--network or the manifest's annotation): bridge (the default for
a manifest: a pod IP on the user's bridge; outbound access through pasta or
slirp4netns when installed and /dev/net/tun is usable; the host's 127.0.0.1
through the pod's gateway only with --allow-host-loopback), none (only lo;
the default of run -- CMD), host.

Exit codes: 0 all containers succeeded; the first failing container's code;
125 sandbox failure (bad manifest, setup error); 126 command cannot be
executed; 127 command not found; 128+N killed by signal N.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				if dash != 0 || len(args) == 0 {
					return errors.New("usage: sandbox run [flags] POD.yaml, or sandbox run [flags] -- CMD [ARG...]")
				}
				return nil
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("network") {
				f.network = adhoc.network // network.go
			}
			if cmd.ArgsLenAtDash() == 0 {
				return runAdhoc(g, &f, &adhoc, args)
			}
			if det.detach || det.child {
				return runDetach(g, &f, &det, args[0])
			}
			return runPod(g, &f, args[0])
		},
	}
	addAdhocFlags(cmd, &adhoc)
	addDetachFlags(cmd, &det)
	cmd.Flags().BoolVar(&f.explain, "explain", false, "narrate each system-level step (namespaces, id maps, setns, cgroups, exec) with its time on stderr")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "treat Kubernetes fields that sandbox does not support, and resource limits it cannot enforce, as errors")
	cmd.Flags().StringVar(&f.cgroupParent, "cgroup-parent", "", "cgroup path (as in /proc/self/cgroup) below which the pod's cgroup is created (default: the cgroup sandbox runs in)")
	cmd.Flags().StringVar(&f.subnet, "subnet", "", "the bridge's subnet (default "+pod.DefaultSubnet+"; every pod of a user shares one bridge); sets the "+pod.AnnotationSubnet+" annotation")
	cmd.Flags().BoolVar(&f.hostLoopback, "allow-host-loopback", false, "let a bridge pod reach the host's 127.0.0.1 through its gateway address (off by default); sets the "+pod.AnnotationAllowHostLoopback+" annotation")
	cmd.Flags().Int64Var(&f.pidsLimit, "pids-limit", 0, "the pod's pids limit; caps the "+pod.AnnotationPidsLimit+" annotation (0: none)")
	return cmd
}

func runPod(g *globalFlags, f *runFlags, path string) error {
	log := logger(g)
	p, warnings, err := pod.Load(path)
	if err == nil {
		err = applyNetworkFlags(p, f.network, f.subnet, f.hostLoopback) // network.go
	}
	if err != nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: err}
	}
	for _, w := range warnings {
		if f.strict {
			return &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("%s: %s (--strict)", path, w)}
		}
		log.Warn(fmt.Sprintf("%s: %s", path, w))
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("invalid pod %s:\n%w", path, indent(err))}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	stoppedBy := make(chan syscall.Signal, 1)
	go func() {
		if s, ok := <-sigs; ok {
			stoppedBy <- s.(syscall.Signal)
			log.Info(fmt.Sprintf("got %v: stopping pod %s", s, p.Metadata.Name))
			cancel()
		}
	}()

	opts := supervisor.Options{
		Warn:    func(m string) { log.Warn(m) },
		Event:   func(m string) { log.Info(m) },
		Error:   func(m string) { log.Error(m) },
		Explain: explainer(f),
		// Resources: see supervisor/cgroups_linux.go.
		CgroupParent: f.cgroupParent, PidsLimit: f.pidsLimit, Strict: f.strict,
		GracePeriod: stopGraceOverride(p.Metadata.Name), // sandbox stop -t
		Spawner:     nsenter.TakeSpawner(),              // the constructor's fork server (nsenter/spawner.c)
	}
	if d, err := time.ParseDuration(os.Getenv("SANDBOX_TEST_BACKOFF")); err == nil && d > 0 {
		// Test-only: shortens kubelet's 10 s restart back-off.
		opts.BackoffBase, opts.BackoffMax = d, 4*d
	}
	code, err := supervisor.Run(ctx, p, opts)
	select {
	case sig := <-stoppedBy:
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Error(err.Error())
		}
		return &exitError{code: 128 + int(sig)}
	default:
	}
	if err != nil {
		return &exitError{code: code, err: err}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// indent puts each line of a joined validation error on its own indented line.
func indent(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

// explainer prints --explain lines: elapsed time since sandbox started, then
// the step.
func explainer(f *runFlags) func(string) {
	if !f.explain {
		return nil
	}
	var mu sync.Mutex
	return func(m string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stderr, "[%7.3f ms] %s\n", float64(time.Since(processStart).Microseconds())/1000, m)
	}
}

// processStart is as close to the process's start as Go code gets.
var processStart = time.Now()
