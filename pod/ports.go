package pod

import (
	"fmt"
	"net/netip"
)

// Protocol is the transport of a container port.
type Protocol string

// The protocols sandbox publishes. SCTP is refused by Validate.
const (
	ProtocolTCP Protocol = "TCP"
	ProtocolUDP Protocol = "UDP"
)

// ContainerPort is a port of a container; with hostPort set the supervisor
// publishes it on the host (see package portfwd). Numbers are int64 (the
// decoder's integer kind); Validate keeps them in 1..65535.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int64  `json:"containerPort"`
	HostPort      int64  `json:"hostPort,omitempty"`
	// Protocol: "" means TCP.
	Protocol Protocol `json:"protocol,omitempty"`
	// HostIP: "" means every address (0.0.0.0).
	HostIP string `json:"hostIP,omitempty"`
}

// HostPort is one published port, defaults applied.
type HostPort struct {
	Container     string
	HostIP        netip.Addr // unspecified (0.0.0.0 or ::) for every address
	HostPort      int
	ContainerPort int
	Protocol      Protocol
}

// String returns e.g. "0.0.0.0:8080/TCP -> 80".
func (h HostPort) String() string {
	return fmt.Sprintf("%s/%s -> %d", netip.AddrPortFrom(h.HostIP, uint16(h.HostPort)), h.Protocol, h.ContainerPort)
}

// HostPorts returns the ports of every container that set hostPort, with
// defaults applied. Call it on a validated pod.
func (p *Pod) HostPorts() []HostPort {
	var out []HostPort
	for _, list := range [][]Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range list {
			for _, port := range c.Ports {
				if port.HostPort == 0 {
					continue
				}
				hp := HostPort{Container: c.Name, HostPort: int(port.HostPort), ContainerPort: int(port.ContainerPort), Protocol: protocolOf(port)}
				hp.HostIP, _ = parseHostIP(port.HostIP)
				out = append(out, hp)
			}
		}
	}
	return out
}

func protocolOf(p ContainerPort) Protocol {
	if p.Protocol == "" {
		return ProtocolTCP
	}
	return p.Protocol
}

