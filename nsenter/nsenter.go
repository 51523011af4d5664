// Package nsenter holds sandbox's only C: an ELF constructor (nsenter.c) that
// runs before the Go runtime starts, so it can become the pod's pause process
// or join the pause's namespaces, and the C container init (cinit.c) that a
// simple container's joined child runs instead of starting Go. A Go process cannot do either: it is
// multi-threaded by the time main runs, and setns(2) into a user namespace
// requires a single-threaded caller.
//
// Import it with _ from the sandbox binary's main package only. The Go side of
// this package names the roles and reads the constructor's sync protocol.
package nsenter

// The binary binds every libc symbol when it starts (-z now) and its global
// offset table is then read-only (full RELRO): the constructor's children
// and the fork server's clones (spawner.c) run C with the privileges of the
// pod's namespaces, and no lazy binding is left to resolve, or to corrupt,
// in their copies. It costs nothing measurable at start (bench/ab.py,
// interleaved: within 0.05 ms of lazy binding).

// #cgo LDFLAGS: -Wl,-z,now
import "C"

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Environment variables read by the constructor. They are internal: a
// container's environment never contains them.
const (
	EnvRole    = "_SANDBOX_ROLE"
	EnvSyncFD  = "_SANDBOX_SYNC_FD"
	EnvWaitFD  = "_SANDBOX_WAIT_FD"
	EnvPidFD   = "_SANDBOX_PIDFD"
	EnvNSFlags = "_SANDBOX_NSFLAGS"
	EnvNewPID  = "_SANDBOX_NEWPID"
	// EnvIdmapped lists "FD:PATH" lines: detached idmapped mounts (image
	// layers of a root pod with a user namespace) that the join role, still
	// host root, attaches on PATH in a private mount namespace of its own
	// before it joins the pod; the container's mount namespace is a copy.
	EnvIdmapped = "_SANDBOX_IDMAPPED"
)

// Roles selected by EnvRole.
const (
	// RolePause makes the process the pod's pause; it never reaches Go.
	RolePause = "pause"
	// RoleJoin joins a pause's namespaces; the Go runtime then starts in the
	// joined child, which runs the container init (or, with EnvCInit, the
	// child runs the C container init and never reaches Go).
	RoleJoin = "join"
	// RoleExec joins a running container's namespaces, its mount namespace
	// included; the Go runtime then starts in the joined child, which runs
	// the exec'd command (package execin).
	RoleExec = "exec"
	// RoleNetNS joins only a pause's user and network namespaces; the Go
	// runtime then runs the hostPort forwarder's dialler (package portfwd)
	// in the pod's network namespace.
	RoleNetNS = "netns"
	// RoleNest clones a pod's pause from inside the network holder's user
	// and network namespaces (bridge networking, rootless).
	RoleNest = "nest"
	// RoleEnviron prints the environment of the process EnvPidFD refers
	// to, read from inside its user namespace (package execin).
	RoleEnviron = "environ"
)

// More environment of the nest role. EnvCloneFlags and the pause's
// descriptors also make a join create the pod's pause before it joins it
// (nsenter.c, spawn_pause): the pause's pid is reported on its own sync
// pipe, EnvPauseSyncFD, before the pause reports "ok" there; with EnvUIDMap
// and EnvGIDMap the join also writes the pause's id maps and reports "maps".
const (
	EnvPauseSyncFD = "_SANDBOX_PAUSE_SYNC_FD"
	EnvPauseWaitFD = "_SANDBOX_PAUSE_WAIT_FD"
	// EnvPauseWakeFD is the write end of the pause's wait pipe: the join
	// closes it once the id maps are written, and the pause goes on.
	EnvPauseWakeFD = "_SANDBOX_PAUSE_WAKE_FD"
	EnvCloneFlags  = "_SANDBOX_CLONEFLAGS"
	EnvUIDMap      = "_SANDBOX_UIDMAP"
	EnvGIDMap      = "_SANDBOX_GIDMAP"
	// EnvSetgroups, "deny", is written to the pause's setgroups before a
	// spawning join writes its gid map (an unprivileged writer must).
	EnvSetgroups = "_SANDBOX_SETGROUPS"
	// EnvMapHelpers, the paths of newuidmap and newgidmap (one per line),
	// makes a spawning join write EnvUIDMap and EnvGIDMap with them: a map
	// of subordinate ids.
	EnvMapHelpers = "_SANDBOX_MAP_HELPERS"
)

// Role returns the hidden role this process was started in, or "" for a
// normal invocation.
func Role() string { return os.Getenv(EnvRole) }

// ErrSetup is wrapped by every failure the constructor reports.
var ErrSetup = errors.New("nsenter")

// Report is what the constructor said on the sync fd.
type Report struct {
	// PID is the joined child's PID in the supervisor's PID namespace
	// (join role only).
	PID int
	// OK is true once the pause is ready or the joined child has its own
	// mount namespace.
	OK bool
}

// ReadReport reads the sync pipe until EOF (every writer has closed it or
// exited) and returns what it said. Lines may arrive in any order: the
// intermediate process and the joined child write concurrently.
func ReadReport(r io.Reader) (Report, error) {
	var rep Report
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "ok":
			rep.OK = true
		case strings.HasPrefix(line, "pid "):
			pid, err := strconv.Atoi(strings.TrimPrefix(line, "pid "))
			if err != nil || pid <= 0 {
				return rep, fmt.Errorf("%w: bad pid report %q", ErrSetup, line)
			}
			rep.PID = pid
		case strings.HasPrefix(line, "error "):
			return rep, fmt.Errorf("%w: %s", ErrSetup, strings.TrimPrefix(line, "error "))
		default:
			return rep, fmt.Errorf("%w: unexpected report %q", ErrSetup, line)
		}
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("%w: read sync pipe: %w", ErrSetup, err)
	}
	if !rep.OK {
		return rep, fmt.Errorf("%w: process exited before it was ready", ErrSetup)
	}
	return rep, nil
}

// EnvCInit ("1") makes the join role's child run the container init in C
// (cinit.c) instead of returning to the Go runtime; the config then comes
// in containerinit.EncodeC's format.
const EnvCInit = "_SANDBOX_CINIT"
