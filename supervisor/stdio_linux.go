package supervisor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/crilog"
	"github.com/podsandbox/sandbox/pod"
)

// Stdio connects the containers directly to the caller's files: the ad-hoc
// `sandbox run -- CMD` mode, where output must reach the caller untouched
// (no prefix, no log file) and a terminal must work as for any command the
// shell starts.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
	// Terminal is set when Stdin is the caller's terminal: the container gets
	// a process group of its own that becomes the terminal's foreground
	// group, so Ctrl-C, Ctrl-Z and reads reach it directly, as job control
	// in a shell does.
	Terminal bool
}

// startedOutput finishes the output plumbing once the process started.
type startedOutput func()

// connectOutput sets up the stdio of a container's process: pipes to the
// terminal and the CRI log (pods), or the caller's own files (Stdio).
func (s *sandbox) connectOutput(cmd *exec.Cmd, c *pod.Container, pipe func() (*os.File, *os.File, error)) (startedOutput, error) {
	if st := s.opts.Stdio; st != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = st.Stdin, st.Stdout, st.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if st.Terminal {
			// Ctty is the child's fd: stdin.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: true, Ctty: 0}
		}
		return func() {}, nil
	}
	outR, outW, err := pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	log, err := os.OpenFile(s.state.Path("logs", c.Name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	s.mu.Lock()
	s.logs = append(s.logs, log)
	s.mu.Unlock()
	cmd.Stdout, cmd.Stderr = outW, errW
	// A session of its own, as for the pause: terminal signals reach only
	// the supervisor, which stops containers with SIGTERM and a grace period.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	prefix := ""
	if len(s.allContainers()) > 1 {
		prefix = fmt.Sprintf("%-*s | ", s.prefixW, c.Name)
	}
	return func() {
		// Our copies of the write ends must go, or EOF never comes; the
		// read ends belong to the copiers, which close them at EOF.
		outW.Close()
		errW.Close()
		cri := crilog.NewWriter(log)
		s.copiers.Add(2)
		go func() {
			defer s.copiers.Done()
			defer outR.Close()
			copyLines(outR, crilog.Stdout, prefix, s.term, cri)
		}()
		go func() {
			defer s.copiers.Done()
			defer errR.Close()
			copyLines(errR, crilog.Stderr, prefix, s.termErr, cri)
		}()
	}, nil
}

// reclaimTerminal makes the supervisor's process group the terminal's
// foreground group again once a container that had it has exited, as a
// shell does when a job ends. SIGTTOU is ignored meanwhile: a background
// process that changes the foreground group would otherwise be stopped.
func (s *sandbox) reclaimTerminal() {
	st := s.opts.Stdio
	if st == nil || !st.Terminal {
		return
	}
	signal.Ignore(unix.SIGTTOU)
	defer signal.Reset(unix.SIGTTOU)
	unix.IoctlSetPointerInt(int(st.Stdin.Fd()), unix.TIOCSPGRP, unix.Getpgrp())
}

// forwardSignals passes every signal from Options.Forward on to the running
// containers until ctx ends.
func (s *sandbox) forwardSignals(ctx context.Context) {
	if s.opts.Forward == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-s.opts.Forward:
			s.mu.Lock()
			for _, p := range s.running {
				p.Signal(sig)
			}
			s.mu.Unlock()
		}
	}
}
