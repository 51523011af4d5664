// Package supervisor runs one pod: it validates the host side of the plan,
// takes the pod's state directory, starts the pause that holds the pod's
// namespaces, writes the user namespace's id maps, starts the containers
// through the nsenter constructor, restarts them per restartPolicy, streams
// their output, and tears everything down. It returns errors and reports
// warnings through a callback; it never logs.
package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/internal/idmap"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/portfwd"
)

// Exit codes of the contract documented in the README.
const (
	ExitSandboxFailed = 125
	// ExitSandboxDied is returned when the pause (and so every container
	// with it) was killed from outside: 128+SIGKILL.
	ExitSandboxDied = 137
)

// ErrSandboxDied is wrapped when the pause exited while the pod ran.
var ErrSandboxDied = errors.New("pod sandbox died")

// Options tune a run. The zero value is usable.
type Options struct {
	// Exe is the sandbox binary re-executed for the pause and the
	// containers; default /proc/self/exe.
	Exe string
	// StateBase is the directory of all pods' state; default
	// state.BaseDir().
	StateBase string
	// Stdout and Stderr receive the containers' output; default os.Stdout
	// and os.Stderr.
	Stdout, Stderr io.Writer
	// Warn receives warnings meant for the user.
	Warn func(msg string)
	// Event receives one line per lifecycle step (container started,
	// exited, restarting).
	Event func(msg string)
	// Explain receives one line per system-level step (namespaces created
	// and joined, id maps, cgroups, exec), for `sandbox run --explain`.
	Explain func(msg string)
	// BackoffBase and BackoffMax are the restart back-off (kubelet: 10 s
	// doubling to 5 min); BackoffReset is how long a container must run
	// for the back-off to start again from the base (kubelet: 10 min).
	BackoffBase, BackoffMax, BackoffReset time.Duration
	// Stdio, when set, connects every container to these files instead of
	// the prefixed terminal output and the logs.
	Stdio *Stdio
	// Forward receives signals to pass on to the running containers (the
	// ad-hoc mode forwards rather than stopping the pod).
	Forward <-chan os.Signal
	// QuietFallback reports the single-id-mapping fallback as an event
	// instead of a warning (ad-hoc runs would repeat it on every run).
	QuietFallback bool
	// KeepID runs containers as the caller's own uid and gid (mapped to
	// themselves) instead of root of the user namespace.
	KeepID bool
	// SingleMapping maps only the caller's own uid and gid (to root of the
	// pod's user namespace), even where subordinate ranges exist, as
	// `unshare -r` and bubblewrap do: no newuidmap/newgidmap, whose two
	// setuid executions are the largest single cost of a rootless start
	// (about 3 ms here). Ad-hoc runs (`sandbox run -- CMD`, sandboxtest)
	// use it. A bridge pod ignores it: it is nested in the network
	// holder's user namespace, whose ranges it gets without the helpers.
	SingleMapping bool
	// KeepState keeps the state directory (record and logs) after the pod
	// ends, for a detached pod until `sandbox rm`; a foreground run removes
	// it.
	KeepState bool
	// Ready is called once every app container has started (postStart
	// hooks done); GracePeriod, when it returns true, overrides the
	// manifest's grace period at the time of a stop (`sandbox stop -t`).
	// See hooks_linux.go.
	Ready       func()
	GracePeriod func() (time.Duration, bool)
	// CgroupParent is the cgroup (as in /proc/self/cgroup) below which the
	// pod's cgroup goes; "" is the one sandbox runs in. PidsLimit caps the
	// pod's pids limit (0: none). Strict makes limits that cannot be
	// enforced an error. Error receives errors about a container (OOM
	// kills). See cgroups_linux.go.
	CgroupParent string
	PidsLimit    int64
	Strict       bool
	Error        func(msg string)
	// Spawner, when set, starts the joins of containers whose init runs
	// in C without executing Exe (which must then be this binary): the
	// sandbox CLI's fork server, nsenter.TakeSpawner. Run closes it once
	// the pod is ready.
	Spawner *nsenter.Spawner
	// explaining: Explain was set by the caller (explain_linux.go).
	explaining bool
}

