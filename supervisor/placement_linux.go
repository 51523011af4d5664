package supervisor

import "github.com/podsandbox/sandbox/pod"

// placeContainer runs between the container process's arrival in the pod's
// namespaces and the release of its init: the point where a process must be
// put in its cgroup before it can run anything of the workload's.
func (s *sandbox) placeContainer(c *pod.Container, pid int) error {
	return nil
}