func parseHostIP(s string) (netip.Addr, error) {
	if s == "" {
		return netip.IPv4Unspecified(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("zones are not supported")
	}
	return a.Unmap(), nil
}

// overlaps reports whether two host addresses bind the same socket space: an
// unspecified address of a family covers every address of it, and an
// IPv6 wildcard also takes IPv4 (dual-stack sockets).
func overlaps(a, b netip.Addr) bool {
	if a == b {
		return true
	}
	if a.IsUnspecified() && (a.Is6() || b.Is4() == a.Is4()) {
		return true
	}
	if b.IsUnspecified() && (b.Is6() || a.Is4() == b.Is4()) {
		return true
	}
	return false
}

// checkPorts validates ports: ranges, protocol, hostIP, the same
// containerPort/protocol declared twice in the pod (the pod shares one
// network namespace), and host ports whose addresses overlap.
func checkPorts(probs *problems, p *Pod) {
	checkNetwork(probs, p)
	type seen struct {
		path  string
		ip    netip.Addr
		port  int64
		proto Protocol
	}
	var hosts []seen
	containerPorts := map[string]string{} // "80/TCP" -> first path
	for _, group := range []struct {
		field string
		list  []Container
	}{{"spec.initContainers", p.Spec.InitContainers}, {"spec.containers", p.Spec.Containers}} {
		for i, c := range group.list {
			for j, port := range c.Ports {
				path := fmt.Sprintf("%s[%d].ports[%d]", group.field, i, j)
				ok := true
				if port.ContainerPort < 1 || port.ContainerPort > 65535 {
					probs.addf(ErrInvalid, path+".containerPort", "%d is out of range, must be 1 to 65535", port.ContainerPort)
					ok = false
				}
				if port.HostPort < 0 || port.HostPort > 65535 {
					probs.addf(ErrInvalid, path+".hostPort", "%d is out of range, must be 1 to 65535 (or unset)", port.HostPort)
					ok = false
				}
				proto := protocolOf(port)
				if proto != ProtocolTCP && proto != ProtocolUDP {
					probs.addf(ErrInvalid, path+".protocol", "%q is not supported, must be TCP or UDP", port.Protocol)
					ok = false
				}
				ip, err := parseHostIP(port.HostIP)
				if err != nil {
					probs.addf(ErrInvalid, path+".hostIP", "%q is not an IP address: %v", port.HostIP, err)
					ok = false
				} else if port.HostIP != "" && port.HostPort == 0 {
					probs.addf(ErrInvalid, path+".hostIP", "set without hostPort")
					ok = false
				}
				if !ok {
					continue
				}
				key := fmt.Sprintf("%d/%s", port.ContainerPort, proto)
				if first, dup := containerPorts[key]; dup {
					probs.addf(ErrInvalid, path+".containerPort", "%s is already declared by %s: containers of a pod share one network namespace", key, first)
					continue
				}
				containerPorts[key] = path
				if port.HostPort == 0 {
					continue
				}
				if p.NetworkMode() == NetworkHost && port.HostPort != port.ContainerPort {
					probs.addf(ErrInvalid, path+".hostPort", "%d must equal containerPort (%d) with spec.hostNetwork: the container binds the host's port itself", port.HostPort, port.ContainerPort)
					continue
				}
				for _, h := range hosts {
					if h.port == port.HostPort && h.proto == proto && overlaps(h.ip, ip) {
						probs.addf(ErrInvalid, path+".hostPort", "%d/%s on %s conflicts with %s (%d/%s on %s)", port.HostPort, proto, ip, h.path, h.port, h.proto, h.ip)
						ok = false
						break
					}
				}
				if ok {
					hosts = append(hosts, seen{path: path, ip: ip, port: port.HostPort, proto: proto})
				}
			}
		}
	}
}

// Annotations that choose the pod's network (the --network and --subnet
// flags of `sandbox run` set them).
const (
	// AnnotationNetwork is "none" (only lo), "bridge" (a pod IP on the
	// user's bridge) or "host"; spec.hostNetwork: true means host.
	AnnotationNetwork = "sandbox.podsandbox.dev/network"
	// AnnotationSubnet is the bridge's subnet, e.g. 10.88.0.0/16: the
	// gateway is its first address. It must match the running network
	// holder's.
	AnnotationSubnet = "sandbox.podsandbox.dev/subnet"
	// AnnotationAllowHostLoopback "true" lets a bridge pod reach the
	// host's 127.0.0.1 through its gateway address (the bridge's first
	// address); the default, "false", refuses it.
	AnnotationAllowHostLoopback = "sandbox.podsandbox.dev/allow-host-loopback"
)

// AllowHostLoopback reports whether the pod may reach the host's loopback
// through its gateway (AnnotationAllowHostLoopback).
func (p *Pod) AllowHostLoopback() bool {
	return p.Metadata.Annotations[AnnotationAllowHostLoopback] == "true"
}

// Network modes.
const (
	NetworkNone   = "none"
	NetworkBridge = "bridge"
	NetworkHost   = "host"
	// DefaultNetwork is the mode of a manifest that names none: a pod IP on
	// the user's bridge, as Kubernetes users expect. Ad-hoc runs
	// (`run -- CMD`) and sandboxtest name none themselves.
	DefaultNetwork = NetworkBridge
	// DefaultSubnet is the bridge's subnet unless AnnotationSubnet says
	// otherwise.
	DefaultSubnet = "10.88.0.0/16"
)

// NetworkMode returns the pod's network mode: host with spec.hostNetwork,
// else the annotation, else DefaultNetwork. Call it on a validated pod.
func (p *Pod) NetworkMode() string {
	if p.Spec.HostNetwork || p.Metadata.Annotations[AnnotationNetwork] == NetworkHost {
		return NetworkHost
	}
	if m := p.Metadata.Annotations[AnnotationNetwork]; m != "" {
		return m
	}
	return DefaultNetwork
}

// Subnet returns the bridge subnet (AnnotationSubnet or DefaultSubnet).
func (p *Pod) Subnet() netip.Prefix {
	s := p.Metadata.Annotations[AnnotationSubnet]
	if s == "" {
		s = DefaultSubnet
	}
	pr, _ := netip.ParsePrefix(s)
	return pr.Masked()
}

func checkNetwork(probs *problems, p *Pod) {
	field := "metadata.annotations[" + `"` + AnnotationNetwork + `"]`
	switch m := p.Metadata.Annotations[AnnotationNetwork]; m {
	case "", NetworkNone, NetworkBridge:
		if p.Spec.HostNetwork && m != "" {
			probs.addf(ErrInvalid, field, "%q contradicts spec.hostNetwork: true", m)
		}
	case NetworkHost:
	default:
		probs.addf(ErrInvalid, field, "%q is not a network mode: none, bridge or host", m)
	}
	if v, ok := p.Metadata.Annotations[AnnotationAllowHostLoopback]; ok {
		field := "metadata.annotations[" + `"` + AnnotationAllowHostLoopback + `"]`
		switch {
		case v != "true" && v != "false":
			probs.addf(ErrInvalid, field, "%q: must be \"true\" or \"false\"", v)
		case v == "true" && p.NetworkMode() != NetworkBridge:
			probs.addf(ErrInvalid, field, "only a bridge pod reaches the host's loopback through its gateway (network mode %s)", p.NetworkMode())
		}
	}
	if s, ok := p.Metadata.Annotations[AnnotationSubnet]; ok {
		field := "metadata.annotations[" + `"` + AnnotationSubnet + `"]`
		pr, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			probs.addf(ErrInvalid, field, "%q is not a subnet such as %s", s, DefaultSubnet)
		case !pr.Addr().Is4() || pr.Bits() < 8 || pr.Bits() > 29:
			probs.addf(ErrInvalid, field, "%q: must be IPv4 with a prefix length of 8 to 29", s)
		}
	}
}
