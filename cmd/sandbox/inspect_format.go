package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// inspect --format tree and --format dot: the pause and each container
// process with its namespaces, each marked as the pod's (created by the
// pause and joined), private (the container's own) or the host's, plus the
// pod's volumes and ports from the manifest. Sharing is decided by comparing
// namespace inodes, the way `ls -l /proc/PID/ns` shows them.

// nsTypes is the order namespaces are shown in.
var nsTypes = []string{"user", "net", "ipc", "uts", "pid", "mnt", "cgroup"}

// Namespace kinds.
const (
	nsPod     = "pod"     // the pause's own namespace, which the pod shares
	nsShared  = "shared"  // a container's namespace that is the pause's
	nsPrivate = "private" // a container's namespace of its own
	nsHost    = "host"    // the host's (the namespace inspect runs in)
	nsUnknown = "unknown" // not recorded
)

// podManifestView is the part of the manifest the formats show.
type podManifestView struct {
	Spec struct {
		HostNetwork           bool                  `json:"hostNetwork"`
		ShareProcessNamespace *bool                 `json:"shareProcessNamespace"`
		Volumes               []volumeView          `json:"volumes"`
		InitContainers        []containerSourceView `json:"initContainers"`
		Containers            []containerSourceView `json:"containers"`
	} `json:"spec"`
}

type volumeView struct {
	Name     string `json:"name"`
	EmptyDir *struct {
		Medium string `json:"medium"`
	} `json:"emptyDir"`
	HostPath *struct {
		Path string `json:"path"`
	} `json:"hostPath"`
}

func (v volumeView) source() string {
	switch {
	case v.HostPath != nil:
		return "hostPath " + v.HostPath.Path
	case v.EmptyDir != nil && v.EmptyDir.Medium != "":
		return "emptyDir (" + v.EmptyDir.Medium + ")"
	case v.EmptyDir != nil:
		return "emptyDir"
	}
	return "?"
}

type containerSourceView struct {
	Name  string `json:"name"`
	Ports []struct {
		ContainerPort int64  `json:"containerPort"`
		HostPort      int64  `json:"hostPort"`
		Protocol      string `json:"protocol"`
		HostIP        string `json:"hostIP"`
	} `json:"ports"`
	VolumeMounts []struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		ReadOnly  bool   `json:"readOnly"`
		SubPath   string `json:"subPath"`
	} `json:"volumeMounts"`
}

// graphNS is one namespace of one process.
type graphNS struct {
	typ  string
	ino  uint64
	kind string
}

type graphProc struct {
	name  string // "pause" or the container's name
	init  bool   // an init container
	pid   int
	state string
	ns    []graphNS
	mntOf []graphMount
	ports []graphPort
}

type graphMount struct {
	volume, path string
	readOnly     bool
	subPath      string
}

type graphPort struct {
	container int64
	host      int64
	proto     string
	hostIP    string
}

func (p graphPort) String() string {
	s := fmt.Sprintf("%d/%s", p.container, p.proto)
	if p.host != 0 {
		ip := p.hostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		s += fmt.Sprintf(", published on host %s", joinHostPort(ip, p.host))
	}
	return s
}

func joinHostPort(ip string, port int64) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.FormatInt(port, 10)
	}
	return ip + ":" + strconv.FormatInt(port, 10)
}

type podGraph struct {
	name    string
	phase   string
	ip      string      // the pod's address on a bridge network, if any
	procs   []graphProc // the pause first
	volumes []volumeView
}

// hostNamespaces are the inodes of the namespaces inspect itself runs in.
func hostNamespaces() map[string]uint64 {
	out := map[string]uint64{}
	for _, t := range nsTypes {
		var st unix.Stat_t
		if unix.Stat("/proc/self/ns/"+t, &st) == nil {
			out[t] = st.Ino
		}
	}
	return out
}

