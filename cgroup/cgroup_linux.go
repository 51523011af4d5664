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
		// A hierarchy is used at <root>/<subsystem> (LeafDir);
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

// v1Controllers are the v1 hierarchies a pod's cgroup is made in: those of
// the plan that sandbox uses and that have a parent.
func (p *Plan) v1Controllers() []string {
	var subs []string
	for _, s := range p.v1Subs {
		switch s {
		case Memory, CPU, "cpuacct", Pids, "freezer":
			if _, ok := p.v1Parent[s]; ok {
				subs = append(subs, s)
			}
		}
	}
	return subs
}

// setting is a control file and the value to write to it.
type setting struct{ file, value string }

func writeSettings(dir string, settings []setting) error {
	for _, s := range settings {
		if err := os.WriteFile(filepath.Join(dir, s.file), []byte(s.value), 0); err != nil {
			return err
		}
	}
	return nil
}

// v1Settings are the files to write in hierarchy sub for the limits,
// leaving out what the plan cannot enforce (cpu.shares before the CFS
// period and quota, as runc and containerd write them).
func (p *Plan) v1Settings(sub string, l Limits) []setting {
	var out []setting
	switch sub {
	case Memory:
		if l.MemoryBytes > 0 && p.usable(Memory) {
			out = append(out, setting{"memory.limit_in_bytes", strconv.FormatInt(l.MemoryBytes, 10)})
		}
	case CPU:
		if !p.usable(CPU) {
			break
		}
		if l.CPUShares > 0 {
			out = append(out, setting{"cpu.shares", strconv.FormatUint(l.CPUShares, 10)})
		}
		if l.CPUQuota > 0 {
			out = append(out, setting{"cpu.cfs_period_us", strconv.FormatUint(l.CPUPeriod, 10)},
				setting{"cpu.cfs_quota_us", strconv.FormatInt(l.CPUQuota, 10)})
		}
	case Pids:
		if l.Pids > 0 && p.usable(Pids) {
			out = append(out, setting{"pids.max", strconv.FormatInt(l.Pids, 10)})
		}
	}
	return out
}

func (p *Plan) usable(c string) bool {
	_, out := p.Unavailable[c]
	return !out
}

