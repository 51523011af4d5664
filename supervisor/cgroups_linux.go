package supervisor

import (
	"fmt"
	"strings"
	"sync"

	"github.com/podsandbox/sandbox/cgroup"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

// pauseLeaf is the pause's cgroup below the pod's: the pod cgroup itself
// holds no process (cgroup v2's "no internal processes" rule), and the
// underscore cannot start a container name (a DNS label).
const pauseLeaf = "_pause"

// cgroupPlan is what planCgroups decided before anything started.
type cgroupPlan struct {
	plan   *cgroup.Plan
	pod    cgroup.Limits
	leaves map[string]cgroup.Limits
	// memory is each container's memory limit as the manifest wrote it,
	// for the OOM message.
	memory map[string]string
}

// podCgroups is the pod's cgroup while it runs.
type podCgroups struct {
	cg *cgroup.Pod
	mu sync.Mutex
	// oomBase is each container's OOM kill count when its current process
	// was placed: the counter of a leaf survives restarts.
	oomBase map[string]uint64
}

// limitField is one limit of the manifest and the controller it needs.
type limitField struct{ field, controller string }

// planCgroups turns the manifest's resources into cgroup limits (pod-level
// limits as kubelet's: the sum of the containers') and decides where the
// cgroups go. Every limit that cannot be enforced is named in one warning
// with the reason and the fix; with Strict that is an error instead, before
// anything was created.
func planCgroups(p *pod.Pod, o *Options) (*cgroupPlan, error) {
	cp := &cgroupPlan{leaves: map[string]cgroup.Limits{pauseLeaf: {}}, memory: map[string]string{}}
	var wants []limitField
	var notMapped []string
	for _, group := range []struct {
		field string
		list  []pod.Container
	}{{"spec.initContainers", p.Spec.InitContainers}, {"spec.containers", p.Spec.Containers}} {
		for i := range group.list {
			c := &group.list[i]
			prefix := fmt.Sprintf("%s[%d].resources", group.field, i)
			var l cgroup.Limits
			if q, ok := c.Resources.Limits[pod.ResourceMemory]; ok {
				l.MemoryBytes = q.Value()
				cp.memory[c.Name] = q.String()
				wants = append(wants, limitField{prefix + ".limits.memory", cgroup.Memory})
			}
			if q, ok := c.Resources.Limits[pod.ResourceCPU]; ok {
				l.CPUQuota, l.CPUPeriod = cgroup.CPUQuota(q.MilliValue())
				wants = append(wants, limitField{prefix + ".limits.cpu", cgroup.CPU})
			}
			// Kubernetes defaults a missing request to the limit.
			if q, ok := c.Resources.Requests[pod.ResourceCPU]; ok {
				l.CPUShares = cgroup.CPUShares(q.MilliValue())
				wants = append(wants, limitField{prefix + ".requests.cpu", cgroup.CPU})
			} else if q, ok := c.Resources.Limits[pod.ResourceCPU]; ok {
				l.CPUShares = cgroup.CPUShares(q.MilliValue())
			}
			for _, kind := range []struct {
				name string
				list pod.ResourceList
			}{{"limits", c.Resources.Limits}, {"requests", c.Resources.Requests}} {
				for name := range kind.list {
					if !pod.Enforced(name, kind.name == "limits") && name != pod.ResourceMemory {
						notMapped = append(notMapped, prefix+"."+kind.name+"."+name)
					}
				}
			}
			cp.leaves[c.Name] = l
		}
	}
	if q, ok := p.PodLimit(pod.ResourceMemory); ok {
		cp.pod.MemoryBytes = q.Value()
	}
	if q, ok := p.PodLimit(pod.ResourceCPU); ok {
		cp.pod.CPUQuota, cp.pod.CPUPeriod = cgroup.CPUQuota(q.MilliValue())
	}
	if q := p.PodRequest(pod.ResourceCPU); q.MilliValue() > 0 {
		cp.pod.CPUShares = cgroup.CPUShares(q.MilliValue())
	}
	// The pids limit is the pod's: the annotation, capped by --pids-limit
	// (the operator's cap, like kubelet's --pod-max-pids).
	pids, field := int64(0), ""
	if n, ok := p.PidsLimit(); ok {
		pids, field = n, "metadata.annotations["+pod.AnnotationPidsLimit+"]"
	}
	if o.PidsLimit > 0 && (pids == 0 || o.PidsLimit < pids) {
		pids, field = o.PidsLimit, "--pids-limit"
	}
	if pids > 0 {
		cp.pod.Pids = pids
		wants = append(wants, limitField{fmt.Sprintf("%s (pids limit %d)", field, pids), cgroup.Pids})
	}
	var need []string
	for _, w := range wants {
		if !contains(need, w.controller) {
			need = append(need, w.controller)
		}
	}
	pl, err := cgroup.Detect(cgroup.Options{Parent: o.CgroupParent, Name: cgroup.NamePrefix + p.Metadata.Name, Need: need})
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	cp.plan = pl
	if msg := unenforcedMessage(pl, wants, notMapped); msg != "" {
		if o.Strict {
			return nil, fmt.Errorf("%s\n--strict makes limits that are not enforced an error", msg)
		}
		o.Warn(msg)
	}
	return cp, nil
}

// unenforcedMessage names every limit that is not enforced, grouped by
// reason (each reason carries its fix); "" when all are.
func unenforcedMessage(pl *cgroup.Plan, wants []limitField, notMapped []string) string {
	var reasons []string
	byReason := map[string][]string{}
	for _, w := range wants {
		r, out := pl.Unavailable[w.controller]
		if !out {
			continue
		}
		if _, seen := byReason[r]; !seen {
			reasons = append(reasons, r)
		}
		byReason[r] = append(byReason[r], w.field)
	}
	var lines []string
	for _, r := range reasons {
		lines = append(lines, "  "+strings.Join(byReason[r], ", ")+": "+r)
	}
	if len(notMapped) > 0 {
		lines = append(lines, "  "+strings.Join(notMapped, ", ")+": sandbox maps only limits.cpu, limits.memory and requests.cpu to cgroups")
	}
	if len(lines) == 0 {
		return ""
	}
	return "resource limits not enforced:\n" + strings.Join(lines, "\n")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// setupCgroups creates the pod's cgroup and leaves, recording their paths
// first so that a crash at any later point leaves them to the stale-state
// cleanup. A host where no cgroup can be made runs the pod without one
// (planCgroups warned about any limit that is lost).
func (s *sandbox) setupCgroups() error {
	cp := s.plan.cgroups
	if cp == nil || cp.plan.Version == 0 {
		if cp != nil {
			s.opts.Event("the pod runs without a cgroup: " + cp.plan.NoCgroup)
			s.opts.Explain("no pod cgroup: " + cp.plan.NoCgroup)
		}
		return nil
	}
	s.mu.Lock()
	s.record.Cgroups = cp.plan.Dirs()
	err := s.state.Save(&s.record)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	cg, err := cp.plan.Create(cp.pod, cp.leaves)
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	s.cgroups = &podCgroups{cg: cg, oomBase: map[string]uint64{}}
	s.opts.Event(fmt.Sprintf("pod cgroup (v%d): %s", cg.Version(), strings.Join(cg.Dirs(), " ")))
	s.opts.Explain(fmt.Sprintf("pod cgroup v%d created, with a leaf per container and one for the pause: %s", cg.Version(), strings.Join(cg.Dirs(), " ")))
	return nil
}

// placeInCgroup puts a process the supervisor started in leaf.
func (s *sandbox) placeInCgroup(leaf string, pid int) error {
	if s.cgroups == nil {
		return nil
	}
	return s.cgroups.cg.Place(leaf, pid)
}

// cgroupKill SIGKILLs everything in the pod's cgroup, including processes
// that left the pod's PID namespace tree (reparented) or were never seen.
func (s *sandbox) cgroupKill() {
	if s.cgroups == nil {
		return
	}
	if err := s.cgroups.cg.Kill(); err != nil {
		s.opts.Warn(err.Error())
	}
}

// removeCgroups removes the pod's cgroups once every process is gone.
func (s *sandbox) removeCgroups() error {
	if s.cgroups == nil {
		return nil
	}
	if err := s.cgroups.cg.Remove(); err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	s.cgroups = nil
	return nil
}

// oomReason returns state.ReasonOOMKilled, and reports it, when container
// c's leaf counted an OOM kill since its current process was placed and
// the container failed; "" otherwise.
func (s *sandbox) oomReason(c *pod.Container, code int) string {
	if s.cgroups == nil || code == 0 {
		return ""
	}
	n, ok := s.cgroups.cg.OOMKills(c.Name)
	s.cgroups.mu.Lock()
	base := s.cgroups.oomBase[c.Name]
	s.cgroups.mu.Unlock()
	if !ok || n <= base {
		return ""
	}
	msg := fmt.Sprintf("container %q was OOMKilled", c.Name)
	if lim := s.plan.cgroups.memory[c.Name]; lim != "" {
		msg += " (memory limit " + lim + ")"
	}
	if s.opts.Error != nil {
		s.opts.Error(msg)
	} else {
		s.opts.Warn(msg)
	}
	return state.ReasonOOMKilled
}

// removeStaleCgroups removes the cgroups a dead supervisor recorded.
func removeStaleCgroups(rec state.Record, warn func(string)) {
	if len(rec.Cgroups) == 0 {
		return
	}
	if err := cgroup.RemoveStale(rec.Cgroups); err != nil {
		warn(fmt.Sprintf("stale cgroups of pod %q: %v", rec.Name, err))
	}
}
