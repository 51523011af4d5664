package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Sentinel errors.
var (
	// ErrExists: the pod's cgroup is already there.
	ErrExists = errors.New("cgroup already exists")
	// ErrParent: the parent cgroup is missing or invalid.
	ErrParent = errors.New("bad parent cgroup")
)

// NamePrefix starts the name of every cgroup this package creates directly
// below a parent; stale cleanup refuses anything else.
const NamePrefix = "sandbox-"

// Options say where the pod's cgroup goes and what it needs.
type Options struct {
	// Parent is a cgroup path as in /proc/PID/cgroup ("/pods"); "" means the
	// cgroup the calling process is in (per hierarchy on v1).
	Parent string
	// Name names the pod's cgroup below the parent; it must start with
	// NamePrefix.
	Name string
	// Need are the controllers the pod's limits need.
	Need []string
}

// Plan is the decision made before anything is created: which version,
// where, which needed controllers cannot be used and why.
type Plan struct {
	// Version is 1 or 2, or 0 when no cgroup can be made (see NoCgroup).
	Version int
	Mode    Mode
	// NoCgroup says why, with the fix, when Version is 0.
	NoCgroup string
	// Unavailable maps each needed controller that cannot be used to the
	// reason and the fix.
	Unavailable map[string]string

	opts Options
	// v2
	mount    string // cgroup2 mountpoint
	parent   string // parent group path relative to mount, "/x/y"
	enable   []string
	moveSelf bool
	// v1
	v1Root   string            // directory holding the hierarchies, e.g. /sys/fs/cgroup
	v1Parent map[string]string // subsystem -> parent path relative to v1Root/subsystem
	v1Subs   []string          // subsystems to create the pod in
}

const (
	fixDelegate = "start sandbox in a cgroup v2 subtree delegated to your user (systemd: `systemd-run --user --scope -p Delegate=yes sandbox run ...`, " +
		"or a unit with Delegate=yes), or pass --cgroup-parent a subtree chown'ed to you"
	fixRoot = "run sandbox as root, or use a host with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and a delegated subtree (systemd Delegate=yes)"
)

// Detect plans the pod's cgroups on this host: it reads mountinfo and the
// calling process's cgroups and checks what is writable. It creates
// nothing. An error means the options are wrong (a parent that does not
// exist); a host where no cgroup can be made gives Version 0.
func Detect(o Options) (*Plan, error) {
	if !strings.HasPrefix(o.Name, NamePrefix) || !ValidName(o.Name) {
		return nil, fmt.Errorf("cgroup name %q: must start with %q and be one path element", o.Name, NamePrefix)
	}
	if o.Parent != "" && (!path.IsAbs(o.Parent) || path.Clean(o.Parent) != o.Parent) {
		return nil, fmt.Errorf("%w: --cgroup-parent %q must be a clean absolute cgroup path such as /pods", ErrParent, o.Parent)
	}
	mf, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	mounts, err := ParseMountinfo(mf)
	mf.Close()
	if err != nil {
		return nil, err
	}
	cf, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	self, err := ParseProcCgroup(cf)
	cf.Close()
	if err != nil {
		return nil, err
	}
	return decide(mounts, self, os.Geteuid(), o)
}

func decide(m Mounts, self Membership, euid int, o Options) (*Plan, error) {
	p := &Plan{Mode: m.Mode(), opts: o, Unavailable: map[string]string{}}
	switch p.Mode {
	case ModeNone:
		p.NoCgroup = "no cgroup filesystem is mounted (fix: mount cgroup2 at /sys/fs/cgroup)"
	case ModeUnified:
		return p, p.tryV2(m, self, euid)
	case ModeLegacy, ModeHybrid:
		if euid == 0 {
			return p, p.tryV1(m, self)
		}
		if p.Mode == ModeLegacy {
			p.NoCgroup = fmt.Sprintf("this host has only cgroup v1, which only root can use (sandbox runs as uid %d) (fix: %s)", euid, fixRoot)
			break
		}
		return p, p.tryV2(m, self, euid)
	}
	for _, c := range o.Need {
		p.Unavailable[c] = p.NoCgroup
	}
	return p, nil
}

func (p *Plan) none(reason string) {
	p.Version, p.NoCgroup = 0, reason
	for _, c := range p.opts.Need {
		p.Unavailable[c] = reason
	}
}

