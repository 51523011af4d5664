package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/execin"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

// hookState tracks which app containers have started once, for
// Options.Ready. The zero value is ready to use.
type hookState struct {
	mu        sync.Mutex
	started   map[string]bool
	readyOnce sync.Once
}

// afterStart runs once container c's workload was exec'd: its postStart
// hook (kubelet: the container is not started until the hook returned; a
// failing hook kills the container, which then restarts per
// restartPolicy), then the readiness report once every app container has
// started.
func (s *sandbox) afterStart(c *pod.Container, proc *os.Process) {
	if h := postStartOf(c); h != nil {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := s.runHook(ctx, c, proc.Pid, h)
		cancel()
		if err != nil {
			s.opts.Warn(fmt.Sprintf("container %s: postStart hook failed: %v: killing the container", c.Name, err))
			proc.Signal(unix.SIGKILL)
		} else {
			s.opts.Event(fmt.Sprintf("container %s: postStart hook done", c.Name))
		}
	}
	if s.isInit(c.Name) {
		return
	}
	s.hooks.mu.Lock()
	if s.hooks.started == nil {
		s.hooks.started = map[string]bool{}
	}
	s.hooks.started[c.Name] = true
	all := len(s.hooks.started) == len(s.pod.Spec.Containers)
	s.hooks.mu.Unlock()
	if all && s.opts.Ready != nil {
		s.hooks.readyOnce.Do(s.opts.Ready)
	}
}

func (s *sandbox) isInit(name string) bool {
	for _, c := range s.pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

func postStartOf(c *pod.Container) *pod.LifecycleHandler {
	if c.Lifecycle == nil {
		return nil
	}
	return c.Lifecycle.PostStart
}

func preStopOf(c *pod.Container) *pod.LifecycleHandler {
	if c.Lifecycle == nil {
		return nil
	}
	return c.Lifecycle.PreStop
}

// gracePeriod is the stop's grace period: Options.GracePeriod's override
// (`sandbox stop -t`) or the manifest's.
func (s *sandbox) gracePeriod() time.Duration {
	if s.opts.GracePeriod != nil {
		if d, ok := s.opts.GracePeriod(); ok {
			return d
		}
	}
	return s.pod.GracePeriod()
}

// terminateRunning starts the graceful stop of every running container:
// its preStop hook first, if it has one (bounded by the grace period's
// deadline, as in kubelet), then SIGTERM. It does not wait: gracefulStop
// waits for the containers to exit.
func (s *sandbox) terminateRunning(deadline time.Time) {
	s.mu.Lock()
	running := make(map[string]*os.Process, len(s.running))
	for name, p := range s.running {
		running[name] = p
	}
	s.mu.Unlock()
	for name, p := range running {
		c := s.containerNamed(name)
		h := (*pod.LifecycleHandler)(nil)
		if c != nil {
			h = preStopOf(c)
		}
		if h == nil {
			p.Signal(unix.SIGTERM)
			continue
		}
		go func() {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			if err := s.runHook(ctx, c, p.Pid, h); err != nil {
				s.opts.Warn(fmt.Sprintf("container %s: preStop hook failed: %v", name, err))
			} else {
				s.opts.Event(fmt.Sprintf("container %s: preStop hook done", name))
			}
			p.Signal(unix.SIGTERM)
		}()
	}
}

func (s *sandbox) containerNamed(name string) *pod.Container {
	for i := range s.pod.Spec.Containers {
		if s.pod.Spec.Containers[i].Name == name {
			return &s.pod.Spec.Containers[i]
		}
	}
	for i := range s.pod.Spec.InitContainers {
		if s.pod.Spec.InitContainers[i].Name == name {
			return &s.pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// hookOutputMax bounds how much of a hook's output a failure reports.
const hookOutputMax = 2 << 10

// runHook runs handler h of container c, whose process is pid (our child,
// not yet reaped: checked against the recorded start time after the pidfd
// is open, so a recycled PID is never joined). An exec hook runs like
// `sandbox exec`: in every namespace of the container, as its user, with
// its environment and working directory. It is killed when ctx ends.
func (s *sandbox) runHook(ctx context.Context, c *pod.Container, pid int, h *pod.LifecycleHandler) error {
	if h.Sleep != nil {
		t := time.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("sleep %ds: %w", h.Sleep.Seconds, context.Cause(ctx))
		}
	}
	if h.Exec == nil {
		return errors.New("no handler")
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("%w: %v", execin.ErrNotRunning, err)
	}
	pidfdFile := os.NewFile(uintptr(pidfd), "container-pidfd")
	defer pidfdFile.Close()
	var want state.Process
	s.mu.Lock()
	if cs := s.record.Container(c.Name); cs != nil {
		want = cs.Process
	}
	s.mu.Unlock()
	if want.PID == pid && !want.Alive() {
		return fmt.Errorf("%w: pid %d", execin.ErrNotRunning, pid)
	}
	env, err := execin.EnvironOf(pid)
	if err != nil {
		return err
	}
	id, err := execin.IdentityOf(pid)
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer outR.Close()
	spec := execin.Spec{Argv: h.Exec.Command, Env: env, Dir: c.WorkingDir, Identity: id,
		// In the container's cgroup, as its own processes are.
		Place: func(pid int) error { return s.placeInCgroup(c.Name, pid) }}
	proc, err := execin.Start(pidfdFile, pid, s.opts.Exe, spec, execin.Stdio{Stdout: outW, Stderr: outW})
	outW.Close()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := outR.Read(buf)
			if out.Len() < hookOutputMax {
				out.Write(buf[:min(n, hookOutputMax-out.Len())])
			}
			if err != nil {
				return
			}
		}
	}()
	waited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			proc.Signal(unix.SIGKILL) // our child until Wait returns
		case <-waited:
		}
	}()
	code, err := proc.Wait()
	close(waited)
	// A hook that left a background process holding its output must not
	// hold us: take what arrived.
	select {
	case <-copied:
	case <-time.After(100 * time.Millisecond):
		outR.SetReadDeadline(time.Now())
		<-copied
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%v: killed: %w", h.Exec.Command, context.Cause(ctx))
	}
	if code != 0 {
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("%v exited with code %d%s", h.Exec.Command, code, msg)
	}
	return nil
}
