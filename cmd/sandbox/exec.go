package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/cgroup"
	"github.com/podsandbox/sandbox/execin"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

type execFlags struct {
	container string
	stdin     bool
	tty       bool
	explain   bool
}

func newExecCommand(g *globalFlags) *cobra.Command {
	var f execFlags
	cmd := &cobra.Command{
		Use:   "exec [-c CONTAINER] [-i] [-t] POD -- CMD [ARG...]",
		Short: "Run a command inside a running container",
		Long: `Run a command inside a running container of POD: in all of its namespaces,
its mount namespace included (so it sees the container's filesystem), as
its user with its capabilities, with its environment and working directory.
The default container is the pod's first (non-init) container.

-i passes standard input; -t allocates a pseudo-terminal inside the
container (raw mode on this side, window size followed, Ctrl-C delivered to
the command). The exit code is the command's; 125 when sandbox could not
run it, 126 when it cannot be executed, 127 when it is not found.`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Flags stop at POD (SetInterspersed(false)), so a "--" after it
			// arrives as an argument.
			argv := args[1:]
			if argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return sandboxErr("usage: sandbox exec [flags] POD -- CMD [ARG...]")
			}
			return runExec(&f, args[0], argv)
		},
	}
	cmd.Flags().SetInterspersed(false) // flags after POD belong to CMD
	cmd.Flags().StringVarP(&f.container, "container", "c", "", "container to run in (default: the pod's first container)")
	cmd.Flags().BoolVarP(&f.stdin, "stdin", "i", false, "pass standard input to the command")
	cmd.Flags().BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-terminal inside the container")
	cmd.Flags().BoolVar(&f.explain, "explain", false, "narrate how the command is started (C or Go, credentials, execve) on stderr")
	cmd.RegisterFlagCompletionFunc("container", completeContainers)
	return cmd
}

// target finds the container to exec in and opens a pidfd on its process,
// checked to be the recorded process (PID and start time) after it was
// opened, so a recycled PID is never joined.
func target(rec state.Record, name string) (*state.ContainerStatus, *os.File, error) {
	if name == "" {
		for i := range rec.Containers {
			if !rec.Containers[i].Init {
				name = rec.Containers[i].Name
				break
			}
		}
	}
	cs := rec.Container(name)
	if cs == nil {
		return nil, nil, sandboxErr("pod %s has no container %q", rec.Name, name)
	}
	if rec.Ended() {
		return nil, nil, sandboxErr("pod %s is not running (%s%s)", rec.Name, rec.Phase, paren(rec.Reason))
	}
	if cs.State != state.StateRunning || cs.Process.PID <= 0 {
		return nil, nil, sandboxErr("container %s of pod %s is not running (%s%s)", cs.Name, rec.Name, cs.State, paren(cs.Reason))
	}
	fd, err := unix.PidfdOpen(cs.Process.PID, 0)
	if err == nil && !cs.Process.Alive() {
		unix.Close(fd)
		err = unix.ESRCH
	}
	if err != nil {
		return nil, nil, sandboxErr("container %s of pod %s is not running (its process %d is gone)", cs.Name, rec.Name, cs.Process.PID)
	}
	return cs, os.NewFile(uintptr(fd), "container-pidfd"), nil
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func runExec(f *execFlags, podName string, argv []string) error {
	base, err := stateBase()
	if err != nil {
		return err
	}
	rec, err := readPod(base, podName)
	if err != nil {
		return err
	}
	cs, pidfd, err := target(rec, f.container)
	if err != nil {
		return err
	}
	defer pidfd.Close()
	pid := cs.Process.PID
	env, err := execin.EnvironOf(pid)
	if err != nil {
		return sandboxErr("container %s: %v", cs.Name, err)
	}
	id, err := execin.IdentityOf(pid)
	if err != nil {
		return sandboxErr("container %s: %v", cs.Name, err)
	}
	spec := execin.Spec{Argv: argv, Env: env, Dir: workingDir(rec, cs.Name), TTY: f.tty, Identity: id, Explain: explainer(&runFlags{explain: f.explain})}
	if dirs := rec.Cgroups; len(dirs) > 0 {
		// The command joins its container's cgroup, as the container's
		// own processes are: its limits apply to it.
		spec.Place = func(pid int) error { return cgroup.JoinLeaf(dirs, cs.Name, pid) }
	}
	stdinTerm := isTerminal(os.Stdin)
	if f.tty && stdinTerm {
		if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
			spec.Rows, spec.Cols = ws.Row, ws.Col
		}
	}
	stdio := execin.Stdio{Stdout: os.Stdout, Stderr: os.Stderr}
	if f.stdin {
		stdio.Stdin = os.Stdin
	}
	// Signals that arrive while the command runs go to it.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)
	defer signal.Stop(sigs)

	proc, err := execin.Start(pidfd, pid, "", spec, stdio)
	if err != nil {
		var fail *execin.Failure
		if errors.As(err, &fail) {
			return &exitError{code: fail.Code, err: errors.New(fail.Message)}
		}
		return sandboxErr("exec in container %s of pod %s: %v", cs.Name, rec.Name, err)
	}
	var restore func()
	if proc.Console != nil {
		if f.stdin && stdinTerm {
			restore, err = makeRaw(int(os.Stdin.Fd()))
			if err != nil {
				proc.Signal(unix.SIGKILL)
				proc.Wait()
				return sandboxErr("terminal raw mode: %v", err)
			}
		}
		go func() {
			if f.stdin {
				io.Copy(proc.Console, os.Stdin)
			}
		}()
	}
	outDone := make(chan struct{})
	if proc.Console != nil {
		go func() {
			defer close(outDone)
			io.Copy(os.Stdout, proc.Console) // ends with EIO when the terminal is gone
		}()
	} else {
		close(outDone)
	}
	exited := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGWINCH {
					if proc.Console != nil && stdinTerm {
						if ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ); err == nil {
							unix.IoctlSetWinsize(int(proc.Console.Fd()), unix.TIOCSWINSZ, ws)
						}
					}
					continue
				}
				proc.Signal(s) // our child until Wait returns
			case <-exited:
				return
			}
		}
	}()
	code, werr := proc.Wait()
	close(exited)
	if proc.Console != nil {
		// Output still buffered in the terminal arrives quickly; a
		// background process that keeps the terminal open must not hold us.
		select {
		case <-outDone:
		case <-time.After(200 * time.Millisecond):
			proc.Console.SetReadDeadline(time.Now())
			<-outDone
		}
		proc.Console.Close()
	}
	if restore != nil {
		restore()
	}
	if werr != nil {
		return sandboxErr("%v", werr)
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// workingDir is the container's workingDir from the recorded manifest.
func workingDir(rec state.Record, name string) string {
	var p pod.Pod
	if err := json.Unmarshal(rec.Manifest, &p); err != nil {
		return ""
	}
	for _, c := range append(append([]pod.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
		if c.Name == name {
			return c.WorkingDir
		}
	}
	return ""
}

// makeRaw puts the terminal in raw mode (cfmakeraw) and returns the
// function that restores it.
func makeRaw(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("set raw mode: %w", err)
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
