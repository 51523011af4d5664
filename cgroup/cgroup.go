// Package cgroup puts a pod and each of its containers in a cgroup by
// writing the cgroup filesystems' files itself: it finds which cgroup
// hierarchies are mounted where (v1, v2 or both, "hybrid"), decides before
// creating anything which limits can be enforced and why the others cannot,
// creates the pod's cgroup with a leaf per container below the cgroup sandbox
// was started in (or an explicit parent), places processes, kills everything
// in the pod (cgroup.kill on v2, freeze and SIGKILL on v1), reads OOM kills
// and usage, and removes the cgroups, also the ones a dead supervisor left.
//
// Hybrid hosts mount cgroup v2 at /sys/fs/cgroup/unified: every path is
// built from the mountpoints found in /proc/self/mountinfo. (It used
// github.com/containerd/cgroups/v3 for the few files it writes; that
// library's dependencies, protobuf among them, cost every start of the
// binary about 0.15 ms of package initialization.)
//
// Safety: cgroups are only created below the parent, whose name is given by
// the caller; processes are only moved when the caller started them; limits
// are only written to cgroups this package created. The package returns
// errors and never logs.
package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
)

// Controllers this package uses for limits.
const (
	Memory = "memory"
	CPU    = "cpu"
	Pids   = "pids"
)

// Mounts is where the cgroup hierarchies are mounted, from mountinfo.
type Mounts struct {
	// Unified is the cgroup2 mount, nil when none.
	Unified *Mount
	// V1 maps each v1 controller (and named hierarchies as "name=systemd")
	// to its mount.
	V1 map[string]Mount
}

// Mount is one cgroup filesystem mount.
type Mount struct {
	// Point is the mountpoint, e.g. /sys/fs/cgroup/memory.
	Point string
	// Root is the directory of the hierarchy that is mounted there (field
	// 4 of mountinfo; "/" unless inside a container).
	Root string
}

// Mode is the layout of a host.
type Mode int

// The layouts.
const (
	// ModeNone: no cgroup filesystem is mounted.
	ModeNone Mode = iota
	// ModeLegacy: cgroup v1 only.
	ModeLegacy
	// ModeHybrid: v1 hierarchies hold the controllers, and cgroup v2 is
	// mounted too (usually at /sys/fs/cgroup/unified, with no controllers).
	ModeHybrid
	// ModeUnified: cgroup v2 only.
	ModeUnified
)

func (m Mode) String() string {
	switch m {
	case ModeLegacy:
		return "cgroup v1 (legacy)"
	case ModeHybrid:
		return "cgroup v1 with cgroup v2 (hybrid)"
	case ModeUnified:
		return "cgroup v2 (unified)"
	}
	return "no cgroup filesystem"
}

// Mode tells the host's layout from its mounts.
func (m Mounts) Mode() Mode {
	v1 := false
	for name := range m.V1 {
		if !strings.HasPrefix(name, "name=") {
			v1 = true
		}
	}
	switch {
	case v1 && m.Unified != nil:
		return ModeHybrid
	case v1:
		return ModeLegacy
	case m.Unified != nil:
		return ModeUnified
	}
	return ModeNone
}

