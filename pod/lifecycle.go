package pod

import "fmt"

// Lifecycle holds a container's lifecycle hooks. postStart runs right after
// the container's process started (the container counts as started only
// when it succeeded; a failure kills the container, which restarts per
// restartPolicy); preStop runs when the pod stops, before the container
// gets SIGTERM, and counts against the grace period. Both run inside the
// container, as `sandbox exec` does.
type Lifecycle struct {
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	PreStop   *LifecycleHandler `json:"preStop,omitempty"`
}

// LifecycleHandler is one hook: exactly one of Exec and Sleep. Kubernetes'
// httpGet and tcpSocket are not supported (decoded as warnings; a handler
// left empty is refused by Validate).
type LifecycleHandler struct {
	Exec  *ExecAction  `json:"exec,omitempty"`
	Sleep *SleepAction `json:"sleep,omitempty"`
}

// ExecAction runs a command in the container; exit status 0 is success.
type ExecAction struct {
	Command []string `json:"command,omitempty"`
}

// SleepAction pauses for Seconds.
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

// checkLifecycle validates every container's lifecycle hooks. Init
// containers may not have any (as in Kubernetes: they run to completion,
// nothing stops them gracefully).
func checkLifecycle(probs *problems, p *Pod) {
	for i, c := range p.Spec.InitContainers {
		if c.Lifecycle != nil {
			probs.addf(ErrInvalid, fmt.Sprintf("spec.initContainers[%d].lifecycle", i), "must not be set for init containers")
		}
	}
	for i, c := range p.Spec.Containers {
		if c.Lifecycle == nil {
			continue
		}
		prefix := fmt.Sprintf("spec.containers[%d].lifecycle", i)
		checkHandler(probs, prefix+".postStart", c.Lifecycle.PostStart)
		checkHandler(probs, prefix+".preStop", c.Lifecycle.PreStop)
	}
}

func checkHandler(probs *problems, field string, h *LifecycleHandler) {
	if h == nil {
		return
	}
	switch {
	case h.Exec == nil && h.Sleep == nil:
		probs.addf(ErrInvalid, field, "needs exactly one handler: exec or sleep (httpGet and tcpSocket are not supported)")
	case h.Exec != nil && h.Sleep != nil:
		probs.addf(ErrInvalid, field, "has both exec and sleep: exactly one handler is allowed")
	case h.Exec != nil:
		cmd := h.Exec.Command
		switch {
		case len(cmd) == 0 || cmd[0] == "":
			probs.addf(ErrInvalid, field+".exec.command", "required: the program to run in the container")
		case len(cmd) > MaxArgs:
			probs.addf(ErrInvalid, field+".exec.command", "%d strings, must be at most %d", len(cmd), MaxArgs)
		default:
			for i, arg := range cmd {
				checkExecString(probs, fmt.Sprintf("%s.exec.command[%d]", field, i), arg)
			}
		}
	case h.Sleep.Seconds < 0 || h.Sleep.Seconds > MaxGracePeriodSeconds:
		probs.addf(ErrInvalid, field+".sleep.seconds", "%d, must be 0 to %d", h.Sleep.Seconds, MaxGracePeriodSeconds)
	}
}
