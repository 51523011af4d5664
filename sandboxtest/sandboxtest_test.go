package sandboxtest_test

import (
	"net"
	"os"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/sandboxtest"
)

// These tests need root-like powers: they pass only inside the sandbox,
// whatever uid runs `go test`.

func TestBindsPrivilegedPort(t *testing.T) {
	if !sandboxtest.Run(t) {
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:80")
	if err != nil {
		t.Fatalf("listen on port 80: %v", err)
	}
	l.Close()
}

func TestCreatesAVethPair(t *testing.T) {
	if !sandboxtest.Run(t) {
		return
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "test0"}, PeerName: "test1"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("create veth: %v", err)
	}
	if _, err := netlink.LinkByName("test1"); err != nil {
		t.Fatalf("peer missing: %v", err)
	}
}

func TestMountsATmpfsAndSetsTheHostname(t *testing.T) {
	if !sandboxtest.Run(t) {
		return
	}
	dir := t.TempDir() // in the sandbox's private /tmp
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer unix.Unmount(dir, 0)
	if err := unix.Sethostname([]byte("sandboxed")); err != nil {
		t.Fatalf("sethostname: %v", err)
	}
	if h, _ := os.Hostname(); h != "sandboxed" {
		t.Fatalf("hostname %q", h)
	}
}

func TestHasNoNetworkButLoopback(t *testing.T) {
	if !sandboxtest.Run(t) {
		return
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Attrs().Name != "lo" {
		t.Fatalf("links %v, want only lo", links)
	}
}

func TestSubtestsRunOneByOne(t *testing.T) {
	for _, name := range []string{"a", "b"} {
		t.Run(name, func(t *testing.T) {
			if !sandboxtest.Run(t) {
				return
			}
			// Each subtest gets a sandbox of its own: PID 1 is its pause.
			comm, err := os.ReadFile("/proc/1/comm")
			if err != nil || string(comm) != "pause\n" {
				t.Fatalf("/proc/1/comm = %q, %v", comm, err)
			}
		})
	}
}
