package supervisor

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/pod"
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

func parseFailure(data []byte) error {
	var f containerinit.Failure
	if err := json.Unmarshal(data, &f); err != nil || f.Code == 0 {
		return &containerinit.Failure{Code: ExitSandboxFailed, Message: "container init: " + strings.TrimSpace(string(data))}
	}
	return &f
}

// gracefulStop is the answer to SIGINT/SIGTERM and the rollback after a
// failed start: SIGTERM to every running container, up to the grace period
// for them to exit, then SIGKILL for everything left.
func (s *sandbox) gracefulStop() {
	s.stop()
	s.mu.Lock()
	for _, p := range s.running {
		p.Signal(unix.SIGTERM)
	}
	s.mu.Unlock()
	deadline := time.Now().Add(s.pod.GracePeriod())
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.running)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.opts.Event(fmt.Sprintf("grace period of %v is over: killing the pod", s.pod.GracePeriod()))
	s.killAll()
}

// killAll SIGKILLs every container process and the pause. Killing the pause
// (PID 1 of the pod's PID namespace) makes the kernel SIGKILL every process
// in it; containers with a PID namespace of their own are killed one by one.
func (s *sandbox) killAll() {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.running {
		p.Signal(unix.SIGKILL)
	}
	if s.pause != nil && s.pause.Process != nil {
		s.pauseKilled.Store(true)
		s.pause.Process.Signal(unix.SIGKILL)
	}
}

// teardown kills what is left, waits for every process and output stream,
// and removes the state directory.
func (s *sandbox) teardown() error {
	s.killAll()
	if s.pauseDone != nil {
		<-s.pauseDone
		s.pauseDone = nil
	}
	if s.pausePidfd != nil {
		s.pausePidfd.Close()
	}
	// Output pipes reach EOF once every process holding them is dead.
	s.copiers.Wait()
	s.mu.Lock()
	for _, f := range s.logs {
		f.Close()
	}
	s.mu.Unlock()
	return s.state.Remove()
}