func (p *Plan) tryV2(m Mounts, self Membership, euid int) error {
	group := p.opts.Parent
	if group == "" {
		group = self.Unified
	}
	dir := m.Unified.Dir(group)
	p.mount = m.Unified.Point
	p.parent = strings.TrimPrefix(dir, p.mount)
	if p.parent == "" {
		p.parent = "/"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if p.opts.Parent != "" {
			return fmt.Errorf("%w: cgroup %s does not exist", ErrParent, dir)
		}
		p.none(fmt.Sprintf("the cgroup sandbox runs in, %s, is not visible: %v", dir, err))
		return nil
	}
	// Delegation: the subtree's directory and cgroup.procs are writable by
	// us (systemd Delegate=yes chowns them, as does a manual delegation).
	if unix.Access(dir, unix.W_OK|unix.X_OK) != nil || unix.Access(filepath.Join(dir, "cgroup.procs"), unix.W_OK) != nil {
		p.none(fmt.Sprintf("the cgroup %s is not delegated to uid %d (its directory or cgroup.procs is not writable) (fix: %s)", dir, euid, fixDelegate))
		return nil
	}
	p.Version = 2
	available := readFields(filepath.Join(dir, "cgroup.controllers"))
	enabled := readFields(filepath.Join(dir, "cgroup.subtree_control"))
	canEnable := unix.Access(filepath.Join(dir, "cgroup.subtree_control"), unix.W_OK) == nil
	for _, c := range p.opts.Need {
		switch {
		case slices.Contains(enabled, c):
		case slices.Contains(available, c) && canEnable:
			p.enable = append(p.enable, c)
		case slices.Contains(available, c):
			p.Unavailable[c] = fmt.Sprintf("the %s controller is not enabled in %s/cgroup.subtree_control, which uid %d cannot write (fix: %s)", c, dir, euid, fixDelegate)
		default:
			reason := fmt.Sprintf("the cgroup v2 controller %s is not available in %s (cgroup.controllers: %q)", c, dir, strings.Join(available, " "))
			if p.Mode == ModeHybrid {
				reason += fmt.Sprintf("; this host has the hybrid layout, where %s is bound to cgroup v1, which only root can use (fix: %s)", c, fixRoot)
			} else {
				reason += " (fix: delegate it, e.g. systemd Delegate=yes or Delegate=cpu memory pids on the unit)"
			}
			p.Unavailable[c] = reason
		}
	}
	// The "no internal processes" rule: controllers can be enabled for
	// the children of a cgroup only while it has no processes, so the
	// supervisor first moves itself into a leaf of its own.
	p.moveSelf = len(p.enable) > 0 && path.Clean("/"+self.Unified) == path.Clean("/"+group)
	return nil
}

// tryV1 uses the limits' hierarchies, cpuacct for usage and the freezer
// for killing without escapes.
func (p *Plan) tryV1(m Mounts, self Membership) error {
	p.Version = 1
	p.v1Parent = map[string]string{}
	for _, sub := range []string{Memory, CPU, "cpuacct", Pids, "freezer"} {
		mnt, ok := m.V1[sub]
		if !ok {
			if slices.Contains(p.opts.Need, sub) {
				p.Unavailable[sub] = fmt.Sprintf("no cgroup v1 %s hierarchy is mounted (fix: mount it, or use cgroup v2)", sub)
			}
			continue
		}
		// containerd/cgroups finds a hierarchy at <root>/<subsystem>;
		// "cpu,cpuacct" mounts usually come with such symlinks.
		root := filepath.Dir(mnt.Point)
		if p.v1Root == "" {
			p.v1Root = root
		}
		if st, err := os.Stat(filepath.Join(p.v1Root, sub)); err != nil || !st.IsDir() {
			if slices.Contains(p.opts.Need, sub) {
				p.Unavailable[sub] = fmt.Sprintf("the cgroup v1 %s hierarchy is mounted at %s, not at %s/%s (fix: add that symlink)", sub, mnt.Point, p.v1Root, sub)
			}
			continue
		}
		group := p.opts.Parent
		if group == "" {
			group = self.V1[sub]
		}
		dir := mnt.Dir(group)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			if p.opts.Parent != "" {
				return fmt.Errorf("%w: cgroup %s does not exist", ErrParent, dir)
			}
			if slices.Contains(p.opts.Need, sub) {
				p.Unavailable[sub] = fmt.Sprintf("the cgroup sandbox runs in, %s, is not visible", dir)
			}
			continue
		}
		p.v1Parent[sub] = "/" + strings.TrimPrefix(strings.TrimPrefix(dir, mnt.Point), "/")
		p.v1Subs = append(p.v1Subs, sub)
	}
	if len(p.v1Subs) == 0 {
		p.none("no usable cgroup v1 hierarchy (fix: mount the memory, cpu, pids and freezer hierarchies, or use cgroup v2)")
	}
	return nil
}

