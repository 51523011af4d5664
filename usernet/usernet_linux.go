// Package usernet gives the bridge's network holder outbound access through
// a user-mode network stack: pasta (Debian package passt) or, failing that,
// slirp4netns. The tool runs in the host's network namespace and owns a tap
// interface in the holder's; the holder routes and masquerades the pod
// subnet to it (netsetup.EnsureOutbound). Both tools map their gateway
// address (Gateway, 10.0.2.2 by default) to the host's loopback; the holder
// lets only pods that allow it reach that address.
//
// The tool is started by a keeper (the sandbox binary in role netkeeper,
// KeeperMain) in a session of its own, so that it belongs to the holder's
// lifetime and not to the supervisor that started it: the tool is the
// keeper's child with a parent-death signal, and the keeper kills it and
// exits as soon as the holder exits (it polls the holder's pidfd).
package usernet

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// Environment variables.
const (
	// EnvChoice selects the tool: auto (default: pasta, else slirp4netns),
	// pasta, slirp4netns or none.
	EnvChoice = "SANDBOX_USERNET"
	// EnvMarker is set in the tool's environment (value: the keeper's pid),
	// so that it can be told from other users' pasta or slirp4netns.
	EnvMarker = "_SANDBOX_USERNET"
	// RoleKeeper is the value of nsenter.EnvRole for the keeper.
	RoleKeeper = "netkeeper"
)

// TapName is the tool's interface in the holder's network namespace.
const TapName = "tap0"

// TunPath is the device both tools open.
const TunPath = "/dev/net/tun"

// Tool is a user-mode network stack.
type Tool struct {
	Name    string // pasta or slirp4netns
	Path    string
	Package string // the Debian package that ships it
}

var tools = []Tool{{Name: "pasta", Package: "passt"}, {Name: "slirp4netns", Package: "slirp4netns"}}

// Plan is the holder's uplink: Tool's tap interface TapName with Uplink
// (e.g. 10.0.2.100/24), default route via Gateway (10.0.2.2), which the tool
// maps to the host's 127.0.0.1.
type Plan struct {
	Tool    Tool
	Uplink  netip.Prefix
	Gateway netip.Addr
}

// Choose picks the tool (EnvChoice, else pasta, else slirp4netns) and an
// uplink subnet that does not overlap the pod subnet. An error explains why
// the holder gets no outbound access: the caller shows it as the one warning.
// It returns (Plan{}, nil) when EnvChoice is none.
func Choose(podSubnet netip.Prefix) (Plan, error) {
	want := os.Getenv(EnvChoice)
	var cands []Tool
	switch want {
	case "", "auto":
		cands = tools
	case "none":
		return Plan{}, nil
	default:
		for _, t := range tools {
			if t.Name == want {
				cands = []Tool{t}
			}
		}
		if cands == nil {
			return Plan{}, fmt.Errorf("%s=%q: must be auto, pasta, slirp4netns or none", EnvChoice, want)
		}
	}
	var plan Plan
	var installed []Tool
	for _, t := range cands {
		if p, err := exec.LookPath(t.Name); err == nil {
			t.Path = p
			installed = append(installed, t)
		}
	}
	if len(installed) == 0 {
		if len(cands) == 1 {
			return Plan{}, fmt.Errorf("no outbound access for bridge pods: %s is not installed (Debian package %s); pods still reach each other and hostPorts work", cands[0].Name, cands[0].Package)
		}
		return Plan{}, errors.New("no outbound access for bridge pods: neither pasta nor slirp4netns is installed (Debian packages passt and slirp4netns; either will do); pods still reach each other and hostPorts work")
	}
	for _, t := range installed {
		// pasta started as root switches to nobody before it opens the
		// holder's network namespace, which root owns: it cannot (measured:
		// "Couldn't open network namespace", also with --runas 0).
		if t.Name == "pasta" && os.Geteuid() == 0 {
			continue
		}
		plan.Tool = t
		break
	}
	if plan.Tool.Path == "" {
		return Plan{}, errors.New("no outbound access for bridge pods: as root only slirp4netns works (pasta switches to nobody and cannot join the root-owned network holder; Debian package slirp4netns); pods still reach each other and hostPorts work")
	}
	if err := CheckTun(); err != nil {
		return Plan{}, fmt.Errorf("no outbound access for bridge pods: %s needs %v; pods still reach each other and hostPorts work", plan.Tool.Name, err)
	}
	for _, c := range []string{"10.0.2.0/24", "10.0.3.0/24", "172.31.254.0/24", "192.168.254.0/24"} {
		pr := netip.MustParsePrefix(c)
		if pr.Overlaps(podSubnet) {
			continue
		}
		base := pr.Addr().As4()
		gw, up := base, base
		gw[3], up[3] = 2, 100 // slirp4netns's layout: gateway .2, guest .100
		plan.Uplink = netip.PrefixFrom(netip.AddrFrom4(up), 24)
		plan.Gateway = netip.AddrFrom4(gw)
		return plan, nil
	}
	return Plan{}, fmt.Errorf("no outbound access for bridge pods: the pod subnet %s overlaps every uplink subnet tried", podSubnet)
}

// CheckTun opens TunPath as both tools will: the error of an unprivileged
// user on a host where it is mode 0600 says so, with the fix.
func CheckTun() error {
	fd, err := unix.Open(TunPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	var st unix.Stat_t
	mode := ""
	if unix.Stat(TunPath, &st) == nil {
		mode = fmt.Sprintf(" (mode %04o, owner uid %d)", st.Mode&0o7777, st.Uid)
	}
	if errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%s: permission denied (EACCES) for uid %d%s: distributions ship it mode 0666 (fix as root: chmod 0666 %s)", TunPath, os.Geteuid(), mode, TunPath)
	}
	return fmt.Errorf("%s%s: %w", TunPath, mode, err)
}

// Args returns the tool's command line (after argv[0]) for the holder with
// pid, whose user namespace it joins when userns. dir is the network state
// directory (pasta writes its pid file there). readyFD is the descriptor of
// slirp4netns's ready pipe in the tool.
func (p Plan) Args(pid int, userns bool, dir string, readyFD int) []string {
	ns := "/proc/" + strconv.Itoa(pid) + "/ns/"
	switch p.Tool.Name {
	case "pasta":
		a := []string{"--foreground", "--quiet", "--ipv4-only", "--config-net", "--ns-ifname", TapName,
			// No port forwarding either way: hostPort is sandbox's own.
			"--tcp-ports", "none", "--udp-ports", "none", "--tcp-ns", "none", "--udp-ns", "none",
			"--address", p.Uplink.Addr().String(), "--netmask", strconv.Itoa(p.Uplink.Bits()),
			"--gateway", p.Gateway.String(), "--no-dhcp", "--pid", PidFile(dir)}
		if userns {
			a = append(a, "--userns", ns+"user")
		}
		return append(a, "--netns", ns+"net")
	default: // slirp4netns
		a := []string{"--configure", "--mtu=65520", "--cidr=" + p.Uplink.Masked().String(), "--ready-fd=" + strconv.Itoa(readyFD)}
		if userns {
			a = append(a, "--userns-path="+ns+"user")
		}
		return append(a, "--netns-type=path", ns+"net", TapName)
	}
}

// PidFile is where pasta writes its pid once its tap interface is set up.
func PidFile(dir string) string { return dir + "/pasta.pid" }
