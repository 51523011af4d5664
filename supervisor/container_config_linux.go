package supervisor

import (
	"fmt"
	"os"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/rootfs"
)

// containerConfig is the config of container c's init; encodeConfig
// (cinit_linux.go) makes the bytes sent to it.
func (s *sandbox) containerConfig(c *pod.Container, setup *containerinit.PodSetup) (*containerinit.Config, error) {
	if err := s.prepareVolumes(); err != nil {
		return nil, err
	}
	sec := s.pod.EffectiveSecurity(c)
	fs, err := s.rootfsSpec(c, sec)
	if err != nil {
		return nil, err
	}
	cfg := containerinit.Config{
		Name:       c.Name,
		FS:         fs,
		Argv:       c.Argv(),
		Env:        containerEnv(c, s.pod.PodHostname(), sec.UID),
		WorkingDir: c.WorkingDir,
		Pod:        setup,
		Security:   initSecurity(sec),
		BecomeRoot: s.plan.userns && !s.opts.KeepID,
	}
	if im := s.plan.images[c.Name]; im != nil { // image_linux.go
		if err := applyImageConfig(&cfg, c, sec, im); err != nil {
			return nil, fmt.Errorf("container %q: %w", c.Name, err)
		}
	}
	return &cfg, nil
}

// initSecurity is what the init applies before exec.
func initSecurity(sec pod.Security) *containerinit.Security {
	out := &containerinit.Security{
		UID:          uint32(sec.UID),
		GID:          uint32(sec.GID),
		Capabilities: sec.Capabilities,
		NoNewPrivs:   sec.NoNewPrivs,
		Seccomp:      sec.Seccomp,
	}
	for _, g := range sec.SupplementalGroups {
		out.Groups = append(out.Groups, uint32(g))
	}
	return out
}

// containerEnv is the workload's whole environment: PATH, HOSTNAME and HOME
// unless the manifest sets them, then the manifest's variables in order
// (a later duplicate wins, as in Kubernetes). Nothing of the caller's
// environment leaks in. HOME is /root for uid 0 and / otherwise (host and
// dir images carry no user database sandbox reads, as containerd falls
// back to without an /etc/passwd entry).
func containerEnv(c *pod.Container, hostname string, uid int64) []string {
	set := map[string]bool{}
	for _, e := range c.Env {
		set[e.Name] = true
	}
	home := "/root"
	if uid != 0 {
		home = "/"
	}
	var env []string
	for _, kv := range [][2]string{{"PATH", containerinit.DefaultPath}, {"HOSTNAME", hostname}, {"HOME", home}} {
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

// rootfsSpec is the filesystem of container c: its root (read-only when
// readOnlyRootFilesystem is set; the host root always is), the pod's
// /dev/shm, its volumes and the pod files, and the default masked and
// read-only paths unless it is privileged.
func (s *sandbox) rootfsSpec(c *pod.Container, sec pod.Security) (rootfs.Spec, error) {
	spec := rootfs.Spec{Root: s.plan.roots[c.Name], ShmDir: s.state.Path("shm"), ReadOnly: sec.ReadOnlyRootfs}
	if im := s.plan.images[c.Name]; im != nil {
		if err := s.imageRootfs(c, im, &spec); err != nil { // image_linux.go: overlay of the layers
			return spec, err
		}
	} else if spec.Root == "" {
		spec.Scratch = s.state.Path("containers", c.Name)
		if err := os.MkdirAll(spec.Scratch, 0o700); err != nil {
			return spec, fmt.Errorf("create %s: %w", spec.Scratch, err)
		}
	}
	if sec.MaskPaths {
		spec.MaskPaths = rootfs.DefaultMaskPaths
		spec.ReadonlyPaths = rootfs.DefaultReadonlyPaths
	}
	binds, err := s.volumeBinds(c, spec.Root == "")
	if err != nil {
		return spec, err
	}
	spec.Binds = binds
	return spec, nil
}
