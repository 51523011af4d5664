package supervisor

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
)

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
	deadline := time.Now().Add(s.gracePeriod())
	s.terminateRunning(deadline) // preStop hooks, then SIGTERM
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.running)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.opts.Event(fmt.Sprintf("grace period of %v is over: killing the pod", s.gracePeriod()))
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
	s.cgroupKill() // what left the PID namespace tree too
}

// teardown kills what is left, waits for every process and output stream,
// and removes the state directory.
func (s *sandbox) teardown() error {
	s.closeHostPorts() // network_linux.go
	s.cleanupVolumes() // volumes_linux.go: emptyDir files of subordinate uids, removed while the pause lives
	s.killAll()
	if s.pauseDone != nil {
		<-s.pauseDone
		s.pauseDone = nil
	}
	if s.pausePidfd != nil {
		s.pausePidfd.Close()
	}
	s.releaseBridge() // bridge_linux.go: the pod's veth went with its netns
	// Output pipes reach EOF once every process holding them is dead.
	s.copiers.Wait()
	s.mu.Lock()
	for _, f := range s.logs {
		f.Close()
	}
	s.mu.Unlock()
	if err := s.removeCgroups(); err != nil {
		s.opts.Warn(err.Error())
	}
	s.removeImageUppers() // image_linux.go: upper dirs may hold subordinate ids' files
	if s.opts.KeepState {
		s.state.Release()
		return nil
	}
	return s.state.Remove()
}