func (o *Options) defaults() {
	if o.Exe == "" {
		o.Exe = "/proc/self/exe"
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	if o.Event == nil {
		o.Event = func(string) {}
	}
	o.explaining = o.Explain != nil
	if o.Explain == nil {
		o.Explain = func(string) {}
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 10 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Minute
	}
	if o.BackoffReset <= 0 {
		o.BackoffReset = 10 * time.Minute
	}
}

// plan is what Run decided before touching the system.
type plan struct {
	userns    bool
	mapping   idmap.Mapping
	roots     map[string]string // container name -> rootfs dir ("" = host root)
	sharedPID bool
	cgroups   *cgroupPlan // cgroups_linux.go
	// hostNetwork: no network namespace; the pod uses the host's.
	hostNetwork bool
	images      map[string]*imagePlan // container name -> stored image (image_linux.go)
}

// prepare checks everything on the host side that validation of the
// manifest could not: image directories, the id mapping. It creates nothing.
func prepare(p *pod.Pod, o *Options) (*plan, error) {
	pl := &plan{roots: map[string]string{}, sharedPID: p.ShareProcessNamespaceEnabled(), hostNetwork: p.NetworkMode() == pod.NetworkHost}
	all := append(append([]pod.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...)
	for _, c := range all {
		img, err := pod.ParseImage(c.Image)
		if err != nil {
			return nil, fmt.Errorf("container %q: image: %w", c.Name, err)
		}
		if img.IsStored() {
			if err := pl.planImage(&c, img, o); err != nil { // image_linux.go: pull per imagePullPolicy
				return nil, fmt.Errorf("container %q: image %w", c.Name, err)
			}
			continue
		}
		if img.Kind == pod.ImageDir {
			st, err := os.Stat(img.Path)
			if err != nil {
				return nil, fmt.Errorf("container %q: image %s: %w", c.Name, img.Path, err)
			}
			if !st.IsDir() {
				return nil, fmt.Errorf("container %q: image %s: not a directory", c.Name, img.Path)
			}
		}
		pl.roots[c.Name] = img.Path
	}
	switch {
	case os.Geteuid() != 0:
		if p.Spec.HostUsers != nil && *p.Spec.HostUsers {
			o.Warn("spec.hostUsers: true cannot be honoured without root: the pod gets a user namespace")
		}
		pl.userns = true
		if o.KeepID {
			// The caller's ids map to themselves; there is no root inside.
			pl.mapping = idmap.Identity(uint32(os.Geteuid()), uint32(os.Getegid()))
			break
		}
		if o.SingleMapping && p.NetworkMode() != pod.NetworkBridge {
			pl.mapping = idmap.Single(uint32(os.Geteuid()), uint32(os.Getegid()))
			break
		}
		name := ""
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		d := idmap.ForUser(os.Geteuid(), os.Getegid(), name)
		if d.Fallback != "" {
			note := o.Warn
			if o.QuietFallback {
				note = o.Event
			}
			note("only container uid/gid 0 is mapped (to your own): " + d.Fallback)
		}
		pl.mapping = d.Mapping
	case p.Spec.HostUsers != nil && !*p.Spec.HostUsers:
		m, err := idmap.ForRoot()
		if err != nil {
			return nil, err
		}
		pl.userns, pl.mapping = true, m
	}
	cp, err := planCgroups(p, o) // cgroups_linux.go
	if err != nil {
		return nil, err
	}
	pl.cgroups = cp
	if err := checkHostSide(p, pl); err != nil { // volumes_linux.go: hostPath types, runAsUser mapped
		return nil, err
	}
	return pl, nil
}

// Run runs the pod in the foreground until its containers are done, the
// context is cancelled (graceful stop), or the pause dies. It returns the
// pod's exit code (see the README's contract) and, for a sandbox failure,
// an error; the code is then ExitSandboxFailed or ExitSandboxDied.
func Run(ctx context.Context, p *pod.Pod, o Options) (int, error) {
	o.defaults()
	defer o.Spawner.Close() // at the latest
	// Warnings of the plan (limits not enforced, id mapping) are also kept
	// in the record, for inspect.
	var planWarnings []string
	warn := o.Warn
	o.Warn = func(m string) { planWarnings = append(planWarnings, m); warn(m) }
	pl, err := prepare(p, &o)
	o.Warn = warn
	if err != nil {
		return ExitSandboxFailed, err
	}
	base := o.StateBase
	if base == "" {
		if base, err = state.BaseDir(); err != nil {
			return ExitSandboxFailed, err
		}
	}
	st, err := state.Acquire(base, p.Metadata.Name, func(rec state.Record) {
		killStale(rec, o.Warn)
	})
	if err != nil {
		return ExitSandboxFailed, err
	}
	s := &sandbox{pod: p, plan: pl, opts: o, state: st, term: &terminal{w: o.Stdout}, termErr: &terminal{w: o.Stderr},
		running: map[string]*os.Process{}, stopping: make(chan struct{}), podReady: make(chan struct{}), pauseReady: make(chan struct{}),
		pauseStarted: make(chan struct{}), idsReady: make(chan struct{}),
		planWarnings: planWarnings}
	fwdCtx, stopForwarding := context.WithCancel(context.Background())
	go s.forwardSignals(fwdCtx)
	code, err := s.run(ctx)
	stopForwarding()
	s.finish(code, err)
	s.opts.Explain("teardown: SIGKILL the pause (the kernel kills what is left in its PID namespace), remove cgroups and state")
	if terr := s.teardown(); terr != nil && err == nil {
		err = terr
		if code == 0 {
			code = ExitSandboxFailed
		}
	}
	return code, err
}

// killStale ends what a dead supervisor left: its pause (which takes every
// container of a shared PID namespace with it) and containers, each only if
// it is still the same process (start time matches), never a recycled PID.
func killStale(rec state.Record, warn func(string)) {
	if rec.Supervisor.Alive() {
		return // cannot happen while we hold the lock; be safe anyway
	}
	procs := []state.Process{rec.Pause}
	for _, c := range rec.Containers {
		procs = append(procs, c.Process)
	}
	killed := 0
	for _, pr := range procs {
		if pr.Alive() {
			if err := unix.Kill(pr.PID, unix.SIGKILL); err == nil {
				killed++
			}
		}
	}
	warn(fmt.Sprintf("cleaned stale state of pod %q left by supervisor pid %d (%d leftover processes killed)", rec.Name, rec.Supervisor.PID, killed))
	removeStaleCgroups(rec, warn)
}

// sandbox is one running pod.
type sandbox struct {
	pod     *pod.Pod
	plan    *plan
	cgroups *podCgroups // cgroups_linux.go
	opts    Options
	state   *state.Pod
	record  state.Record
	term    *terminal
	termErr *terminal

	pause    *exec.Cmd
	pausePID int
	// pausePidfd refers to the pause for setns; one *os.File for the pod's
	// lifetime (a second os.File on the same fd would close it when
	// garbage-collected).
	pausePidfd *os.File
	// pauseKilled is set before the supervisor itself kills the pause.
	pauseKilled atomic.Bool
	pauseDone   chan error
	// pauseSync and pauseWait are the pause's start pipes between
	// startPause and finishPause (nil for a pause nested in the network
	// holder, which is ready when startPause returns). pauseReport reads
	// pauseSync (spawn_linux.go reads the pid line first).
	pauseSync, pauseWait *os.File
	pauseReport          io.Reader
	// pauseStarted is closed once pausePID and pausePidfd are set, or
	// pauseStartErr says why they never will be; spawn is set when the
	// first container's join creates the pause (spawn_linux.go).
	pauseStarted  chan struct{}
	pauseStartErr error
	spawn         *pauseSpawn
	// mapsByJoin: the spawning join writes the id maps (spawn_linux.go).
	mapsByJoin bool
	// holderDied is closed when the network holder of a bridge pod exits
	// while the pod runs (bridge_linux.go, watchHolder).
	holderDied <-chan struct{}
	// pauseReady is closed once the pause is ready, its id maps written and
	// the pod's network attached: a container's init may be started
	// before (its exec and Go runtime start overlap the id mapping), but
	// gets its config only after.
	pauseReady chan struct{}
	// idsReady is closed once the pod's id maps are written (or it has
	// no user namespace): a C init may get its config then.
	idsReady chan struct{}

	mu      sync.Mutex
	running map[string]*os.Process
	// podSetupClaimed is set by the first container start; podReady
	// closes when it has set up the pod.
	podSetupClaimed bool
	podReady        chan struct{}
	stopOnce        sync.Once
	stopping        chan struct{}
	copiers         sync.WaitGroup
	logs            []*os.File
	// planWarnings were reported while planning; the record keeps them.
	planWarnings []string
	// saveFailed is set after the first failure to save the record.
	saveFailed bool
	// manifest receives the pod's JSON for the record (initRecord).
	manifest chan json.RawMessage
	prefixW  int
	hooks    hookState          // hooks_linux.go
	vols     volumes            // volumes_linux.go: Memory emptyDir mounts, pod files
	ports    *portfwd.Forwarder // network_linux.go: hostPorts
	bridge   *bridgeNet         // bridge_linux.go: --network bridge

	// fastSec is the security each started container's init applied, for
	// the fast exec file (fastexec_linux.go); guarded by mu.
	fastSec map[string]fastSecurity
}

// outcome is how one container ended for good.
type outcome struct {
	name string
	code int
	// startFailed: the container never ran its command (126/127/125).
	startFailed bool
	err         error
}

func (s *sandbox) stop() { s.stopOnce.Do(func() { close(s.stopping) }) }

func (s *sandbox) run(ctx context.Context) (int, error) {
	self, err := state.Identify(os.Getpid())
	if err != nil {
		return ExitSandboxFailed, err
	}
	s.initRecord(self)
	for _, dir := range []string{"logs", "containers"} {
		if err := os.Mkdir(s.state.Path(dir), 0o700); err != nil {
			return ExitSandboxFailed, fmt.Errorf("create %s: %w", s.state.Path(dir), err)
		}
	}
	// /dev/shm of every container: one directory, so the pod shares it.
	if err := os.Mkdir(s.state.Path("shm"), 0o700); err != nil {
		return ExitSandboxFailed, fmt.Errorf("create shm: %w", err)
	}
	// os.Chmod takes os.FileMode, where the sticky bit is ModeSticky, not 0o1000.
	if err := os.Chmod(s.state.Path("shm"), 0o777|os.ModeSticky); err != nil {
		return ExitSandboxFailed, fmt.Errorf("create shm: %w", err)
	}
	if err := s.shareStateWithMappedRoot(); err != nil {
		return ExitSandboxFailed, err
	}
	for _, c := range s.allContainers() {
		s.prefixW = max(s.prefixW, len(c.Name))
	}
	if err := s.setupCgroups(); err != nil {
		return ExitSandboxFailed, err
	}
	s.opts.Explain(fmt.Sprintf("state directory %s (locked)", s.state.Dir))
	if err := s.setupNetwork(); err != nil { // network_linux.go: bridge address, hostPort listeners
		return ExitSandboxFailed, err
	}
	defer s.closePausePipes() // also when startPause fails after making them
	if err := s.startPause(); err != nil {
		return ExitSandboxFailed, err
	}
	// The containers that run first start now: their re-execution, setns
	// and Go runtime start overlap newuidmap/newgidmap; each waits for
	// pauseReady before it gets its config.
	early, nEarly := s.startFirstContainers()
	err = s.awaitPause() // spawn_linux.go: the first container's join may be creating it
	if err == nil {
		err = s.finishPause()
	}
	if err == nil {
		err = s.startNetwork() // eth0 on the bridge, hostPort dialler
	}
	if err != nil {
		s.stop()
		for range nEarly {
			<-early
		}
		return ExitSandboxFailed, err
	}
	var ns map[string]uint64
	if s.opts.explaining {
		ns = namespaces(s.pausePID)
		s.opts.Explain("pause ready: PID 1 of the pod" + pauseProgram(s.pausePID) + ", holding " + formatNamespaces(ns))
	}
	holderDied, stopWatch := s.watchHolder() // bridge_linux.go
	defer stopWatch()
	s.holderDied = holderDied
	close(s.pauseReady)
	if ns == nil {
		ns = namespaces(s.pausePID)
	}
	// The pod's first joins have started (a later one executes the
	// binary): the fork server's memory is not held while the pod runs.
	s.opts.Spawner.Close()
	// Recorded once the containers may exec: the record's first save
	// (JSON, a write and a rename) is off their start's critical path.
	s.updatePod(func(r *state.Record) {
		r.Phase = state.PhaseRunning
		r.Namespaces = ns
	})

	// Init containers: one after another, each to success.
	for i := range s.pod.Spec.InitContainers {
		res := early
		if i > 0 || res == nil {
			c := &s.pod.Spec.InitContainers[i]
			res = make(chan outcome, 1)
			go func() { res <- s.supervise(c, true) }()
		}
		if code, err := s.collect(ctx, res, 1); err != nil || code != 0 {
			return code, err
		}
	}
	results := early
	if len(s.pod.Spec.InitContainers) > 0 || results == nil {
		results = s.superviseAll(s.pod.Spec.Containers)
	}
	return s.collect(ctx, results, len(s.pod.Spec.Containers))
}

// startFirstContainers starts supervising the containers that run first —
// the first init container, or every app container of a pod without init
// containers — before the pause is ready, and returns the channel of their
// outcomes and how many there are. Some pods start nothing early: the tmpfs
// descriptors of Memory emptyDir volumes, passed to every container init,
// are made by a helper inside the ready pod; an idmapped image layer (root's
// pod with hostUsers: false) copies the pod's id maps when it is made.
func (s *sandbox) startFirstContainers() (chan outcome, int) {
	if s.needsVolumeHelper() || s.idmapsImages() {
		return nil, 0
	}
	if len(s.pod.Spec.InitContainers) > 0 {
		c := &s.pod.Spec.InitContainers[0]
		res := make(chan outcome, 1)
		go func() { res <- s.supervise(c, true) }()
		return res, 1
	}
	return s.superviseAll(s.pod.Spec.Containers), len(s.pod.Spec.Containers)
}

// superviseAll supervises containers concurrently; their outcomes arrive on
// the returned channel.
func (s *sandbox) superviseAll(containers []pod.Container) chan outcome {
	results := make(chan outcome, len(containers))
	for i := range containers {
		c := &containers[i]
		go func() { results <- s.supervise(c, false) }()
	}
	return results
}

// collect waits for pending containers to end for good and returns the
// first non-zero exit code and the error that ended the pod early, if any.
// It keeps collecting while the pod stops, so it returns only when no
// container process of this phase is left: a start failure (rollback) or a
// cancelled context stops the pod gracefully; the pause's death kills it.
func (s *sandbox) collect(ctx context.Context, results <-chan outcome, pending int) (int, error) {
	first, ctxDone, pauseDone, holderDied := 0, ctx.Done(), s.pauseDone, s.holderDied
	var runErr error
	for pending > 0 {
		select {
		case out := <-results:
			pending--
			if out.code != 0 && first == 0 {
				first = out.code
			}
			if out.err != nil && runErr == nil {
				runErr = out.err // a container that could not start rolls the pod back
				go s.gracefulStop()
			}
		case <-ctxDone:
			ctxDone = nil
			if runErr == nil {
				runErr = ctx.Err()
			}
			go s.gracefulStop()
		case err := <-pauseDone:
			pauseDone, s.pauseDone = nil, nil
			if s.pauseKilled.Load() {
				continue // our own teardown killed it
			}
			first = ExitSandboxDied
			runErr = fmt.Errorf("%w: pause (pid %d) %v; every container was killed with it", ErrSandboxDied, s.pausePID, err)
			s.killAll()
		case <-holderDied:
			// A bridge pod lost its network: its veth went with the
			// holder's network namespace. Stop it rather than leave it
			// running without one.
			holderDied, s.holderDied = nil, nil
			if runErr == nil {
				first = ExitSandboxDied
				runErr = fmt.Errorf("%w: the network holder (pid %d) exited and took the pod's network (eth0) with it; the pod was stopped", ErrSandboxDied, s.bridge.holder.Process.PID)
				go s.gracefulStop()
			}
		}
	}
	// A pause killed from outside takes the containers with it, and the
	// kernel only lets it finish exiting after we reaped them: their exits
	// can arrive first. A pause that is exiting means the pod died.
	if runErr == nil && pauseDone != nil && !s.pauseKilled.Load() && state.Exiting(s.pausePID) {
		err := <-pauseDone
		s.pauseDone = nil
		first = ExitSandboxDied
		runErr = fmt.Errorf("%w: pause (pid %d) %v; every container was killed with it", ErrSandboxDied, s.pausePID, err)
	}
	return first, runErr
}

// shareStateWithMappedRoot lets the container root of a pod with
// hostUsers: false started by root (a subordinate uid on the host) reach its
// directories in the root-owned state: the pod directory becomes
// traversable (0711, not listable) and each container's scratch directory
// belongs to the mapped root. Rootless, container root is the caller and
// owns everything already.
func (s *sandbox) shareStateWithMappedRoot() error {
	if !s.plan.userns || os.Geteuid() != 0 {
		return nil
	}
	uid, gid := int(s.plan.mapping.UIDs[0].HostID), int(s.plan.mapping.GIDs[0].HostID)
	for _, dir := range []string{s.state.Dir, s.state.Path("containers")} {
		if err := os.Chmod(dir, 0o711); err != nil {
			return fmt.Errorf("share state with the pod's root: %w", err)
		}
	}
	for _, c := range s.allContainers() {
		dir := s.state.Path("containers", c.Name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("share %s with the pod's root: %w", dir, err)
		}
	}
	return nil
}

func (s *sandbox) allContainers() []pod.Container {
	return append(append([]pod.Container(nil), s.pod.Spec.InitContainers...), s.pod.Spec.Containers...)
}

// startPause clones the pod's PID 1 with the new namespaces and execs it;
// finishPause writes its id maps and waits until it is ready. The goroutine
// that starts it stays locked to its OS thread until the pause exits,
// because the pause's parent-death signal fires when that *thread* exits
// (golang/go#27505), and Go may retire idle threads of unlocked goroutines.
func (s *sandbox) startPause() error {
	if s.bridge != nil && s.bridge.nested {
		defer close(s.pauseStarted)
		return s.startNestedPause() // bridge_linux.go
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start pause: %w", err)
	}
	waitR, waitW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		syncW.Close()
		return fmt.Errorf("start pause: %w", err)
	}
	s.pauseSync, s.pauseWait, s.pauseReport = syncR, waitW, syncR // closed by closePausePipes
	flags := s.pauseCloneFlags()
	if s.spawnsPause() {
		s.startSpawn(flags, syncW, waitR, waitW) // spawn_linux.go
		return nil
	}
	defer close(s.pauseStarted)
	pidfd := -1
	cmd := &exec.Cmd{
		Path: s.opts.Exe,
		Args: []string{"pause"},
		Env: pauseEnv([]string{
			nsenter.EnvRole + "=" + nsenter.RolePause,
			nsenter.EnvSyncFD + "=3",
			nsenter.EnvWaitFD + "=4",
		}),
		Dir:        "/",
		ExtraFiles: []*os.File{syncW, waitR},
		SysProcAttr: &syscall.SysProcAttr{
			// A session of its own: a Ctrl-C on the terminal signals the
			// foreground process group, and only the supervisor may decide
			// what the pod does with it.
			Setsid:     true,
			Cloneflags: flags,
			Pdeathsig:  syscall.SIGKILL,
			PidFD:      &pidfd,
		},
	}
	started := make(chan error, 1)
	s.pauseDone = make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			s.pauseDone <- err // teardown waits for it
			return
		}
		started <- nil
		s.pauseDone <- describeExit(cmd.Wait())
	}()
	err = <-started
	syncW.Close()
	waitR.Close()
	if err != nil {
		return fmt.Errorf("start pause: %w%s", err, usernsHint(err))
	}
	s.pause, s.pausePID = cmd, cmd.Process.Pid
	if pidfd < 0 {
		return errors.New("start pause: the kernel returned no pidfd (Linux 5.3+ is required)")
	}
	return s.adoptPause(pidfd, fmt.Sprintf("clone(%s) + exec", cloneFlagNames(flags))) // spawn_linux.go
}