func buildPodGraph(v inspectView, host map[string]uint64) podGraph {
	g := podGraph{name: v.Name, phase: v.Phase, ip: v.PodIP}
	if v.Reason != "" {
		g.phase += " (" + v.Reason + ")"
	}
	var m podManifestView
	_ = json.Unmarshal(v.Manifest, &m)
	g.volumes = m.Spec.Volumes
	sources := map[string]containerSourceView{}
	for _, c := range append(append([]containerSourceView(nil), m.Spec.InitContainers...), m.Spec.Containers...) {
		sources[c.Name] = c
	}
	pauseState := "exited"
	if v.PauseAlive {
		pauseState = "running"
	}
	pause := graphProc{name: "pause", pid: v.Pause.PID, state: pauseState}
	for _, t := range nsTypes {
		ino, ok := v.Namespaces[t]
		kind := nsPod
		switch {
		case !ok:
			kind = nsUnknown
		case ino == host[t]:
			kind = nsHost
		}
		pause.ns = append(pause.ns, graphNS{t, ino, kind})
	}
	g.procs = append(g.procs, pause)
	for _, c := range v.Containers {
		p := graphProc{name: c.Name, init: c.Init, pid: c.Process.PID, state: c.State}
		for _, t := range nsTypes {
			ino, ok := c.Namespaces[t]
			kind := nsPrivate
			switch {
			case !ok:
				kind = nsUnknown
			case ino == host[t]:
				kind = nsHost
			case ino == v.Namespaces[t]:
				kind = nsShared
			}
			p.ns = append(p.ns, graphNS{t, ino, kind})
		}
		src := sources[c.Name]
		for _, vm := range src.VolumeMounts {
			p.mntOf = append(p.mntOf, graphMount{volume: vm.Name, path: vm.MountPath, readOnly: vm.ReadOnly, subPath: vm.SubPath})
		}
		for _, port := range src.Ports {
			proto := port.Protocol
			if proto == "" {
				proto = "TCP"
			}
			p.ports = append(p.ports, graphPort{container: port.ContainerPort, host: port.HostPort, proto: proto, hostIP: port.HostIP})
		}
		g.procs = append(g.procs, p)
	}
	return g
}

func (m graphMount) String() string {
	s := m.volume + " on " + m.path
	if m.subPath != "" {
		s += " (subPath " + m.subPath + ")"
	}
	if m.readOnly {
		s += ", read-only"
	}
	return s
}

// nsKindText is how the tree names a kind.
func nsKindText(kind string) string {
	switch kind {
	case nsPod:
		return "pod      (created by the pause; the containers join it)"
	case nsShared:
		return "shared   (the pause's)"
	case nsPrivate:
		return "private  (this container's own)"
	case nsHost:
		return "host     (not isolated)"
	}
	return "unknown"
}

func (p graphProc) title() string {
	switch {
	case p.name == "pause":
		return fmt.Sprintf("pause (pid %d, %s): PID 1 of the pod, holds its namespaces", p.pid, p.state)
	case p.init:
		return fmt.Sprintf("init container %s (pid %d, %s)", p.name, p.pid, p.state)
	}
	return fmt.Sprintf("container %s (pid %d, %s)", p.name, p.pid, p.state)
}

func (g podGraph) ipNote() string {
	if g.ip == "" {
		return ""
	}
	return ", IP " + g.ip
}

// writeTree prints the pod as an indented tree.
func writeTree(w io.Writer, g podGraph) {
	fmt.Fprintf(w, "pod %s (%s)%s\n", g.name, g.phase, g.ipNote())
	last := len(g.procs) - 1
	if len(g.volumes) > 0 {
		last = -1
	}
	for i, p := range g.procs {
		branch, pad := "├─ ", "│    "
		if i == last {
			branch, pad = "└─ ", "     "
		}
		fmt.Fprintf(w, "%s%s\n", branch, p.title())
		for _, n := range p.ns {
			ino := "-"
			if n.ino != 0 {
				ino = strconv.FormatUint(n.ino, 10)
			}
			fmt.Fprintf(w, "%s%-7s%-12s %s\n", pad, n.typ, ino, nsKindText(n.kind))
		}
		for _, m := range p.mntOf {
			fmt.Fprintf(w, "%svolume %s\n", pad, m)
		}
		for _, port := range p.ports {
			fmt.Fprintf(w, "%sport   %s\n", pad, port)
		}
	}
	if len(g.volumes) > 0 {
		fmt.Fprintf(w, "└─ volumes\n")
		for _, v := range g.volumes {
			fmt.Fprintf(w, "     %-14s %s\n", v.Name, v.source())
		}
	}
}

