// Package lockfile takes flock(2) locks on lock files that it creates on
// demand: the image store's and the network holder's. A lock goes with its
// descriptor, so a process that dies never leaves one behind.
package lockfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Lock opens (creating it, mode 0600) the file at path and flocks it with how
// (unix.LOCK_SH or LOCK_EX, optionally | LOCK_NB), retrying on EINTR. Closing
// the returned file releases the lock; on error nothing stays open.
func Lock(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