func readFields(file string) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

// Pod is a pod's cgroup with its leaves.
type Pod struct {
	plan   *Plan
	leaves map[string]bool
	// v1
	v1 cgroup1.Cgroup
	// v2
	v2 *cgroup2.Manager
	// selfLeaf is the leaf the supervisor moved into (v2), "" if none.
	selfLeaf string
}

// Dirs are the directories the pod's cgroups will have: one per v1
// hierarchy, or one on v2. Record them before Create, so that a crash
// during or after it can be cleaned up by RemoveStale.
func (p *Plan) Dirs() []string {
	switch p.Version {
	case 1:
		var dirs []string
		for _, sub := range p.v1Subs {
			dirs = append(dirs, filepath.Join(p.v1Root, sub, p.v1Parent[sub], p.opts.Name))
		}
		return dirs
	case 2:
		return []string{filepath.Join(p.mount, p.parent, p.opts.Name)}
	}
	return nil
}

// Create makes the pod's cgroup with the pod limits and one leaf per name
// in leaves with its limits. On failure it removes what it made.
func (p *Plan) Create(pod Limits, leaves map[string]Limits) (_ *Pod, err error) {
	for name := range leaves {
		if !ValidName(name) {
			return nil, fmt.Errorf("cgroup leaf name %q is invalid", name)
		}
	}
	for _, d := range p.Dirs() {
		if _, err := os.Lstat(d); err == nil {
			return nil, fmt.Errorf("%w: %s: another sandbox of this pod runs below the same parent, or one died without cleanup (remove it with rmdir once it is empty)", ErrExists, d)
		}
	}
	cg := &Pod{plan: p, leaves: map[string]bool{}}
	defer func() {
		// A directory that appeared meanwhile is not ours to remove.
		if err != nil && !errors.Is(err, os.ErrExist) {
			cg.Kill()
			cg.Remove()
		}
	}()
	switch p.Version {
	case 1:
		err = cg.createV1(pod, leaves)
	case 2:
		err = cg.createV2(pod, leaves)
	default:
		return nil, errors.New("no cgroup can be created: " + p.NoCgroup)
	}
	if err != nil {
		return nil, err
	}
	return cg, nil
}

func (p *Plan) v1Hierarchy() cgroup1.Hierarchy {
	return func() ([]cgroup1.Subsystem, error) {
		var subs []cgroup1.Subsystem
		for _, s := range p.v1Subs {
			switch s {
			case Memory:
				subs = append(subs, cgroup1.NewMemory(p.v1Root))
			case CPU:
				subs = append(subs, cgroup1.NewCpu(p.v1Root))
			case "cpuacct":
				subs = append(subs, cgroup1.NewCpuacct(p.v1Root))
			case Pids:
				subs = append(subs, cgroup1.NewPids(p.v1Root))
			case "freezer":
				subs = append(subs, cgroup1.NewFreezer(p.v1Root))
			}
		}
		return subs, nil
	}
}

func (p *Plan) v1Path(leaf string) cgroup1.Path {
	return func(sub cgroup1.Name) (string, error) {
		parent, ok := p.v1Parent[string(sub)]
		if !ok {
			return "", cgroup1.ErrControllerNotActive
		}
		return filepath.Join(parent, p.opts.Name, leaf), nil
	}
}

// v1Resources converts limits to the OCI form cgroup1 writes, leaving out
// what the plan cannot enforce.
func (p *Plan) v1Resources(l Limits) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.MemoryBytes > 0 && p.usable(Memory) {
		r.Memory = &specs.LinuxMemory{Limit: &l.MemoryBytes}
	}
	if (l.CPUQuota > 0 || l.CPUShares > 0) && p.usable(CPU) {
		r.CPU = &specs.LinuxCPU{}
		if l.CPUQuota > 0 {
			r.CPU.Quota, r.CPU.Period = &l.CPUQuota, &l.CPUPeriod
		}
		if l.CPUShares > 0 {
			r.CPU.Shares = &l.CPUShares
		}
	}
	if l.Pids > 0 && p.usable(Pids) {
		r.Pids = &specs.LinuxPids{Limit: &l.Pids}
	}
	return r
}

