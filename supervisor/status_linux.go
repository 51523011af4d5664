package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

// namespaceTypes are the entries of /proc/PID/ns recorded for inspect.
var namespaceTypes = []string{"user", "net", "ipc", "uts", "pid", "mnt", "cgroup"}

// namespaces reads the namespace inodes of pid (best effort: a process that
// is gone has none).
func namespaces(pid int) map[string]uint64 {
	ns := map[string]uint64{}
	for _, t := range namespaceTypes {
		var st unix.Stat_t
		if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/"+t, &st); err == nil {
			ns[t] = st.Ino
		}
	}
	return ns
}

// initRecord fills the record's static part before anything starts. The
// manifest is encoded beside the start (on the other CPU): the record is
// first saved once the pause is ready (saveLocked).
func (s *sandbox) initRecord(self state.Process) {
	s.manifest = make(chan json.RawMessage, 1)
	go func() {
		manifest, _ := json.Marshal(s.pod)
		s.manifest <- manifest
	}()
	s.record = state.Record{
		Name:       s.pod.Metadata.Name,
		Created:    time.Now().UTC(),
		Detached:   s.opts.KeepState,
		Supervisor: self,
		Phase:      state.PhasePending,
		Warnings:   s.planWarnings,
	}
	for _, c := range s.pod.Spec.InitContainers {
		s.record.Containers = append(s.record.Containers, state.ContainerStatus{
			Name: c.Name, Init: true, State: state.StateWaiting, Log: s.state.Path("logs", c.Name+".log")})
	}
	for _, c := range s.pod.Spec.Containers {
		s.record.Containers = append(s.record.Containers, state.ContainerStatus{
			Name: c.Name, State: state.StateWaiting, Log: s.state.Path("logs", c.Name+".log")})
	}
}

// updateStatus changes one container's status and saves the record.
func (s *sandbox) updateStatus(name string, change func(*state.ContainerStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.record.Container(name); cs != nil {
		change(cs)
	}
	s.saveLocked()
}

// updatePod changes the pod's part of the record and saves it.
func (s *sandbox) updatePod(change func(*state.Record)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.record)
	s.saveLocked()
}

// saveLocked writes the record; a failure is reported once, as the pod can
// run without it (only other commands read it).
func (s *sandbox) saveLocked() {
	if s.manifest != nil {
		s.record.Manifest, s.manifest = <-s.manifest, nil
	}
	if err := s.state.Save(&s.record); err != nil && !s.saveFailed {
		s.saveFailed = true
		s.opts.Warn("cannot record pod state (sandbox ps/inspect will be stale): " + err.Error())
	}
	s.saveFastExec() // fastexec_linux.go: what sandbox exec reads from C
}

// terminated is the status of a container whose process ended with code.
func terminated(code int, reason, message string) func(*state.ContainerStatus) {
	return func(cs *state.ContainerStatus) {
		cs.State, cs.ExitCode, cs.FinishedAt, cs.Message = state.StateTerminated, code, time.Now().UTC(), message
		switch {
		case reason != "":
			cs.Reason = reason
		case code == 0:
			cs.Reason = state.ReasonCompleted
		default:
			cs.Reason = state.ReasonError
		}
	}
}

func running(id state.Process, restarts int) func(*state.ContainerStatus) {
	return func(cs *state.ContainerStatus) {
		cs.State, cs.Process, cs.Restarts, cs.StartedAt = state.StateRunning, id, restarts, time.Now().UTC()
		cs.ExitCode, cs.Reason, cs.Message, cs.Namespaces = 0, "", "", nil
	}
}

func waitingBackOff(code int) func(*state.ContainerStatus) {
	return func(cs *state.ContainerStatus) {
		cs.State, cs.ExitCode = state.StateWaiting, code
		if code != 0 {
			cs.Reason = state.ReasonCrashLoopBackOff
		}
	}
}

// terminationReason is the reason recorded for a container that exited with
// code: "" lets terminated() choose Completed or Error. A process killed by
// SIGKILL while the pod was not stopping is Killed (OOM detection refines
// it where a memory cgroup exists).
func (s *sandbox) terminationReason(c *pod.Container, code int) string {
	if r := s.oomReason(c, code); r != "" { // cgroups_linux.go
		return r
	}
	if code == 128+int(unix.SIGKILL) {
		return state.ReasonKilled
	}
	return ""
}

// finish records how the pod ended, for a pod whose state outlives it.
func (s *sandbox) finish(code int, err error) {
	if !s.opts.KeepState {
		return // removed in a moment: saving it would only cost time
	}
	s.updatePod(func(r *state.Record) {
		r.ExitCode, r.Finished = code, time.Now().UTC()
		r.Phase = state.PhaseSucceeded
		if code != 0 || err != nil {
			r.Phase = state.PhaseFailed
		}
		switch {
		case errors.Is(err, ErrSandboxDied):
			r.Reason = "SandboxDied"
		case errors.Is(err, context.Canceled):
			r.Reason = "Stopped"
		case err != nil:
			r.Reason = "Error"
		}
		if err != nil {
			r.Message = err.Error()
		}
	})
}

// pauseProgram says, for --explain, what the pause pid executes when it is
// the pause image (nsenter/pauseimage.c), and nothing for the sandbox
// binary.
func pauseProgram(pid int) string {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil || !strings.HasPrefix(exe, "/memfd:pause") {
		return ""
	}
	return " (it executes the pause image: a one-page program in a sealed memfd, nsenter/pauseimage.c)"
}

// formatNamespaces renders namespace inodes as ls -l /proc/PID/ns shows them.
func formatNamespaces(ns map[string]uint64) string {
	var parts []string
	for _, t := range namespaceTypes {
		if ino, ok := ns[t]; ok {
			parts = append(parts, fmt.Sprintf("%s:[%d]", t, ino))
		}
	}
	return strings.Join(parts, " ")
}

// cloneFlagNames names the namespace flags in flags.
func cloneFlagNames(flags uintptr) string {
	names := []struct {
		flag uintptr
		name string
	}{{unix.CLONE_NEWUSER, "CLONE_NEWUSER"}, {unix.CLONE_NEWNET, "CLONE_NEWNET"}, {unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
		{unix.CLONE_NEWPID, "CLONE_NEWPID"}, {unix.CLONE_NEWUTS, "CLONE_NEWUTS"}, {unix.CLONE_NEWNS, "CLONE_NEWNS"},
		{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}}
	var parts []string
	for _, n := range names {
		if flags&n.flag != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "|")
}

func cfgArgv0(c *pod.Container) string {
	if argv := c.Argv(); len(argv) > 0 {
		return argv[0]
	}
	return ""
}
