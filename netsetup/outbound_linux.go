package netsetup

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Outbound access, in the network holder's namespace: a user-mode network
// stack (usernet: pasta or slirp4netns) owns the uplink interface (tap0)
// with the default route; the holder forwards the pod subnet to it and
// masquerades it. The tool maps its gateway address to the host's loopback;
// only pods allowed to reach it (the set "hostlo" of their veth ends) do,
// through their own gateway (the bridge address):
//
//	table bridge sandbox {
//		set hostlo { type ifname; }
//		chain mark { type filter hook prerouting priority -300; iifname @hostlo meta mark set 0x5b }
//	}
//	table ip sandbox {
//		chain dnat { type nat hook prerouting priority -100; iifname "sbx0" ip daddr BRIDGE meta mark 0x5b dnat to HOSTGW }
//		chain filter { type filter hook forward priority 0; oifname "tap0" ip daddr HOSTGW meta mark != 0x5b reject }
//		chain snat { type nat hook postrouting priority 100; ip saddr SUBNET oifname != "sbx0" masquerade }
//	}
//
// The mark is set by the bridge on the port the frame came in on, so a pod
// cannot claim another pod's permission by changing its own address.

// TableName names both nftables tables.
const TableName = "sandbox"

// HostLoopbackSet is the set of veth ends whose pods may reach the host's
// loopback.
const HostLoopbackSet = "hostlo"

const hostLoopbackMark = 0x5b

// EnsureOutbound turns on forwarding and installs the tables above in the
// calling process's network namespace (the holder's). bridgeGW is the
// bridge's address with the pod subnet's length, uplink the tool's
// interface, hostGW the tool's address for the host's loopback.
func EnsureOutbound(bridgeGW netip.Prefix, uplink string, hostGW netip.Addr) error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable forwarding in the network holder: %w", err)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	br := c.AddTable(&nftables.Table{Family: nftables.TableFamilyBridge, Name: TableName})
	set := &nftables.Set{Table: br, Name: HostLoopbackSet, KeyType: nftables.TypeIFName}
	if err := c.AddSet(set, nil); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	mark := c.AddChain(&nftables.Chain{Name: "mark", Table: br, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRaw})
	c.AddRule(&nftables.Rule{Table: br, Chain: mark, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(hostLoopbackMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
	}})

	ip := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName})
	dnat := c.AddChain(&nftables.Chain{Name: "dnat", Table: ip, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	c.AddRule(&nftables.Rule{Table: ip, Chain: dnat, Exprs: concat(
		ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, BridgeName),
		ipAddr(16, expr.CmpOpEq, bridgeGW.Addr()),
		markIs(expr.CmpOpEq),
		[]expr.Any{
			&expr.Immediate{Register: 1, Data: hostGW.AsSlice()},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
		})})
	filter := c.AddChain(&nftables.Chain{Name: "filter", Table: ip, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
	c.AddRule(&nftables.Rule{Table: ip, Chain: filter, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, uplink),
		ipAddr(16, expr.CmpOpEq, hostGW),
		markIs(expr.CmpOpNeq),
		[]expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}}, // port unreachable: refused
	)})
	snat := c.AddChain(&nftables.Chain{Name: "snat", Table: ip, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	subnet := bridgeGW.Masked()
	c.AddRule(&nftables.Rule{Table: ip, Chain: snat, Exprs: concat(
		[]expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: prefixMask(subnet), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: subnet.Addr().AsSlice()},
		},
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, BridgeName),
		[]expr.Any{&expr.Masq{}},
	)})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables rules for outbound access in the network holder: %w", err)
	}
	return nil
}

// SetHostLoopback adds the veth end hostEnd to the set of pods that may
// reach the host's loopback, or removes it (an address's previous pod may
// have been allowed). It does nothing when EnsureOutbound never ran.
func SetHostLoopback(hostEnd string, allow bool) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	br := &nftables.Table{Family: nftables.TableFamilyBridge, Name: TableName}
	set, err := c.GetSetByName(br, HostLoopbackSet)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // no outbound access
		}
		return fmt.Errorf("nftables: set %s: %w", HostLoopbackSet, err)
	}
	elem := []nftables.SetElement{{Key: ifnameBytes(hostEnd)}}
	if allow {
		if err := c.SetAddElements(set, elem); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("allow host loopback for %s: %w", hostEnd, err)
		}
		return nil
	}
	// Denying is the common case and usually a no-op: look before
	// committing, since an nftables transaction costs a grace period
	// (13 ms measured here, a quarter of a bridge pod's start).
	present, err := c.GetSetElements(set)
	if err != nil {
		return fmt.Errorf("nftables: set %s: %w", HostLoopbackSet, err)
	}
	if !slices.ContainsFunc(present, func(e nftables.SetElement) bool { return bytes.Equal(e.Key, elem[0].Key) }) {
		return nil
	}
	if err := c.SetDeleteElements(set, elem); err != nil {
		return err
	}
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("deny host loopback for %s: %w", hostEnd, err)
	}
	return nil
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ifnameBytes(name string) []byte {
	b := make([]byte, 16)
	copy(b, name)
	return b
}

func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: ifnameBytes(name)},
	}
}

// ipAddr compares the IPv4 address at offset (12 source, 16 destination).
func ipAddr(offset uint32, op expr.CmpOp, a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: op, Register: 1, Data: a.AsSlice()},
	}
}

func markIs(op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: binaryutil.NativeEndian.PutUint32(hostLoopbackMark)},
	}
}

func prefixMask(p netip.Prefix) []byte {
	m := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}
