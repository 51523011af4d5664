package netsetup

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// EnvJob selects a network job in a process the nsenter constructor put into
// the network holder's namespaces (role netns); see JobMain.
const EnvJob = "_SANDBOX_NETJOB"

// BridgeName is the bridge in the network holder's namespace.
const BridgeName = "sbx0"

// PodInterface is the pod's end of its veth pair.
const PodInterface = "eth0"

// EnsureBridge creates the bridge with gateway (e.g. 10.88.0.1/16) in the
// calling process's network namespace (the holder's) if it is missing, and
// brings it and lo up. Idempotent.
func EnsureBridge(gateway netip.Prefix) error {
	if err := LoopbackUp(); err != nil {
		return err
	}
	br, err := netlink.LinkByName(BridgeName)
	if err != nil {
		la := netlink.NewLinkAttrs()
		la.Name = BridgeName
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create bridge %s: %w", BridgeName, err)
		}
		if br, err = netlink.LinkByName(BridgeName); err != nil {
			return fmt.Errorf("find bridge %s: %w", BridgeName, err)
		}
	}
	addr := &netlink.Addr{IPNet: prefixNet(gateway)}
	if err := netlink.AddrReplace(br, addr); err != nil {
		return fmt.Errorf("address %s on %s: %w", gateway, BridgeName, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring up %s: %w", BridgeName, err)
	}
	return nil
}

// Attach creates a veth pair in the calling process's network namespace (the
// holder's): hostEnd on the bridge, the peer created directly in the network
// namespace of pid as eth0 with addr (e.g. 10.88.0.5/16), up, with lo up and
// a default route via gateway. The pair disappears with the pod's network
// namespace.
func Attach(pid int, hostEnd string, addr netip.Prefix, gateway netip.Addr) error {
	br, err := netlink.LinkByName(BridgeName)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", BridgeName, err)
	}
	// A pod killed with its supervisor leaves its address's veth until the
	// kernel has cleaned up its network namespace: the address is ours now.
	if old, err := netlink.LinkByName(hostEnd); err == nil {
		netlink.LinkDel(old)
	}
	la := netlink.NewLinkAttrs()
	la.Name = hostEnd
	la.MasterIndex = br.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: la, PeerName: PodInterface, PeerNamespace: netlink.NsPid(pid)}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s (peer %s in the pod, pid %d): %w", hostEnd, PodInterface, pid, err)
	}
	fail := func(err error) error {
		if l, lerr := netlink.LinkByName(hostEnd); lerr == nil {
			netlink.LinkDel(l)
		}
		return err
	}
	host, err := netlink.LinkByName(hostEnd)
	if err != nil {
		return fail(err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fail(fmt.Errorf("bring up %s: %w", hostEnd, err))
	}
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fail(fmt.Errorf("open the pod's network namespace: %w", err))
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fail(fmt.Errorf("netlink in the pod's network namespace: %w", err))
	}
	defer h.Close()
	if err := LoopbackUpWith(h); err != nil {
		return fail(err)
	}
	eth, err := h.LinkByName(PodInterface)
	if err != nil {
		return fail(fmt.Errorf("find %s in the pod: %w", PodInterface, err))
	}
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: prefixNet(addr)}); err != nil {
		return fail(fmt.Errorf("address %s on %s: %w", addr, PodInterface, err))
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fail(fmt.Errorf("bring up %s: %w", PodInterface, err))
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(gateway.AsSlice())}
	if err := h.RouteAdd(route); err != nil {
		return fail(fmt.Errorf("default route via %s: %w", gateway, err))
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// JobMain runs one job named by EnvJob and exits: 0 on success, 1 with the
// error on stderr. Jobs (arguments after argv[0]):
//
//	bridge GATEWAY/BITS [UPLINK HOSTGW]   (with UPLINK: EnsureOutbound too)
//	attach PID HOSTEND ADDR/BITS GATEWAY [HOSTLO]   (HOSTLO: allow or deny; SetHostLoopback)
func JobMain() {
	args := os.Args[1:]
	err := runJob(os.Getenv(EnvJob), args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runJob(job string, args []string) error {
	switch job {
	case "bridge":
		if len(args) != 1 && len(args) != 3 {
			return errors.New("bridge: want GATEWAY/BITS [UPLINK HOSTGW]")
		}
		gw, err := netip.ParsePrefix(args[0])
		if err != nil {
			return err
		}
		if err := EnsureBridge(gw); err != nil || len(args) == 1 {
			return err
		}
		hostGW, err := netip.ParseAddr(args[2])
		if err != nil {
			return err
		}
		return EnsureOutbound(gw, args[1], hostGW)
	case "attach":
		if len(args) != 4 && len(args) != 5 {
			return errors.New("attach: want PID HOSTEND ADDR/BITS GATEWAY [allow|deny]")
		}
		pid, err := strconv.Atoi(args[0])
		if err != nil {
			return err
		}
		addr, err := netip.ParsePrefix(args[2])
		if err != nil {
			return err
		}
		gw, err := netip.ParseAddr(args[3])
		if err != nil {
			return err
		}
		if err := Attach(pid, args[1], addr, gw); err != nil || len(args) == 4 {
			return err
		}
		return SetHostLoopback(args[1], args[4] == "allow")
	}
	return fmt.Errorf("unknown network job %q (%s)", job, strings.Join(args, " "))
}
