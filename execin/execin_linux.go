// Package execin runs a command inside a running container: `sandbox exec`
// and the postStart/preStop exec hooks. The host side (Start) re-executes
// the sandbox binary in nsenter's "exec" role, whose constructor joins the
// container process's namespaces through its pidfd, the container's mount
// namespace included, and clones the child that runs ChildMain inside the
// container: it allocates a pseudo-terminal there when asked (so the pty
// belongs to the container's devpts, as with runc's console socket), takes
// the container process's identity (uids, groups, capabilities,
// no_new_privs), and execs the command. A command without a terminal does
// not start the Go runtime inside the container: the exec role's child runs
// it from C (nsenter/cinit.c, sandbox_cexec, the C container init's code)
// with the same steps, messages and exit codes, fed by
// containerinit.EncodeCExec's records; ChildMain runs only for a terminal,
// or when the records could not be encoded ('G').
//
// The package never imports the supervisor: it is given a PID whose
// identity the caller has verified (its own child, or a recorded PID whose
// start time matched after the pidfd was opened).
package execin

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/nsenter"
)

// Environment variables naming the descriptors the child reads.
const (
	EnvConfigFD  = "_SANDBOX_EXEC_CONFIG_FD"
	EnvErrorFD   = "_SANDBOX_EXEC_ERROR_FD"
	EnvConsoleFD = "_SANDBOX_EXEC_CONSOLE_FD"
	// EnvExplainFD is where the C child (nsenter/cinit.c, sandbox_cexec)
	// writes --explain lines.
	EnvExplainFD = "_SANDBOX_EXEC_EXPLAIN_FD"
)

// Narrated through Spec.Explain, and matched by the e2e tests.
const (
	ExplainC  = "exec in C (nsenter/cinit.c): no Go runtime starts in the container"
	ExplainGo = "exec in Go (package execin)"
)

// Exit codes of a command that could not be started (podman's convention,
// as for containers).
const (
	ExitSetupFailed   = containerinit.ExitSetupFailed
	ExitCannotExecute = containerinit.ExitCannotExecute
	ExitNotFound      = containerinit.ExitNotFound
)

// ErrNotRunning is returned when the target process is gone.
var ErrNotRunning = errors.New("container is not running")

// Spec is the command to run and how.
type Spec struct {
	Argv []string `json:"argv"`
	// Env is the command's whole environment.
	Env []string `json:"env"`
	// Dir is the working directory inside the container; "" is "/".
	Dir string `json:"dir,omitempty"`
	// TTY allocates a pseudo-terminal inside the container; its master
	// comes back as Process.Console.
	TTY bool `json:"tty,omitempty"`
	// Rows and Cols are the terminal's initial size (TTY only).
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// Identity is what the command runs as; nil keeps the namespace's root
	// with every capability.
	Identity *Identity `json:"identity,omitempty"`
	// Explain, when set, gets --explain lines: which code runs the command
	// (ExplainC or ExplainGo), and the C child's own steps.
	Explain func(string) `json:"-"`
	// Place, when set, puts the joined process (its PID) in the
	// container's cgroup before it runs anything of the command's; an
	// error fails the start.
	Place func(pid int) error `json:"-"`
}

// Stdio are the command's standard streams when it has no terminal; nil
// is /dev/null. They are passed as they are (no copying), so an *os.File
// that is a pipe reaches EOF only when the command and its children close it.
type Stdio struct {
	Stdin, Stdout, Stderr *os.File
}

// Failure is what the child reports when it cannot start the command.
type Failure = containerinit.Failure

// Process is a started command.
type Process struct {
	// PID is the command's PID in the caller's PID namespace. The process
	// is the caller's child until Wait reaps it, so signalling it by PID
	// before then cannot reach a recycled PID.
	PID int
	// Console is the pseudo-terminal master (Spec.TTY only), non-blocking
	// so that read deadlines work.
	Console *os.File
	proc    *os.Process
}

// Signal sends sig to the command (before Wait returned).
func (p *Process) Signal(sig os.Signal) error { return p.proc.Signal(sig) }

