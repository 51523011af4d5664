package execin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/pod"
)

// ChildMain runs in the process the exec role left inside the container
// (before any of the container's code): it sets up the terminal and the
// identity and execs the command. It never returns.
func ChildMain() {
	// Capabilities, the bounding set and securebits are per thread: do
	// everything, up to execve, on this one.
	runtime.LockOSThread()
	errPipe := containerinit.FileFromEnv(EnvErrorFD, "error-pipe")
	containerinit.ExitWithFailure(errPipe, "sandbox exec", child())
}

func child() error {
	cfgFile := containerinit.FileFromEnv(EnvConfigFD, "config")
	if cfgFile == nil {
		return fmt.Errorf("exec: %s not set", EnvConfigFD)
	}
	data, err := io.ReadAll(io.LimitReader(cfgFile, 64<<20))
	cfgFile.Close()
	if err != nil {
		return fmt.Errorf("exec: read config: %w", err)
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("exec: decode config: %w", err)
	}
	if len(spec.Argv) == 0 {
		return errors.New("exec: empty command")
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("exec: working directory %s: %w", dir, err)
	}
	if spec.TTY {
		if err := setupTerminal(&spec); err != nil {
			return err
		}
	} else if _, err := unix.Setsid(); err != nil {
		// A session of its own: terminal signals of the caller's terminal
		// do not reach inside; the caller forwards the ones it gets.
		return fmt.Errorf("exec: setsid: %w", err)
	}
	if spec.Identity != nil {
		if err := applyIdentity(spec.Identity); err != nil {
			return err
		}
	}
	path, err := containerinit.LookPath(spec.Argv[0], containerinit.EnvValue(spec.Env, "PATH", containerinit.DefaultPath))
	if err != nil {
		return err
	}
	// Only 0, 1 and 2 reach the command (CVE-2024-21626 leaked a directory
	// descriptor): the rest, the error pipe included, close on exec.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("exec: mark descriptors close-on-exec: %w", err)
	}
	err = unix.Exec(path, spec.Argv, spec.Env)
	return containerinit.ExecFailure(spec.Argv[0], err)
}

// setupTerminal allocates a pseudo-terminal in the container's devpts
// (opened after joining its mount namespace, so the terminal is the
// container's: its /dev/pts lists it and it is owned by the container's
// root), makes it the controlling terminal of a new session and the
// command's stdio, and sends the master to the caller over the console
// socket.
func setupTerminal(spec *Spec) error {
	sock := containerinit.FileFromEnv(EnvConsoleFD, "console")
	if sock == nil {
		return fmt.Errorf("exec: %s not set", EnvConsoleFD)
	}
	defer sock.Close()
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("exec: open the container's /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("exec: unlock pty: %w", err)
	}
	// TIOCGPTPEER opens the peer through the master, not by a path the
	// container could have replaced.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(master), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY)
	if errno != 0 {
		return fmt.Errorf("exec: open pty peer: %w", errno)
	}
	slave := int(r)
	if spec.Rows > 0 && spec.Cols > 0 {
		unix.IoctlSetWinsize(slave, unix.TIOCSWINSZ, &unix.Winsize{Row: spec.Rows, Col: spec.Cols})
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("exec: setsid: %w", err)
	}
	if err := unix.IoctlSetInt(slave, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("exec: set controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("exec: terminal as fd %d: %w", fd, err)
		}
	}
	if slave > 2 {
		unix.Close(slave)
	}
	if err := unix.Sendmsg(int(sock.Fd()), []byte("pty"), unix.UnixRights(master), nil, 0); err != nil {
		return fmt.Errorf("exec: send the terminal: %w", err)
	}
	return nil
}

// applyIdentity becomes the container process's user with its
// capabilities: bounding set first (needs CAP_SETPCAP), then ids with
// KEEPCAPS so the permitted set survives a change to a non-zero uid, then
// the sets themselves, the ambient set, and no_new_privs last.
func applyIdentity(id *Identity) error {
	for c := 0; c <= 63; c++ {
		if id.Bounding&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // past the kernel's last capability
			}
			return fmt.Errorf("exec: drop capability %d from the bounding set: %w", c, err)
		}
	}
	// The filter goes on while CAP_SYS_ADMIN is still held (without
	// no_new_privs the kernel requires it), before the ids change.
	if id.Seccomp {
		if err := containerinit.LoadSeccomp(capabilityNames(id.Bounding)); err != nil {
			return fmt.Errorf("exec: %w", err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("exec: keep capabilities: %w", err)
	}
	groups := make([]int, len(id.Groups))
	for i, g := range id.Groups {
		groups[i] = int(g)
	}
	// Rootless without a subordinate range, setgroups is denied in the
	// pod's user namespace; the container's own groups are then only its gid.
	if err := syscall.Setgroups(groups); err != nil && !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("exec: setgroups: %w", err)
	}
	if err := syscall.Setresgid(int(id.GID), int(id.GID), int(id.GID)); err != nil {
		return fmt.Errorf("exec: setresgid %d: %w", id.GID, err)
	}
	if err := syscall.Setresuid(int(id.UID), int(id.UID), int(id.UID)); err != nil {
		return fmt.Errorf("exec: setresuid %d: %w", id.UID, err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(id.Effective), Permitted: uint32(id.Permitted), Inheritable: uint32(id.Inheritable)},
		{Effective: uint32(id.Effective >> 32), Permitted: uint32(id.Permitted >> 32), Inheritable: uint32(id.Inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("exec: set capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("exec: keep capabilities: %w", err)
	}
	for c := 0; c <= 63; c++ {
		if id.Ambient&(1<<c) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("exec: raise ambient capability %d: %w", c, err)
		}
	}
	if id.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("exec: set no_new_privs: %w", err)
		}
	}
	return nil
}

// capabilityNames turns a capability mask into pod.CapabilityNames names.
func capabilityNames(mask uint64) []string {
	var names []string
	for c, name := range pod.CapabilityNames {
		if mask&(1<<c) != 0 {
			names = append(names, name)
		}
	}
	return names
}
