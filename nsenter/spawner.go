package nsenter

/*
#include "spawner.h"
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Request flags (spawner.h).
const (
	spawnSetsid  = C.SPAWN_SETSID
	spawnSetpgid = C.SPAWN_SETPGID
)

// ErrNoSpawner is returned by Spawner.Start when the request was not sent:
// the spawner is closed, gone, or cannot carry it. The caller then executes
// the binary instead; nothing was started.
var ErrNoSpawner = errors.New("no spawner")

// Spawner is the sandbox CLI's fork server (spawner.c): a process the
// constructor forked before the Go runtime started, which starts a join
// role by cloning itself instead of executing the binary. Only the CLI has
// one, and only for `sandbox run`; see TakeSpawner.
type Spawner struct {
	mu  sync.Mutex
	fd  int // -1 once closed
	pid int
}

var spawnerTaken sync.Once

// TakeSpawner returns this process's spawner to its one owner: the first
// call gets it (nil when the constructor made none), later calls get nil.
// The owner must Close it.
func TakeSpawner() *Spawner {
	var sp *Spawner
	spawnerTaken.Do(func() {
		if fd, pid := int(C.sandbox_spawner_fd), int(C.sandbox_spawner_pid); fd >= 0 && pid > 0 {
			sp = &Spawner{fd: fd, pid: pid}
		}
	})
	return sp
}

// Close ends the spawner (EOF on its socket) and reaps it. Processes it
// spawned are not affected. Safe to call more than once, and on nil.
func (sp *Spawner) Close() {
	if sp == nil {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.fd < 0 {
		return
	}
	unix.Close(sp.fd)
	sp.fd = -1
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(sp.pid, &ws, 0, nil); !errors.Is(err, unix.EINTR) {
			break
		}
	}
}

// Start starts cmd, a re-execution of this binary in a role that never
// reaches the Go runtime (a join whose container init runs in C), in a
// process the spawner clones: the same environment, descriptors (stdin,
// stdout, stderr, then ExtraFiles), working directory "/" and session as
// cmd.Start would give it (a nil Env is this process's environment, as for
// os/exec), without an exec. cmd.Path and cmd.Args are not used: the
// process runs this binary's C code, under the CLI's own command line. It
// is this process's child; Start sets cmd.Process, so cmd.Wait reaps it.
//
// ErrNoSpawner means nothing was started and cmd may be started normally.
// Any other error is a failed start, as from cmd.Start.
func (sp *Spawner) Start(cmd *exec.Cmd) error {
	if sp == nil {
		return ErrNoSpawner
	}
	if cmd.Process != nil {
		return errors.New("spawn: already started")
	}
	flags, err := spawnFlags(cmd)
	if err != nil {
		return err
	}
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			f.Close()
		}
	}()
	var fds []int
	for i, v := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		var f *os.File
		switch x := v.(type) {
		case nil:
		case *os.File:
			f = x
		default:
			return fmt.Errorf("%w: a standard stream that is not a file", ErrNoSpawner)
		}
		if f == nil { // as os/exec: /dev/null
			flag := os.O_WRONLY
			if i == 0 {
				flag = os.O_RDONLY
			}
			var err error
			if f, err = os.OpenFile(os.DevNull, flag, 0); err != nil {
				return err
			}
			opened = append(opened, f)
		}
		fds = append(fds, int(f.Fd()))
	}
	for _, f := range cmd.ExtraFiles {
		if f == nil {
			return fmt.Errorf("%w: a nil extra file", ErrNoSpawner)
		}
		fds = append(fds, int(f.Fd()))
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	msg := binary.NativeEndian.AppendUint32(nil, C.SPAWN_VERSION)
	msg = binary.NativeEndian.AppendUint32(msg, flags)
	for _, kv := range env {
		msg = append(append(msg, kv...), 0)
	}
	if len(fds) > C.SPAWN_MAX_FDS || len(env) > C.SPAWN_MAX_ENV || len(msg) > C.SPAWN_MAX_MESSAGE {
		return fmt.Errorf("%w: %d descriptors, %d environment variables, %d bytes", ErrNoSpawner, len(fds), len(env), len(msg))
	}

	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.fd < 0 {
		return fmt.Errorf("%w: closed", ErrNoSpawner)
	}
	for {
		err = unix.Sendmsg(sp.fd, msg, unix.UnixRights(fds...), nil, unix.MSG_NOSIGNAL)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		// Not sent (the spawner died, say): nothing was started.
		return fmt.Errorf("%w: send: %w", ErrNoSpawner, err)
	}
	var reply [4]byte
	n, err := readFull(sp.fd, reply[:])
	if err != nil || n != len(reply) {
		return fmt.Errorf("spawn: no reply from the spawner (read %d bytes): %v", n, err)
	}
	pid := int(int32(binary.NativeEndian.Uint32(reply[:])))
	if pid <= 0 {
		return fmt.Errorf("spawn: %w", syscall.Errno(-pid))
	}
	proc, err := os.FindProcess(pid) // our child: its pid stays ours until reaped
	if err != nil {
		return fmt.Errorf("spawn: process %d: %w", pid, err)
	}
	cmd.Process = proc
	return nil
}

// spawnFlags checks that cmd asks for nothing the spawner cannot give and
// returns the request's flags.
func spawnFlags(cmd *exec.Cmd) (uint32, error) {
	if cmd.Dir != "/" {
		return 0, fmt.Errorf("%w: working directory %q, not /", ErrNoSpawner, cmd.Dir)
	}
	var flags uint32
	if a := cmd.SysProcAttr; a != nil {
		if !reflect.DeepEqual(*a, syscall.SysProcAttr{Setsid: a.Setsid, Setpgid: a.Setpgid}) || a.Setsid && a.Setpgid {
			return 0, fmt.Errorf("%w: process attributes other than Setsid or Setpgid", ErrNoSpawner)
		}
		if a.Setsid {
			flags |= spawnSetsid
		}
		if a.Setpgid {
			flags |= spawnSetpgid
		}
	}
	return flags, nil
}

func readFull(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return n, err
	}
}