// Wait waits for the command and returns its exit code, 128+N for a
// signal.
func (p *Process) Wait() (int, error) {
	ps, err := p.proc.Wait()
	if err != nil {
		return ExitSetupFailed, fmt.Errorf("wait for exec'd process %d: %w", p.PID, err)
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}

// Start runs spec inside the namespaces of the process pidfd refers to.
// pid is that process's PID in the caller's namespace (to compare
// namespaces). exe is the sandbox binary ("" is /proc/self/exe).
func Start(pidfd *os.File, pid int, exe string, spec Spec, stdio Stdio) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("exec: no command")
	}
	if exe == "" {
		exe = "/proc/self/exe"
	}
	nsflags, err := differingNamespaces(pid)
	if err != nil {
		return nil, err
	}
	pipes, err := nsenter.NewPipes()
	if err != nil {
		return nil, err
	}
	defer pipes.Close()
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	// ExtraFiles: 3 sync, 4 pidfd, 5 config, 6 error pipe, 7 console socket.
	extra := []*os.File{pipes.SyncW, pidfd, pipes.ConfigR, pipes.ErrW}
	env := []string{
		nsenter.EnvRole + "=" + nsenter.RoleExec,
		nsenter.EnvSyncFD + "=3",
		nsenter.EnvPidFD + "=4",
		nsenter.EnvNSFlags + "=" + strconv.Itoa(nsflags),
		EnvConfigFD + "=5",
		EnvErrorFD + "=6",
	}
	// A command without a terminal runs from C in the exec role's child
	// (nsenter/cinit.c, sandbox_cexec): no Go runtime starts inside the
	// container. The config is encoded while the helper starts; should
	// that fail, the C child gets 'G' and returns to the Go code.
	cexec := !spec.TTY
	var explainR, explainW *os.File
	if cexec {
		env = append(env, nsenter.EnvCInit+"=1")
		if spec.Explain != nil {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, fmt.Errorf("exec: explain pipe: %w", err)
			}
			explainR, explainW = r, w
			closers = append(closers, r, w)
			env = append(env, EnvExplainFD+"="+strconv.Itoa(3+len(extra)))
			extra = append(extra, w)
		}
	}
	var consoleHost *os.File
	if spec.TTY {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("exec: console socket: %w", err)
		}
		consoleHost = os.NewFile(uintptr(fds[0]), "console-host")
		consoleChild := os.NewFile(uintptr(fds[1]), "console-child")
		closers = append(closers, consoleHost, consoleChild)
		extra = append(extra, consoleChild)
		env = append(env, EnvConsoleFD+"=7")
		stdio = Stdio{} // the child's 0-2 become the terminal
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       []string{"sandbox-exec"},
		Env:        env,
		Dir:        "/",
		ExtraFiles: extra,
	}
	// Only *os.File values: os/exec would otherwise copy through pipes and
	// its Wait would wait for the command, not for the short-lived helper.
	if stdio.Stdin != nil {
		cmd.Stdin = stdio.Stdin
	}
	if stdio.Stdout != nil {
		cmd.Stdout = stdio.Stdout
	}
	if stdio.Stderr != nil {
		cmd.Stderr = stdio.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec: start helper: %w", err)
	}
	pipes.Started()
	if explainW != nil {
		explainW.Close() // the child's copy closes on exec: EOF
	}
	cfg, cerr := encodeConfig(&spec, cexec)
	rep, err := pipes.Await(cmd)
	if err != nil {
		if pidGone(pidfd) {
			return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
		}
		return nil, fmt.Errorf("join the container: %w", err)
	}
	abort := func(err error) (*Process, error) {
		nsenter.KillChild(rep.PID)
		return nil, err
	}
	proc, err := os.FindProcess(rep.PID)
	if err != nil {
		return abort(fmt.Errorf("exec'd process %d: %w", rep.PID, err))
	}
	if cerr != nil {
		return abort(cerr)
	}
	if spec.Place != nil {
		if err := spec.Place(rep.PID); err != nil {
			return abort(fmt.Errorf("exec: %w", err))
		}
	}
	if spec.Explain != nil && (!cexec || cfg[0] == containerinit.CModeGo) {
		spec.Explain(ExplainGo)
	}
	if _, err := pipes.ConfigW.Write(cfg); err != nil {
		return abort(fmt.Errorf("send exec config: %w", err))
	}
	pipes.ConfigW.Close()
	p := &Process{PID: rep.PID, proc: proc}
	if spec.TTY {
		// The child closes its end when it execs or fails: no hang.
		consoleChildClose(closers)
		master, err := recvFD(consoleHost)
		if err != nil {
			if ferr := readFailure(pipes.ErrR); ferr != nil {
				p.Wait()
				return nil, ferr
			}
			p.Wait()
			return nil, fmt.Errorf("exec: receive the terminal: %w", err)
		}
		p.Console = master
	}
	ferr := readFailure(pipes.ErrR)
	if explainR != nil {
		// Closed on exec, like the error pipe.
		sc := bufio.NewScanner(io.LimitReader(explainR, 1<<20))
		for sc.Scan() {
			spec.Explain(sc.Text())
		}
	}
	if ferr != nil {
		if p.Console != nil {
			p.Console.Close()
		}
		p.Wait()
		return nil, ferr
	}
	return p, nil
}

