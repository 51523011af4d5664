package netsetup

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/podsandbox/sandbox/internal/testutil"
)

func TestLoopbackUpInAFreshNetworkNamespace(t *testing.T) {
	if !testutil.ReexecInUserNS(t) {
		return
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Attrs().Flags&net.FlagUp != 0 {
		t.Fatal("lo is already up in a fresh network namespace: the test proves nothing")
	}
	for i := 0; i < 2; i++ { // idempotent
		if err := LoopbackUp(); err != nil {
			t.Fatalf("LoopbackUp #%d: %v", i+1, err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatalf("dial over lo: %v", err)
	}
	c.Close()
}
