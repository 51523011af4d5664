package main

import (
	"fmt"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/supervisor"
)

// Commands that change a pod (stop, rm, gc) take the pod's command lock: an
// exclusive flock on its state *directory*. It is separate from the state
// package's lock file, which the supervisor holds for the pod's whole life;
// this one serialises the commands around it. A command that dies releases
// it with its descriptor, so a dead command never blocks another.

// lockPodCommands waits up to wait for pod name's command lock. It returns
// the unlock function, or an error when the pod does not exist (or was
// removed while we waited) or the lock stayed busy.
func lockPodCommands(base, name string, wait time.Duration, notify func(string)) (func(), error) {
	dir := filepath.Join(base, name)
	deadline := time.Now().Add(wait)
	told := false
	for {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return nil, sandboxErr("no pod %q (see sandbox ps)", name)
		}
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			// The directory may have been removed (rm) between our open and
			// flock: the lock counts only on the directory at the path.
			var a, b unix.Stat_t
			if unix.Fstat(fd, &a) == nil && unix.Stat(dir, &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
				return func() { unix.Close(fd) }, nil
			}
			unix.Close(fd)
			continue
		}
		unix.Close(fd)
		if err != unix.EWOULDBLOCK {
			return nil, &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("lock pod %s: %w", name, err)}
		}
		if time.Now().After(deadline) {
			return nil, sandboxErr("pod %s: another sandbox command is still working on it after %v; try again", name, wait)
		}
		if !told && notify != nil {
			notify(fmt.Sprintf("pod %s: waiting for another sandbox command on it", name))
			told = true
		}
		time.Sleep(20 * time.Millisecond)
	}
}