func (p *Plan) usable(c string) bool {
	_, out := p.Unavailable[c]
	return !out
}

func (cg *Pod) createV1(pod Limits, leaves map[string]Limits) error {
	p := cg.plan
	// Only our own subsystems (WithHierarchy), so that nothing is created
	// in hierarchies the pod does not use.
	c, err := cgroup1.New(p.v1Path(""), p.v1Resources(pod), cgroup1.WithHierarchy(p.v1Hierarchy()))
	if err != nil {
		return fmt.Errorf("create cgroup %s: %w", p.opts.Name, err)
	}
	cg.v1 = c
	for _, name := range sortedKeys(leaves) {
		cg.leaves[name] = true
		if _, err := c.New(name, p.v1Resources(leaves[name])); err != nil {
			return fmt.Errorf("create cgroup %s/%s: %w", p.opts.Name, name, err)
		}
	}
	return nil
}

func sortedKeys(m map[string]Limits) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// v2Resources converts limits to what cgroup2 writes, leaving out what the
// plan cannot enforce.
func (p *Plan) v2Resources(l Limits) *cgroup2.Resources {
	r := &cgroup2.Resources{}
	if l.MemoryBytes > 0 && p.usable(Memory) {
		r.Memory = &cgroup2.Memory{Max: &l.MemoryBytes}
	}
	if (l.CPUQuota > 0 || l.CPUShares > 0) && p.usable(CPU) {
		r.CPU = &cgroup2.CPU{}
		if l.CPUQuota > 0 {
			r.CPU.Max = cgroup2.NewCPUMax(&l.CPUQuota, &l.CPUPeriod)
		}
		if l.CPUShares > 0 {
			w := SharesToWeight(l.CPUShares)
			r.CPU.Weight = &w
		}
	}
	if l.Pids > 0 && p.usable(Pids) {
		r.Pids = &cgroup2.Pids{Max: l.Pids}
	}
	return r
}