// finishPause writes the id maps of the pod's user namespace (only a
// process outside it can, after clone) and waits for the pause's report.
func (s *sandbox) finishPause() error {
	if s.pauseSync == nil {
		close(s.idsReady)
		return nil // nested in the network holder: ready already
	}
	defer s.closePausePipes()
	if s.plan.userns {
		how := "written to /proc/PID/uid_map and gid_map"
		if s.mapsByJoin {
			how = "written to /proc/PID/uid_map and gid_map by the join that cloned the pause"
			if err := s.awaitMapsByJoin(); err != nil {
				return fmt.Errorf("write id maps of the pod's user namespace: %w", err)
			}
		} else if err := idmap.Apply(s.pausePID, s.plan.mapping); err != nil {
			return fmt.Errorf("write id maps of the pod's user namespace: %w", err)
		}
		if !s.plan.mapping.Direct() {
			how = "written by newuidmap/newgidmap"
			if s.mapsByJoin {
				how += ", run by the join that cloned the pause"
			}
		}
		s.opts.Explain(fmt.Sprintf("user namespace id map %s: uid %v, gid %v", how, s.plan.mapping.UIDs, s.plan.mapping.GIDs))
	}
	close(s.idsReady)
	// Maps written: the pause may make itself non-dumpable. (A spawning
	// join has woken it already: this copy is closed.)
	s.pauseWait.Close()
	if _, err := nsenter.ReadReport(s.pauseReport); err != nil {
		return fmt.Errorf("start pause: %w", err)
	}
	return nil
}

