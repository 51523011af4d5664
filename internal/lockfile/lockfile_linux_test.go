package lockfile

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// An exclusive lock excludes a second one (LOCK_NB: EWOULDBLOCK) until it is
// closed; shared locks coexist.
func TestLockExcludesUntilClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := Lock(path, unix.LOCK_EX)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path, unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("second exclusive lock: %v, want EWOULDBLOCK", err)
	}
	a.Close()
	b, err := Lock(path, unix.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := Lock(path, unix.LOCK_SH|unix.LOCK_NB)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	c.Close()
}
