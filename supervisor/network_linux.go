package supervisor

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/portfwd"
)

// setupNetwork runs before the pause exists: the bridge's holder and the
// pod's address (bridge mode), then the hostPort listeners.
func (s *sandbox) setupNetwork() error {
	if s.pod.NetworkMode() == pod.NetworkBridge {
		if err := s.setupBridge(); err != nil { // bridge_linux.go
			return err
		}
	}
	return s.openHostPorts()
}

// startNetwork runs once the pause holds the pod's namespaces, before any
// container starts: eth0 on the bridge, then the hostPort dialler.
func (s *sandbox) startNetwork() error {
	if s.bridge != nil {
		if err := s.attachBridge(); err != nil {
			return err
		}
	}
	return s.startPortForwarder()
}

// openHostPorts binds the pod's hostPorts in the host's network namespace
// before the pause exists: a port in use or a privileged port fails the pod
// before anything else is created. With hostNetwork the containers bind the
// host's ports themselves (validation keeps hostPort == containerPort).
func (s *sandbox) openHostPorts() error {
	ports := s.pod.HostPorts()
	if len(ports) == 0 || s.plan.hostNetwork {
		return nil
	}
	f, err := portfwd.Listen(ports)
	if err != nil {
		return err
	}
	f.Error = s.opts.Event
	s.ports = f
	var list []string
	for _, p := range ports {
		list = append(list, p.String())
	}
	s.opts.Explain("hostPort listeners in the host network namespace: " + strings.Join(list, ", "))
	return nil
}

// startPortForwarder starts the dialler in the pod's user and network
// namespaces (nsenter role netns) once the pause holds them, before any
// container starts.
func (s *sandbox) startPortForwarder() error {
	if s.ports == nil {
		return nil
	}
	nsflags := unix.CLONE_NEWNET
	if s.plan.userns {
		nsflags |= unix.CLONE_NEWUSER
	}
	target := "127.0.0.1 (then ::1)"
	if s.bridge != nil {
		s.ports.PodAddr = s.bridge.ip
		target = s.bridge.ip.String() + " (TCP: then 127.0.0.1, ::1)"
	}
	if err := s.ports.Start(s.opts.Exe, s.pausePidfd, nsflags); err != nil {
		return err
	}
	s.opts.Explain(fmt.Sprintf("hostPort dialler: setns(pidfd of pause, %s); connections are dialled to %s in the pod and spliced", cloneFlagNames(uintptr(nsflags)), target))
	return nil
}

// closeHostPorts closes every listener and forwarded connection and stops
// the dialler.
func (s *sandbox) closeHostPorts() {
	if s.ports != nil {
		s.ports.Close()
	}
}
