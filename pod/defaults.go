package pod

import "path"

// SetDefaults fills in unset fields: restartPolicy Always,
// terminationGracePeriodSeconds 30, shareProcessNamespace true (this
// project's default, unlike Kubernetes) and hostname = metadata.name. It also
// stores each absolute workingDir in its cleaned form, which is what the
// supervisor uses. Validate accepts the pod before or after SetDefaults.
func (p *Pod) SetDefaults() {
	if p.Spec.RestartPolicy == "" {
		p.Spec.RestartPolicy = DefaultRestartPolicy
	}
	if p.Spec.TerminationGracePeriodSeconds == nil {
		grace := int64(DefaultGracePeriodSeconds)
		p.Spec.TerminationGracePeriodSeconds = &grace
	}
	if p.Spec.ShareProcessNamespace == nil {
		share := DefaultShareProcessNamespace
		p.Spec.ShareProcessNamespace = &share
	}
	if p.Spec.Hostname == "" {
		p.Spec.Hostname = p.Metadata.Name
	}
	for _, list := range [][]Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range list {
			// Only absolute paths: cleaning "app/.." to "." would hide
			// the error Validate reports for a relative path.
			if path.IsAbs(list[i].WorkingDir) {
				list[i].WorkingDir = path.Clean(list[i].WorkingDir)
			}
		}
	}
}
