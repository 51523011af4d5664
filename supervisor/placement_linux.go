package supervisor

import "github.com/podsandbox/sandbox/pod"

// placeContainer runs between the container process's arrival in the pod's
// namespaces and the release of its init: the point where a process must be
// put in its cgroup before it can run anything of the workload's. Writing
// the PID moves every thread of the (Go) init; its fork of the workload
// then starts inside the leaf, under the container's and the pod's limits.
// The OOM counter of the leaf is read here, so that an OOM kill of an
// earlier instance of a restarted container is not reported again.
func (s *sandbox) placeContainer(c *pod.Container, pid int) error {
	if s.cgroups == nil {
		return nil
	}
	if err := s.cgroups.cg.Place(c.Name, pid); err != nil {
		return err
	}
	n, _ := s.cgroups.cg.OOMKills(c.Name)
	s.cgroups.mu.Lock()
	s.cgroups.oomBase[c.Name] = n
	s.cgroups.mu.Unlock()
	return nil
}