// createV1 makes the pod's directory in each hierarchy, then each leaf's,
// writing their limits.
func (cg *Pod) createV1(pod Limits, leaves map[string]Limits) error {
	p := cg.plan
	create := func(leaf string, l Limits) error {
		for _, sub := range p.v1Controllers() {
			dir := cg.LeafDir(sub, leaf)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := writeSettings(dir, p.v1Settings(sub, l)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := create("", pod); err != nil {
		return fmt.Errorf("create cgroup %s: %w", p.opts.Name, err)
	}
	for _, name := range sortedKeys(leaves) {
		cg.leaves[name] = true
		if err := create(name, leaves[name]); err != nil {
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

// v2Settings are the files to write for the limits, leaving out what the
// plan cannot enforce.
func (p *Plan) v2Settings(l Limits) []setting {
	var out []setting
	if (l.CPUQuota > 0 || l.CPUShares > 0) && p.usable(CPU) {
		if l.CPUShares > 0 {
			out = append(out, setting{"cpu.weight", strconv.FormatUint(SharesToWeight(l.CPUShares), 10)})
		}
		if l.CPUQuota > 0 {
			out = append(out, setting{"cpu.max", strconv.FormatInt(l.CPUQuota, 10) + " " + strconv.FormatUint(l.CPUPeriod, 10)})
		}
	}
	if l.MemoryBytes > 0 && p.usable(Memory) {
		out = append(out, setting{"memory.max", strconv.FormatInt(l.MemoryBytes, 10)})
	}
	if l.Pids > 0 && p.usable(Pids) {
		out = append(out, setting{"pids.max", strconv.FormatInt(l.Pids, 10)})
	}
	return out
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
	// Only the pod's own directories are written: never the
	// cgroup.subtree_control of an ancestor, a cgroup that is not ours.
	dir := cg.LeafDir("", "")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	if err := writeSettings(dir, p.v2Settings(pod)); err != nil {
		return fmt.Errorf("set limits of cgroup %s: %w", path.Join(p.parent, p.opts.Name), err)
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
		if err := writeSubtreeControl(dir, need); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(leaves) {
		leaf := cg.LeafDir("", name)
		if err := os.Mkdir(leaf, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", leaf, err)
		}
		cg.leaves[name] = true
		if err := writeSettings(leaf, p.v2Settings(leaves[name])); err != nil {
			return fmt.Errorf("set limits of cgroup %s: %w", leaf, err)
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
	switch cg.plan.Version {
	case 1:
		// Every hierarchy where the leaf is (all of them, unless one was
		// removed meanwhile).
		placed := false
		for _, sub := range cg.plan.v1Controllers() {
			dir := cg.LeafDir(sub, leaf)
			if _, err = os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
				err = nil
				continue
			} else if err != nil {
				break
			}
			if err = writeProcs(filepath.Join(dir, "cgroup.procs"), pid); err != nil {
				break
			}
			placed = true
		}
		if err == nil && !placed {
			err = errors.New("cgroup deleted")
		}
	case 2:
		err = os.WriteFile(filepath.Join(cg.LeafDir("", leaf), "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
	}
	if err != nil {
		return fmt.Errorf("place pid %d in cgroup %s/%s: %w", pid, cg.plan.opts.Name, leaf, err)
	}
	return nil
}

// JoinLeaf moves process pid, which the caller started and which has run
// nothing of its own yet, into leaf of a pod's cgroup: leaf below each of
// podDirs (the pod's directories, one per v1 hierarchy or the v2 one, as
// Plan.Dirs and the pod's record list them) where it exists. `sandbox exec`
// and lifecycle hooks put their command in its container's cgroup this way,
// as a container runtime's exec does. It fails when the leaf exists in no
// directory (the pod or the container is gone).
func JoinLeaf(podDirs []string, leaf string, pid int) error {
	placed := false
	for _, dir := range podDirs {
		procs := filepath.Join(dir, leaf, "cgroup.procs")
		if _, err := os.Lstat(filepath.Dir(procs)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := writeProcs(procs, pid); err != nil {
			return fmt.Errorf("place pid %d in cgroup %s: %w", pid, filepath.Dir(procs), err)
		}
		placed = true
	}
	if !placed {
		return fmt.Errorf("place pid %d: no cgroup %s below %s", pid, leaf, strings.Join(podDirs, ", "))
	}
	return nil
}

// writeProcs writes pid to a v1 cgroup.procs, retrying on EINVAL: the
// kernel refuses a task still in TASK_NEW (as runc and containerd do).
func writeProcs(file string, pid int) error {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for range 5 {
		if _, err = f.Write([]byte(strconv.Itoa(pid))); !errors.Is(err, unix.EINVAL) {
			return err
		}
		time.Sleep(30 * time.Millisecond)
	}
	return err
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
	if cg.plan.Version == 1 {
		return ReadUsage(cg.plan.Dirs(), leaf), nil
	}
	s := Stats{MemoryBytes: -1, CPUNanos: -1, Pids: -1}
	dir := cg.LeafDir("", leaf)
	if _, err := os.Stat(dir); err != nil {
		return s, err
	}
	if v, ok := readInt(filepath.Join(dir, "memory.current")); ok && cg.plan.usable(Memory) {
		s.MemoryBytes = v
	}
	if v, ok := readKey(filepath.Join(dir, "cpu.stat"), "usage_usec"); ok {
		s.CPUNanos = v * 1000
	}
	if v, ok := readInt(filepath.Join(dir, "pids.current")); ok && cg.plan.usable(Pids) {
		s.Pids = v
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