// encodeConfig is what the child reads on its config pipe: for the C
// child (cexec), the C records (containerinit.EncodeCExec) or, should
// they fail, 'G' and the JSON Spec for the Go code; otherwise the JSON.
func encodeConfig(spec *Spec, cexec bool) ([]byte, error) {
	if cexec {
		if data, err := encodeC(spec); err == nil {
			return data, nil
		}
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode exec config: %w", err)
	}
	if cexec {
		data = append([]byte{containerinit.CModeGo}, data...)
	}
	return data, nil
}

// encodeC encodes spec for the C child, with the seccomp program the Go
// child would load (the default profile for the bounding set's
// capabilities).
func encodeC(spec *Spec) ([]byte, error) {
	var cid *containerinit.CIdentity
	var prog []byte
	if id := spec.Identity; id != nil {
		cid = &containerinit.CIdentity{
			UID: id.UID, GID: id.GID, Groups: id.Groups,
			Bounding: id.Bounding, Permitted: id.Permitted, Effective: id.Effective,
			Inheritable: id.Inheritable, Ambient: id.Ambient, NoNewPrivs: id.NoNewPrivs,
		}
		if id.Seccomp {
			var err error
			if prog, err = SeccompProgram(id.Bounding); err != nil {
				return nil, err
			}
		}
	}
	return containerinit.EncodeCExec(spec.Argv, spec.Env, spec.Dir, cid, prog)
}

// SeccompProgram is the seccomp program an exec'd command gets when the
// container process it joins runs under a filter: sandbox's default profile
// for that process's bounding set (the C records' 'F'). The supervisor
// writes the same program into the pod's fast exec file (nsenter/fastexec.c)
// for the bounding set it gave the container.
func SeccompProgram(bounding uint64) ([]byte, error) {
	return containerinit.SeccompProgram(capabilityNames(bounding))
}

// consoleChildClose closes our copy of the child's console socket end, so
// that a child that dies before sending gives EOF.
func consoleChildClose(files []*os.File) {
	for _, f := range files {
		if f.Name() == "console-child" {
			f.Close()
		}
	}
}

// readFailure reads the error pipe to EOF (it closes on exec): anything
// written is the child's start failure.
func readFailure(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("exec: read start status: %w", err)
	}
	if len(data) == 0 {
		return nil
	}
	var f Failure
	if err := json.Unmarshal(data, &f); err != nil || f.Code == 0 {
		return &Failure{Code: ExitSetupFailed, Message: "exec: " + string(data)}
	}
	return &f
}

func recvFD(sock *os.File) (*os.File, error) {
	buf := make([]byte, 16)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, errors.New("no descriptor received")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("bad descriptor message")
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// pidGone reports whether the process behind pidfd has exited.
func pidGone(pidfd *os.File) bool {
	err := unix.PidfdSendSignal(int(pidfd.Fd()), 0, nil, 0)
	return errors.Is(err, unix.ESRCH)
}

// namespaceFlags are the namespaces exec joins when they differ from the
// caller's. setns into one's own user namespace is EINVAL, and joining an
// identical namespace is pointless.
var namespaceFlags = []struct {
	name string
	flag int
}{
	{"user", unix.CLONE_NEWUSER},
	{"mnt", unix.CLONE_NEWNS},
	{"net", unix.CLONE_NEWNET},
	{"ipc", unix.CLONE_NEWIPC},
	{"uts", unix.CLONE_NEWUTS},
	{"pid", unix.CLONE_NEWPID},
	{"cgroup", unix.CLONE_NEWCGROUP},
}

func differingNamespaces(pid int) (int, error) {
	flags := 0
	for _, ns := range namespaceFlags {
		var mine, theirs unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+ns.name, &mine); err != nil {
			continue // namespace type not supported by the kernel
		}
		if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/"+ns.name, &theirs); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
				return 0, fmt.Errorf("%w: pid %d", ErrNotRunning, pid)
			}
			return 0, fmt.Errorf("read namespaces of pid %d: %w", pid, err)
		}
		if mine.Ino != theirs.Ino || mine.Dev != theirs.Dev {
			flags |= ns.flag
		}
	}
	return flags, nil
}
