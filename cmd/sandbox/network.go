package main

import (
	"fmt"

	"github.com/podsandbox/sandbox/pod"
)

// applyNetworkFlags turns --network, --subnet and --allow-host-loopback
// into the pod's network annotations (they override the manifest's); host
// also sets spec.hostNetwork.
func applyNetworkFlags(p *pod.Pod, network, subnet string, hostLoopback bool) error {
	set := func(k, v string) {
		if p.Metadata.Annotations == nil {
			p.Metadata.Annotations = map[string]string{}
		}
		p.Metadata.Annotations[k] = v
	}
	switch network {
	case "":
	case pod.NetworkNone, pod.NetworkBridge:
		if p.Spec.HostNetwork {
			return fmt.Errorf("--network %s contradicts the manifest's spec.hostNetwork: true", network)
		}
		set(pod.AnnotationNetwork, network)
	case pod.NetworkHost:
		p.Spec.HostNetwork = true
		delete(p.Metadata.Annotations, pod.AnnotationNetwork)
	default:
		return fmt.Errorf("--network %q: must be none, bridge or host", network)
	}
	if subnet != "" {
		set(pod.AnnotationSubnet, subnet)
	}
	if hostLoopback {
		if m := p.NetworkMode(); m != pod.NetworkBridge {
			return fmt.Errorf("--allow-host-loopback needs --network bridge (the pod's network is %s)", m)
		}
		set(pod.AnnotationAllowHostLoopback, "true")
	}
	return nil
}