// ParseMountinfo reads /proc/PID/mountinfo. The first mount of each
// hierarchy counts (a bind mount of a cgroup elsewhere comes later).
func ParseMountinfo(r io.Reader) (Mounts, error) {
	m := Mounts{V1: map[string]Mount{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		mnt := Mount{Point: unescapeMountinfo(f[4]), Root: unescapeMountinfo(f[3])}
		switch g[0] {
		case "cgroup2":
			if m.Unified == nil {
				mnt := mnt
				m.Unified = &mnt
			}
		case "cgroup":
			for _, opt := range strings.Split(g[2], ",") {
				if !isV1Controller(opt) {
					continue
				}
				if _, dup := m.V1[opt]; !dup {
					m.V1[opt] = mnt
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Mounts{}, fmt.Errorf("read mountinfo: %w", err)
	}
	return m, nil
}

// isV1Controller tells controller names and "name=" from the other
// super options of a v1 mount (rw, relatime, clone_children, ...).
func isV1Controller(opt string) bool {
	if strings.HasPrefix(opt, "name=") {
		return true
	}
	switch opt {
	case "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
		"perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc":
		return true
	}
	return false
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Membership is the cgroup of a process in each hierarchy, from
// /proc/PID/cgroup.
type Membership struct {
	// Unified is the v2 path ("0::/path"), "" when the line is missing.
	Unified string
	// V1 maps each v1 controller (and "name=systemd") to the path.
	V1 map[string]string
}

// ParseProcCgroup reads /proc/PID/cgroup.
func ParseProcCgroup(r io.Reader) (Membership, error) {
	m := Membership{V1: map[string]string{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path; the path may contain ':'.
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			m.Unified = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c != "" {
				m.V1[c] = parts[2]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Membership{}, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	return m, nil
}

// Dir is the directory of cgroup path p (as in /proc/PID/cgroup) under
// mount m: the path is relative to the hierarchy's root, of which the mount
// may show only a subtree.
func (m Mount) Dir(p string) string {
	p = path.Clean("/" + p)
	root := path.Clean("/" + m.Root)
	if root != "/" {
		if rel, ok := strings.CutPrefix(p, root); ok && (rel == "" || rel[0] == '/') {
			p = "/" + rel
		}
	}
	return path.Join(m.Point, p)
}

// Limits are the values written to one cgroup. A zero field is not set.
type Limits struct {
	// MemoryBytes: memory.max (v1 memory.limit_in_bytes).
	MemoryBytes int64
	// CPUQuota and CPUPeriod in microseconds: cpu.max (v1
	// cpu.cfs_quota_us and cpu.cfs_period_us).
	CPUQuota  int64
	CPUPeriod uint64
	// CPUShares: v1 cpu.shares; v2 cpu.weight is derived from it.
	CPUShares uint64
	// Pids: pids.max.
	Pids int64
}

// Controllers returns the controllers the limits need.
func (l Limits) Controllers() []string {
	var c []string
	if l.MemoryBytes > 0 {
		c = append(c, Memory)
	}
	if l.CPUQuota > 0 || l.CPUShares > 0 {
		c = append(c, CPU)
	}
	if l.Pids > 0 {
		c = append(c, Pids)
	}
	return c
}

// Kubelet's conversions (pkg/kubelet/cm/helpers_linux.go).
const (
	// QuotaPeriod is the CFS period kubelet uses: 100 ms.
	QuotaPeriod  = 100000
	minQuota     = 1000
	minShares    = 2
	maxShares    = 262144
	sharesPerCPU = 1024
)

// CPUQuota converts a CPU limit in millicores to a quota per QuotaPeriod,
// like kubelet's MilliCPUToQuota (at least 1 ms). 0 means no limit.
func CPUQuota(milli int64) (quota int64, period uint64) {
	if milli <= 0 {
		return 0, 0
	}
	quota = milli * QuotaPeriod / 1000
	return max(quota, minQuota), QuotaPeriod
}

// CPUShares converts a CPU request in millicores to v1 cpu.shares like
// kubelet's MilliCPUToShares; 0 means unset.
func CPUShares(milli int64) uint64 {
	if milli <= 0 {
		return 0
	}
	s := milli * sharesPerCPU / 1000
	return uint64(min(max(s, minShares), maxShares))
}

// SharesToWeight converts cpu.shares [2, 262144] to v2 cpu.weight
// [1, 10000], the formula of runc, crun and the OCI runtime spec.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	shares = min(max(shares, minShares), maxShares)
	return 1 + ((shares-2)*9999)/262142
}

// ParseOOMKills returns the oom_kill counter of a memory.events (v2) or
// memory.oom_control (v1) file: "oom_kill N" lines in both.
func ParseOOMKills(r io.Reader) (uint64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != "oom_kill" {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// ValidName reports whether name can name a cgroup below a parent: one
// path element, no control file prefix.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= 255 &&
		!strings.ContainsAny(name, "/\n\x00") && !strings.HasPrefix(name, "cgroup.")
}