func (cg *Pod) createV2(pod Limits, leaves map[string]Limits) error {
	p := cg.plan
	parentDir := filepath.Join(p.mount, p.parent)
	if p.moveSelf {
		// Our own leaf, so that the parent can enable controllers for
		// its children. Only the calling process moves: it is ours.
		cg.selfLeaf = filepath.Join(parentDir, NamePrefix+"supervisor-"+strconv.Itoa(os.Getpid()))
		if err := os.Mkdir(cg.selfLeaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("create the supervisor's cgroup: %w", err)
		}
		if err := os.WriteFile(filepath.Join(cg.selfLeaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return fmt.Errorf("move the supervisor into %s: %w", cg.selfLeaf, err)
		}
	}
	if len(p.enable) > 0 {
		if err := writeSubtreeControl(parentDir, p.enable); err != nil {
			return err
		}
	}
	// The directories are made here, not by cgroup2.NewManager, whose
	// controller toggling writes the cgroup.subtree_control of every
	// ancestor up to the mountpoint: cgroups that are not ours.
	group := path.Join(p.parent, p.opts.Name)
	if err := os.Mkdir(filepath.Join(p.mount, group), 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", filepath.Join(p.mount, group), err)
	}
	m, err := cgroup2.Load(group, cgroup2.WithMountpoint(p.mount))
	if err != nil {
		return fmt.Errorf("load cgroup %s: %w", group, err)
	}
	cg.v2 = m
	if err := m.Update(p.v2Resources(pod)); err != nil {
		return fmt.Errorf("set limits of cgroup %s: %w", group, err)
	}
	// The pod cgroup holds no process itself, so its children may get
	// every controller it has.
	var need []string
	for _, c := range p.opts.Need {
		if p.usable(c) {
			need = append(need, c)
		}
	}
	if len(need) > 0 {
		if err := writeSubtreeControl(filepath.Join(p.mount, group), need); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(leaves) {
		dir := filepath.Join(p.mount, group, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		cg.leaves[name] = true
		leaf, err := cgroup2.Load(path.Join(group, name), cgroup2.WithMountpoint(p.mount))
		if err != nil {
			return err
		}
		if err := leaf.Update(p.v2Resources(leaves[name])); err != nil {
			return fmt.Errorf("set limits of cgroup %s: %w", dir, err)
		}
	}
	return nil
}

func writeSubtreeControl(dir string, controllers []string) error {
	var b strings.Builder
	for i, c := range controllers {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("+" + c)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(b.String()), 0); err != nil {
		return fmt.Errorf("enable %s in %s/cgroup.subtree_control: %w", strings.Join(controllers, ", "), dir, err)
	}
	return nil
}

// Version is 1 or 2.
func (cg *Pod) Version() int { return cg.plan.Version }

// Dirs are the pod's cgroup directories (see Plan.Dirs).
func (cg *Pod) Dirs() []string { return cg.plan.Dirs() }

// LeafDir is the directory of leaf in hierarchy sub (v1) or on v2 (sub
// ignored); "" when the pod has no such hierarchy.
func (cg *Pod) LeafDir(sub, leaf string) string {
	p := cg.plan
	if p.Version == 2 {
		return filepath.Join(p.mount, p.parent, p.opts.Name, leaf)
	}
	parent, ok := p.v1Parent[sub]
	if !ok {
		return ""
	}
	return filepath.Join(p.v1Root, sub, parent, p.opts.Name, leaf)
}

// Place moves process pid, which the caller started and which has run
// nothing of its workload yet, into leaf.
func (cg *Pod) Place(leaf string, pid int) error {
	if !cg.leaves[leaf] {
		return fmt.Errorf("no cgroup leaf %q", leaf)
	}
	var err error
	switch {
	case cg.v1 != nil:
		var c cgroup1.Cgroup
		if c, err = cgroup1.Load(cg.plan.v1Path(leaf), cgroup1.WithHierarchy(cg.plan.v1Hierarchy())); err == nil {
			err = c.AddProc(uint64(pid))
		}
	case cg.v2 != nil:
		var m *cgroup2.Manager
		if m, err = cgroup2.Load(path.Join(cg.plan.parent, cg.plan.opts.Name, leaf), cgroup2.WithMountpoint(cg.plan.mount)); err == nil {
			err = m.AddProc(uint64(pid))
		}
	}
	if err != nil {
		return fmt.Errorf("place pid %d in cgroup %s/%s: %w", pid, cg.plan.opts.Name, leaf, err)
	}
	return nil
}

// Kill SIGKILLs every process in the pod's cgroup: cgroup.kill on v2
// (kernel 5.14+); on v1, and v2 without cgroup.kill, the cgroup is frozen
// first so that no process can fork while the others are killed.
func (cg *Pod) Kill() error {
	for _, d := range cg.killDirs() {
		if err := killTree(d); err != nil {
			return err
		}
	}
	return nil
}

func (cg *Pod) killDirs() []string {
	if cg.plan.Version == 2 {
		return cg.plan.Dirs()
	}
	// The freezer hierarchy first; the others catch anything that was not
	// in it (there is none unless the freezer is missing).
	dirs := cg.plan.Dirs()
	slices.SortStableFunc(dirs, func(a, b string) int {
		fa, fb := strings.Contains(a, "/freezer/"), strings.Contains(b, "/freezer/")
		switch {
		case fa && !fb:
			return -1
		case fb && !fa:
			return 1
		}
		return 0
	})
	return dirs
}

// killTree kills every process below dir, a cgroup directory of ours.
func killTree(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err == nil {
		return nil
	}
	freezer := ""
	switch {
	case fileExists(filepath.Join(dir, "freezer.state")):
		freezer = "freezer.state" // v1
	case fileExists(filepath.Join(dir, "cgroup.freeze")):
		freezer = "cgroup.freeze" // v2 before 5.14
	}
	frozen := freezer != "" && freeze(dir, freezer, true)
	var firstErr error
	for _, pid := range treePids(dir) {
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) && firstErr == nil {
			firstErr = fmt.Errorf("kill pid %d of cgroup %s: %w", pid, dir, err)
		}
	}
	if frozen {
		// SIGKILL is delivered when the processes thaw.
		freeze(dir, freezer, false)
	}
	return firstErr
}

// freeze freezes (or thaws) dir, waiting at most a second: a process in an
// uninterruptible sleep can keep v1's freezer in FREEZING, and a kill must
// not hang on it.
func freeze(dir, file string, on bool) bool {
	val, want := "THAWED", "THAWED"
	if file == "cgroup.freeze" {
		val, want = "0", "frozen 0"
		if on {
			val, want = "1", "frozen 1"
		}
	} else if on {
		val, want = "FROZEN", "FROZEN"
	}
	if os.WriteFile(filepath.Join(dir, file), []byte(val), 0) != nil {
		return false
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		statFile := file
		if file == "cgroup.freeze" {
			statFile = "cgroup.events"
		}
		data, err := os.ReadFile(filepath.Join(dir, statFile))
		if err != nil {
			return false
		}
		if strings.Contains(string(data), want) {
			return true
		}
		time.Sleep(time.Millisecond)
		if file == "freezer.state" {
			os.WriteFile(filepath.Join(dir, file), []byte(val), 0)
		}
	}
	return on // partly frozen still holds most processes; thaw after the kill
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// treePids lists the processes of dir and its descendants.
func treePids(dir string) []int {
	var pids []int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// OOMKills returns the number of OOM kills in leaf so far (v2 memory.events,
// v1 memory.oom_control); ok is false when the leaf has no memory
// controller.
func (cg *Pod) OOMKills(leaf string) (n uint64, ok bool) {
	file := filepath.Join(cg.LeafDir(Memory, leaf), "memory.events")
	if cg.plan.Version == 1 {
		file = filepath.Join(cg.LeafDir(Memory, leaf), "memory.oom_control")
	}
	if cg.LeafDir(Memory, leaf) == "" {
		return 0, false
	}
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return ParseOOMKills(f)
}

// Stats is a leaf's usage; a field is -1 when its controller is missing.
type Stats struct {
	MemoryBytes int64
	CPUNanos    int64
	Pids        int64
}

// Stats reads the usage of leaf ("" for the whole pod).
func (cg *Pod) Stats(leaf string) (Stats, error) {
	s := Stats{MemoryBytes: -1, CPUNanos: -1, Pids: -1}
	switch {
	case cg.v1 != nil:
		c, err := cgroup1.Load(cg.plan.v1Path(leaf), cgroup1.WithHierarchy(cg.plan.v1Hierarchy()))
		if err != nil {
			return s, err
		}
		m, err := c.Stat(cgroup1.IgnoreNotExist)
		if err != nil {
			return s, err
		}
		if m.Memory != nil && m.Memory.Usage != nil {
			s.MemoryBytes = int64(m.Memory.Usage.Usage)
		}
		if m.CPU != nil && m.CPU.Usage != nil {
			s.CPUNanos = int64(m.CPU.Usage.Total)
		}
		if m.Pids != nil {
			s.Pids = int64(m.Pids.Current)
		}
	case cg.v2 != nil:
		m, err := cgroup2.Load(path.Join(cg.plan.parent, cg.plan.opts.Name, leaf), cgroup2.WithMountpoint(cg.plan.mount))
		if err != nil {
			return s, err
		}
		st, err := m.Stat()
		if err != nil {
			return s, err
		}
		if st.Memory != nil && cg.plan.usable(Memory) {
			s.MemoryBytes = int64(st.Memory.Usage)
		}
		if st.CPU != nil {
			s.CPUNanos = int64(st.CPU.UsageUsec) * 1000
		}
		if st.Pids != nil && cg.plan.usable(Pids) {
			s.Pids = int64(st.Pids.Current)
		}
	}
	return s, nil
}

// Remove kills what is left and removes the leaves and the pod's cgroup,
// retrying while the kernel finishes reaping.
func (cg *Pod) Remove() error {
	return RemoveStale(cg.plan.Dirs())
}

// RemoveStale kills every process below each pod cgroup directory in dirs
// (as recorded by Plan.Dirs) and removes the directories, deepest first.
// It refuses directories that are not below a cgroup mount or whose name
// does not start with NamePrefix: the list comes from a state file.
func RemoveStale(dirs []string) error {
	mf, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	mounts, err := ParseMountinfo(mf)
	mf.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if err := checkOwnDir(mounts, d); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := removeTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func checkOwnDir(m Mounts, d string) error {
	if !filepath.IsAbs(d) || filepath.Clean(d) != d || !strings.HasPrefix(filepath.Base(d), NamePrefix) {
		return fmt.Errorf("refusing to remove cgroup %q: not a pod cgroup of sandbox", d)
	}
	var points []string
	if m.Unified != nil {
		points = append(points, m.Unified.Point)
	}
	for _, v := range m.V1 {
		points = append(points, v.Point)
	}
	for _, p := range points {
		if strings.HasPrefix(d, p+"/") {
			return nil
		}
	}
	return fmt.Errorf("refusing to remove %q: not below a cgroup mount", d)
}

func removeTree(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		killTree(dir)
		err := rmdirTree(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w (processes left: %v)", dir, err, treePids(dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rmdirTree removes a cgroup directory and its child cgroups, children
// first; cgroupfs removes the control files with the directory.
func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return unix.Rmdir(dir)
}