// closePausePipes closes what is left of the pause's start pipes.
func (s *sandbox) closePausePipes() {
	for _, f := range []**os.File{&s.pauseSync, &s.pauseWait} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
}

// pauseCloneFlags are the namespaces a pod's pause creates.
func (s *sandbox) pauseCloneFlags() uintptr {
	flags := uintptr(unix.CLONE_NEWIPC | unix.CLONE_NEWPID | unix.CLONE_NEWUTS)
	if !s.plan.hostNetwork {
		flags |= unix.CLONE_NEWNET
	}
	if s.plan.userns {
		flags |= unix.CLONE_NEWUSER
	}
	return flags
}

// usernsHint explains the usual reason clone(CLONE_NEWUSER) is refused.
func usernsHint(err error) string {
	if !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EACCES) {
		return ""
	}
	return " (unprivileged user namespaces may be disabled: check the sysctls user.max_user_namespaces, " +
		"kernel.unprivileged_userns_clone and kernel.apparmor_restrict_unprivileged_userns)"
}

func describeExit(err error) error {
	if err == nil {
		return errors.New("exited with status 0")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("was killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Errorf("exited with status %d", ee.ExitCode())
	}
	return err
}

// supervise runs one container until it ends for good: restarts per
// restartPolicy with kubelet's back-off, stops when the pod stops. It locks
// its OS thread for the container's lifetime: the container's parent-death
// signal is tied to the thread that started it.
func (s *sandbox) supervise(c *pod.Container, isInit bool) outcome {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	policy := s.pod.Spec.RestartPolicy
	if isInit && policy == pod.RestartAlways {
		policy = pod.RestartOnFailure // kubelet: init containers never restart after success
	}
	backoff, restarts := s.opts.BackoffBase, 0
	for {
		began := time.Now()
		proc, err := s.startContainer(c, restarts)
		if err != nil {
			code := ExitSandboxFailed
			var f *containerinit.Failure
			if errors.As(err, &f) {
				code = f.Code
			}
			s.opts.Event(fmt.Sprintf("container %s failed to start: %v", c.Name, err))
			s.updateStatus(c.Name, terminated(code, state.ReasonStartError, err.Error()))
			return outcome{name: c.Name, code: code, startFailed: true, err: fmt.Errorf("container %q: %w", c.Name, err)}
		}
		ps, werr := proc.Wait()
		s.setRunning(c.Name, nil)
		s.reclaimTerminal()
		code := exitCode(ps, werr)
		s.opts.Event(fmt.Sprintf("container %s exited with code %d", c.Name, code))
		s.opts.Explain(fmt.Sprintf("container %s: exited with code %d", c.Name, code))
		s.updateStatus(c.Name, terminated(code, s.terminationReason(c, code), ""))
		select {
		case <-s.stopping:
			return outcome{name: c.Name, code: code}
		default:
		}
		if state.Exiting(s.pausePID) {
			// The pod's sandbox died and took this container with it:
			// nothing to restart into (collect reports the death).
			return outcome{name: c.Name, code: code}
		}
		restart := policy == pod.RestartAlways || (policy == pod.RestartOnFailure && code != 0)
		if !restart {
			return outcome{name: c.Name, code: code}
		}
		if time.Since(began) >= s.opts.BackoffReset {
			backoff = s.opts.BackoffBase
		}
		restarts++
		s.updateStatus(c.Name, waitingBackOff(code))
		s.opts.Event(fmt.Sprintf("container %s: restart %d in %v (restartPolicy %s)", c.Name, restarts, backoff, s.pod.Spec.RestartPolicy))
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-s.stopping:
			timer.Stop()
			return outcome{name: c.Name, code: code}
		}
		backoff = min(backoff*2, s.opts.BackoffMax)
	}
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		_ = err
		return ExitSandboxFailed
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func (s *sandbox) setRunning(name string, p *os.Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p == nil {
		delete(s.running, name)
		return
	}
	s.running[name] = p
}

// startContainer re-executes the binary in the join role: the constructor
// joins the pause's namespaces and clones the container process as our
// child, which then runs containerinit. It returns once the workload was
// exec'd (or with the init's failure).
func (s *sandbox) startContainer(c *pod.Container, restarts int) (*os.Process, error) {
	select {
	case <-s.stopping:
		return nil, errors.New("pod is stopping")
	default:
	}
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			closers = append(closers, r, w)
		}
		return r, w, err
	}
	if s.needsVolumeHelper() {
		// The Memory emptyDir descriptors are passed at exec: make them
		// first (the pod is ready: startFirstContainers started nothing).
		if err := s.prepareVolumes(); err != nil {
			return nil, err
		}
	}
	// The pod's first join creates the pause (spawn_linux.go); the others
	// need its pidfd. A claimed spawn is always handed over, nil when this
	// start fails before its join: the pause goroutine waits for it.
	spawn, handed := restarts == 0 && s.spawn.claim(), false
	if spawn {
		defer func() {
			if !handed {
				s.spawn.cmds <- nil
			}
		}()
	} else if err := s.awaitPause(); err != nil { // spawn_linux.go: once the pod's namespaces all exist
		return nil, err
	}
	pipes, err := nsenter.NewPipes()
	if err != nil {
		return nil, err
	}
	defer pipes.Close()
	nsflags := unix.CLONE_NEWIPC | unix.CLONE_NEWUTS
	if !s.plan.hostNetwork {
		nsflags |= unix.CLONE_NEWNET
	}
	if s.plan.userns {
		nsflags |= unix.CLONE_NEWUSER
	}
	newpid := "0"
	if s.plan.sharedPID {
		nsflags |= unix.CLONE_NEWPID
	} else {
		newpid = "1"
	}
	layers, targets, err := s.idmapLayers(c) // image_linux.go: root's image in a user namespace
	if err != nil {
		return nil, err
	}
	defer func() { // the init has its copies once started
		for _, f := range layers {
			f.Close()
		}
	}()
	// ExtraFiles: 3 sync, 4 pause pidfd, 5 config, 6 error pipe.
	cmd := &exec.Cmd{
		Path: s.opts.Exe,
		Args: []string{"sandbox-init", c.Name},
		Env: []string{
			nsenter.EnvRole + "=" + nsenter.RoleJoin,
			nsenter.EnvSyncFD + "=3",
			nsenter.EnvPidFD + "=4",
			nsenter.EnvNSFlags + "=" + strconv.Itoa(nsflags),
			nsenter.EnvNewPID + "=" + newpid,
			containerinit.EnvConfigFD + "=5",
			containerinit.EnvErrorFD + "=6",
			// The init lives for milliseconds: one P and no GC make the Go
			// runtime start faster. The workload's environment is built
			// from the config, so these do not reach it.
			"GOMAXPROCS=1",
			"GOGC=off",
		},
		Dir:        "/",
		ExtraFiles: append([]*os.File{pipes.SyncW, s.pausePidfd, pipes.ConfigR, pipes.ErrW}, s.volumeFiles()...), // 7+: volumes_linux.go
	}
	if len(layers) > 0 {
		var spec []string
		for i := range layers {
			spec = append(spec, fmt.Sprintf("%d:%s", 3+len(cmd.ExtraFiles)+i, targets[i]))
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, layers...)
		cmd.Env = append(cmd.Env, nsenter.EnvIdmapped+"="+strings.Join(spec, "\n"))
	}
	cinit := s.cinitCandidate(c) // cinit_linux.go: the init in C, no Go runtime
	if cinit {
		cmd.Env = append(cmd.Env, nsenter.EnvCInit+"=1")
	}
	initExplain := s.explainInit(cmd, c.Name, pipe) // --explain only: explain_linux.go
	defer initExplain.forward()
	started, err := s.connectOutput(cmd, c, pipe)
	if err != nil {
		return nil, err
	}
	// The fork server starts only a join whose init runs in C (it has no
	// Go runtime to start): validation leaves no config that the C init
	// refuses, but for a volume helper's (CSupports).
	spawnable := cinit && !s.needsVolumeHelper()
	if spawn {
		handed = true
		err = s.startSpawningJoin(cmd, spawnable) // spawn_linux.go
	} else {
		err = s.startJoin(cmd, spawnable) // spawn_linux.go
	}
	if err != nil {
		return nil, fmt.Errorf("start container init: %w", err)
	}
	initExplain.started(s.opts.Explain)
	pipes.Started()
	// The output and explain pipes now belong to the goroutines that read
	// them until EOF.
	closers = nil
	started()
	// The join that creates the pause clones the container only once the
	// pod's id maps exist (nsenter.c, finish_maps): a C init may have its
	// config at once, made while the join creates the pause, and build the
	// container's filesystem without waiting to hear from us.
	var (
		config      *containerinit.Config
		cfg         []byte
		initKind    string
		configErr   error
		configFirst = spawn && cinit
	)
	if configFirst {
		config, cfg, initKind, configErr = s.initConfig(c, cinit)
		switch {
		case configErr != nil:
		case len(cfg) > configPipeHolds:
			configFirst = false // it would block us until the init reads
		default:
			// Fails only when the join failed before the container
			// existed: Await says why.
			if _, err := pipes.ConfigW.Write(cfg); err != nil {
				configErr = fmt.Errorf("send container config: %w", err)
			}
		}
	}

	// The container process waits for its config: until it is sent, the
	// process is in the pod's namespaces but has run nothing of its own,
	// which is when it is placed in its cgroup.
	rep, err := pipes.Await(cmd)
	if err != nil {
		return nil, fmt.Errorf("join pod namespaces: %w", err)
	}
	abort := func(err error) (*os.Process, error) {
		nsenter.KillChild(rep.PID)
		return nil, err
	}
	if configErr != nil {
		return abort(configErr)
	}
	// The Go init gets its config once the pod is ready. The C init gets it
	// as soon as the pod's id maps exist (or has it already): it builds the
	// filesystem while the pause finishes starting (and a bridge pod's eth0
	// is attached), and execs only when the pipe closes (below).
	if !configFirst {
		ready := s.pauseReady
		if cinit {
			ready = s.idsReady
		}
		select {
		case <-ready:
		case <-s.stopping:
			return abort(errors.New("pod is stopping"))
		}
		if config == nil {
			if config, cfg, initKind, err = s.initConfig(c, cinit); err != nil {
				return abort(err)
			}
		}
	}
	if configFirst {
		// The pause's and the id map's lines first: this init had its
		// config before the pause goroutine and finishPause said them
		// (it was cloned after both). Any other start waited for them.
		if err := s.awaitPause(); err != nil {
			return abort(err)
		}
		select {
		case <-s.idsReady:
		case <-s.stopping:
			return abort(errors.New("pod is stopping"))
		}
	}
	s.opts.Explain(fmt.Sprintf("container %s: setns(pidfd of pause, %s), clone(CLONE_PARENT): pid %d; unshare(CLONE_NEWNS)", c.Name, cloneFlagNames(uintptr(nsflags)), rep.PID))
	s.opts.Explain(fmt.Sprintf("container %s: %s", c.Name, initKind))
	initExplain.forward()
	// In its cgroup before it runs anything of the workload's: it execs
	// only at EOF on its config pipe.
	if err := s.placeContainer(c, rep.PID); err != nil {
		return abort(err)
	}
	s.explainCgroup("container "+c.Name, c.Name, rep.PID)
	if !configFirst {
		if _, err := pipes.ConfigW.Write(cfg); err != nil {
			return abort(fmt.Errorf("send container config: %w", err))
		}
	}
	select { // EOF lets the C init exec the workload
	case <-s.pauseReady:
	case <-s.stopping:
		return abort(errors.New("pod is stopping"))
	}
	pipes.ConfigW.Close()
	proc, err := os.FindProcess(rep.PID)
	if err != nil {
		return abort(fmt.Errorf("container process %d: %w", rep.PID, err))
	}
	s.setRunning(c.Name, proc)
	select {
	case <-s.stopping:
		// The pod began stopping while we started: gracefulStop may have
		// signalled the running set before we joined it.
		proc.Signal(unix.SIGKILL)
	default:
	}
	id, err := state.Identify(rep.PID)
	if err != nil {
		id = state.Process{PID: rep.PID}
	}
	fsec := fastSecurityOf(config.Security)
	s.updateStatus(c.Name, func(cs *state.ContainerStatus) {
		if s.fastSec == nil {
			s.fastSec = map[string]fastSecurity{}
		}
		s.fastSec[c.Name] = fsec
		running(id, restarts)(cs)
	})
	// The error pipe closes on exec; anything written is a start failure.
	failure, err := io.ReadAll(io.LimitReader(pipes.ErrR, 1<<20))
	if err != nil {
		proc.Kill()
		proc.Wait()
		s.setRunning(c.Name, nil)
		return nil, fmt.Errorf("read container start status: %w", err)
	}
	if len(failure) > 0 {
		proc.Wait()
		s.setRunning(c.Name, nil)
		return nil, parseFailure(failure)
	}
	if config.Pod != nil {
		close(s.podReady) // hostname and lo are set: the others may start
	}
	s.opts.Event(fmt.Sprintf("container %s started (pid %d, restarts %d)", c.Name, rep.PID, restarts))
	// Read once it exec'd: before, the init is non-dumpable and its
	// /proc/PID/ns may not be readable.
	ns := namespaces(rep.PID)
	s.updateStatus(c.Name, func(cs *state.ContainerStatus) { cs.Namespaces = ns })
	initExplain.wait()
	if s.opts.explaining {
		s.opts.Explain(fmt.Sprintf("container %s: exec %q: namespaces %s", c.Name, cfgArgv0(c), formatNamespaces(ns)))
	}
	s.afterStart(c, proc) // postStart hook; readiness
	return proc, nil
}

