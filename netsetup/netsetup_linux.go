// Package netsetup configures the network inside a pod's network namespace
// with netlink: the loopback interface now, veths, addresses and routes as
// networking grows. It only touches the namespace it is handed (or the
// calling thread's), never the host's unless the caller is the host.
package netsetup

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// LoopbackUp brings up "lo" in the network namespace of the calling thread.
// It is idempotent. The first container init of a pod calls it before any
// workload of the pod runs.
func LoopbackUp() error {
	return loopbackUp(nil)
}

// LoopbackUpWith is LoopbackUp on an explicit netlink handle (for example one
// from netlink.NewHandleAt for another namespace).
func LoopbackUpWith(h *netlink.Handle) error {
	return loopbackUp(h)
}

func loopbackUp(h *netlink.Handle) error {
	var (
		lo  netlink.Link
		err error
	)
	if h == nil {
		lo, err = netlink.LinkByName("lo")
	} else {
		lo, err = h.LinkByName("lo")
	}
	if err != nil {
		return fmt.Errorf("find loopback: %w", err)
	}
	if lo.Attrs().Flags&1 != 0 { // net.FlagUp: already up, nothing to do
		return nil
	}
	if h == nil {
		err = netlink.LinkSetUp(lo)
	} else {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("bring up loopback: %w", err)
	}
	return nil
}