// writeDot prints the pod as a Graphviz digraph: a box per process, an
// ellipse per distinct namespace (an edge from every process in it, so a
// shared namespace has many), a cylinder per volume, and the host ports.
func writeDot(w io.Writer, g podGraph) {
	q := strconv.Quote
	fmt.Fprintf(w, "digraph %s {\n", q("pod "+g.name))
	fmt.Fprintf(w, "  rankdir=LR;\n  compound=true;\n  fontname=\"Helvetica\";\n")
	fmt.Fprintf(w, "  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")

	nsID := func(n graphNS) string { return fmt.Sprintf("ns_%s_%d", n.typ, n.ino) }
	procID := func(p graphProc) string { return "proc_" + dotSafe(p.name) }
	// Each distinct namespace once, grouped by who owns it.
	seen := map[string]bool{}
	var podNS, hostNS []graphNS
	privNS := map[string][]graphNS{}
	for _, p := range g.procs {
		for _, n := range p.ns {
			if n.kind == nsUnknown || seen[nsID(n)] {
				continue
			}
			seen[nsID(n)] = true
			switch n.kind {
			case nsPod, nsShared:
				podNS = append(podNS, n)
			case nsHost:
				hostNS = append(hostNS, n)
			default:
				privNS[p.name] = append(privNS[p.name], n)
			}
		}
	}

	fmt.Fprintf(w, "  subgraph cluster_pod {\n    label=%s;\n    style=rounded;\n    color=\"#4a6fa5\";\n", q(fmt.Sprintf("pod %s (%s)%s", g.name, g.phase, g.ipNote())))
	fmt.Fprintf(w, "    subgraph cluster_shared {\n      label=\"namespaces of the pod (held by the pause)\";\n      style=filled;\n      fillcolor=\"#dde8f6\";\n      color=\"#4a6fa5\";\n")
	for _, n := range podNS {
		fmt.Fprintf(w, "      %s [shape=ellipse, style=filled, fillcolor=\"#9fc1ea\", label=%s];\n", nsID(n), q(fmt.Sprintf("%s\n%d", n.typ, n.ino)))
	}
	fmt.Fprintf(w, "    }\n")
	for _, p := range g.procs {
		label := fmt.Sprintf("%s\npid %d\n%s", p.name, p.pid, p.state)
		style := "shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\""
		switch {
		case p.name == "pause":
			label = fmt.Sprintf("pause\npid %d, PID 1 of the pod\n%s", p.pid, p.state)
			style = "shape=box, style=\"rounded,filled\", fillcolor=\"#d9d9d9\""
		case p.init:
			label = "init " + label
		}
		fmt.Fprintf(w, "    %s [%s, label=%s];\n", procID(p), style, q(label))
		for _, n := range privNS[p.name] {
			fmt.Fprintf(w, "    %s [shape=ellipse, style=filled, fillcolor=\"#fbe3a5\", label=%s];\n", nsID(n), q(fmt.Sprintf("%s\n%d\nprivate to %s", n.typ, n.ino, p.name)))
		}
	}
	for _, v := range g.volumes {
		fmt.Fprintf(w, "    %s [shape=cylinder, style=filled, fillcolor=\"#cfe8cf\", label=%s];\n", "vol_"+dotSafe(v.Name), q(v.Name+"\n"+v.source()))
	}
	fmt.Fprintf(w, "  }\n")

	if len(hostNS) > 0 {
		fmt.Fprintf(w, "  subgraph cluster_host {\n    label=\"host namespaces (not isolated)\";\n    style=dashed;\n    color=\"#888888\";\n")
		for _, n := range hostNS {
			fmt.Fprintf(w, "    %s [shape=ellipse, style=dashed, color=\"#888888\", label=%s];\n", nsID(n), q(fmt.Sprintf("%s\n%d", n.typ, n.ino)))
		}
		fmt.Fprintf(w, "  }\n")
	}

	for _, p := range g.procs {
		for _, n := range p.ns {
			if n.kind == nsUnknown {
				continue
			}
			attrs := "color=\"#4a6fa5\""
			switch n.kind {
			case nsHost:
				attrs = "color=\"#aaaaaa\", style=dashed"
			case nsPrivate:
				attrs = "color=\"#c98a00\""
			}
			fmt.Fprintf(w, "  %s -> %s [%s];\n", procID(p), nsID(n), attrs)
		}
		for _, m := range p.mntOf {
			label := m.path
			if m.readOnly {
				label += " (ro)"
			}
			fmt.Fprintf(w, "  %s -> %s [color=\"#3c8a3c\", label=%s];\n", "vol_"+dotSafe(m.volume), procID(p), q(label))
		}
		for i, port := range p.ports {
			if port.host == 0 {
				continue
			}
			id := fmt.Sprintf("port_%s_%d", dotSafe(p.name), i)
			ip := port.hostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			fmt.Fprintf(w, "  %s [shape=cds, style=filled, fillcolor=\"#f4c7c3\", label=%s];\n", id, q(fmt.Sprintf("host %s/%s", joinHostPort(ip, port.host), port.proto)))
			fmt.Fprintf(w, "  %s -> %s [color=\"#b03a2e\", label=%s];\n", id, procID(p), q(fmt.Sprintf("port %d", port.container)))
		}
	}
	fmt.Fprintf(w, "}\n")
}

// dotSafe makes a name usable in a Graphviz ID (names are DNS labels, but
// be safe).
func dotSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// writeInspectFormat prints each pod in format (tree or dot).
func writeInspectFormat(views []inspectView, format string) error {
	host := hostNamespaces()
	for i, v := range views {
		g := buildPodGraph(v, host)
		switch format {
		case "tree":
			if i > 0 {
				fmt.Fprintln(os.Stdout)
			}
			writeTree(os.Stdout, g)
		case "dot":
			writeDot(os.Stdout, g)
		}
	}
	return nil
}

// checkInspectFormat validates --format.
func checkInspectFormat(format string) error {
	switch format {
	case "", "json", "tree", "dot":
		return nil
	}
	return fmt.Errorf("--format %q: want json, tree or dot", format)
}
