// Package rootlike's tests need what only root (or a user namespace) gives:
// they fail when run as an ordinary user, and pass with
// `go test -exec 'sandbox run --'` or with SANDBOXTEST=1 (package
// sandboxtest re-runs each test in a fresh sandbox).
package rootlike

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/sandboxtest"
)

// sandboxed runs the test body in a sandbox of its own when SANDBOXTEST=1.
func sandboxed(t *testing.T) bool {
	if os.Getenv("SANDBOXTEST") == "1" {
		return sandboxtest.Run(t)
	}
	return true
}

func TestBindsPort80(t *testing.T) {
	if !sandboxed(t) {
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:80")
	if err != nil {
		t.Fatalf("listen on port 80: %v", err)
	}
	l.Close()
}

func TestCreatesAVethPair(t *testing.T) {
	if !sandboxed(t) {
		return
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rootlike0"}, PeerName: "rootlike1"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("create a veth pair: %v", err)
	}
	defer netlink.LinkDel(veth)
}

func TestMountsATmpfs(t *testing.T) {
	if !sandboxed(t) {
		return
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a tmpfs: %v", err)
	}
	unix.Unmount(dir, 0)
}

func TestSetsTheHostname(t *testing.T) {
	if !sandboxed(t) {
		return
	}
	if err := unix.Sethostname([]byte("rootlike")); err != nil {
		t.Fatalf("sethostname: %v", err)
	}
}

// TestHangs hangs when HANG=1; it shows --timeout stopping a stuck test.
func TestHangs(t *testing.T) {
	if os.Getenv("HANG") != "1" {
		t.Skip("set HANG=1 to hang")
	}
	time.Sleep(time.Hour)
}
