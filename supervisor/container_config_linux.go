package supervisor

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/rootfs"
)

// containerConfig is the JSON sent to container c's init.
func (s *sandbox) containerConfig(c *pod.Container, setup *containerinit.PodSetup) ([]byte, error) {
	fs, err := s.rootfsSpec(c)
	if err != nil {
		return nil, err
	}
	cfg := containerinit.Config{
		Name:       c.Name,
		FS:         fs,
		Argv:       c.Argv(),
		Env:        containerEnv(c, s.pod.PodHostname()),
		WorkingDir: c.WorkingDir,
		Pod:        setup,
	}
	data, err := json.Marshal(&cfg)
	if err != nil {
		return nil, fmt.Errorf("encode container config: %w", err)
	}
	return data, nil
}

// containerEnv is the workload's whole environment: PATH, HOSTNAME and HOME
// unless the manifest sets them, then the manifest's variables in order
// (a later duplicate wins, as in Kubernetes). Nothing of the caller's
// environment leaks in.
func containerEnv(c *pod.Container, hostname string) []string {
	set := map[string]bool{}
	for _, e := range c.Env {
		set[e.Name] = true
	}
	var env []string
	for _, kv := range [][2]string{{"PATH", containerinit.DefaultPath}, {"HOSTNAME", hostname}, {"HOME", "/root"}} {
		if !set[kv[0]] {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	seen := map[string]int{}
	for _, e := range c.Env {
		if i, ok := seen[e.Name]; ok {
			env[i] = e.Name + "=" + e.Value
			continue
		}
		seen[e.Name] = len(env)
		env = append(env, e.Name+"="+e.Value)
	}
	return env
}

// rootfsSpec is the filesystem of container c.
func (s *sandbox) rootfsSpec(c *pod.Container) (rootfs.Spec, error) {
	spec := rootfs.Spec{Root: s.plan.roots[c.Name], ShmDir: s.state.Path("shm")}
	if spec.Root == "" {
		spec.Scratch = s.state.Path("containers", c.Name)
		if err := os.MkdirAll(spec.Scratch, 0o700); err != nil {
			return spec, fmt.Errorf("create %s: %w", spec.Scratch, err)
		}
	}
	return spec, nil
}