// initConfig makes container c's init config and its encoding (see
// encodeConfig); the pod's first container to get here does the pod setup.
func (s *sandbox) initConfig(c *pod.Container, cinit bool) (*containerinit.Config, []byte, string, error) {
	setup, err := s.claimPodSetup()
	if err != nil {
		return nil, nil, "", err
	}
	config, err := s.containerConfig(c, setup)
	if err != nil {
		return nil, nil, "", err
	}
	cfg, initKind, err := encodeConfig(config, cinit)
	if err != nil {
		return nil, nil, "", err
	}
	return config, cfg, initKind, nil
}

// configPipeHolds is what a config pipe takes without a reader: Linux's
// default pipe capacity, 16 pages (pipe(7)).
const configPipeHolds = 16 * 4096

// claimPodSetup makes the first container start of the pod do the pod-wide
// setup (hostname, lo) and holds every other start until it has: no
// workload may run before the pod's hostname and loopback are in place.
func (s *sandbox) claimPodSetup() (*containerinit.PodSetup, error) {
	s.mu.Lock()
	if !s.podSetupClaimed {
		s.podSetupClaimed = true
		s.mu.Unlock()
		return &containerinit.PodSetup{Hostname: s.pod.PodHostname(), HostNetwork: s.plan.hostNetwork}, nil
	}
	s.mu.Unlock()
	select {
	case <-s.podReady:
		return nil, nil
	case <-s.stopping:
		return nil, errors.New("pod is stopping")
	}
}
