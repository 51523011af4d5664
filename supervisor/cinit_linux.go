package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/pod"
)

// The container init runs in C (nsenter/cinit.c) for a simple container:
// the Go runtime start of the sandbox binary (about 2 ms) is then off the
// critical path. The choice is made twice: cinitCandidate, before the init
// is started (its environment selects the role), from what is known then;
// and encodeConfig, once the config exists, which sends the Go config
// after a 'G' when the C init cannot run it after all (never a wrong
// start, only a slower one).

// cinitCandidate reports whether container c's init should start as the C
// init. It is not: for a stored image (an overlay root, and idmapped
// layers), a subPath mount or a Memory emptyDir (a bind of a descriptor):
// those are the Go init's only.
func (s *sandbox) cinitCandidate(c *pod.Container) bool {
	if s.plan.images[c.Name] != nil {
		return false
	}
	byName := map[string]*pod.Volume{}
	for i := range s.pod.Spec.Volumes {
		byName[s.pod.Spec.Volumes[i].Name] = &s.pod.Spec.Volumes[i]
	}
	for _, m := range c.VolumeMounts {
		if m.SubPath != "" {
			return false
		}
		if v := byName[m.Name]; v != nil && v.EmptyDir != nil && v.EmptyDir.Medium == pod.StorageMediumMemory {
			return false
		}
	}
	return true
}

// Narrated by --explain, and matched by the e2e tests.
const (
	explainCInit  = "container init in C (nsenter/cinit.c): no Go runtime starts in the container"
	explainGoInit = "container init in Go (package containerinit)"
)

// encodeConfig is what the supervisor writes on the init's config pipe:
// JSON for the Go init, or (cinit: the init was started as the C init) the
// C format with its mode byte, or 'G' and JSON when cfg needs the Go init.
// It also returns the --explain line saying which init runs.
func encodeConfig(cfg *containerinit.Config, cinit bool) ([]byte, string, error) {
	if cinit {
		var prog []byte
		if sec := cfg.Security; sec != nil && sec.Seccomp {
			var err error
			if prog, err = containerinit.SeccompProgram(sec.Capabilities); err != nil {
				return nil, "", err
			}
		}
		data, err := containerinit.EncodeC(cfg, prog) // checks CSupports
		if err == nil {
			return data, explainCInit, nil
		}
		if !errors.Is(err, containerinit.ErrNotSimple) {
			return nil, "", err
		}
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("encode container config: %w", err)
	}
	if cinit {
		data = append([]byte{containerinit.CModeGo}, data...)
	}
	return data, explainGoInit, nil
}
