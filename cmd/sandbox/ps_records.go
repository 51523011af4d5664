package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"

	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/supervisor"
)

// ReasonSupervisorDied is the status reason of a pod whose record says it
// runs while its supervisor is gone (kill -9, OOM, machine trouble): the
// pause died with it (parent-death signal), and with the pause every
// container.
const ReasonSupervisorDied = "SupervisorDied"

// sandboxErr is a sandbox failure (exit 125) with a message.
func sandboxErr(format string, args ...any) error {
	return &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf(format, args...)}
}

func stateBase() (string, error) {
	base, err := state.BaseDir()
	if err != nil {
		return "", &exitError{code: supervisor.ExitSandboxFailed, err: err}
	}
	return base, nil
}

// readPod reads pod name's record, as the pod now is (see effective).
func readPod(base, name string) (state.Record, error) {
	rec, err := state.Read(base, name)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(base + "/" + name); serr == nil {
			// The supervisor took the directory and has not written its
			// first record yet, or died right then.
			return state.Record{Name: name, Phase: state.PhasePending}, nil
		}
		return rec, sandboxErr("no pod %q (see sandbox ps)", name)
	}
	if err != nil {
		return rec, sandboxErr("pod %s: %v", name, err)
	}
	return effective(rec), nil
}

// listPods returns the records of every pod, sorted by name.
func listPods(base string) ([]state.Record, error) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, sandboxErr("list pods: %v", err)
	}
	var recs []state.Record
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		rec, err := readPod(base, e.Name())
		if err != nil {
			continue // removed meanwhile
		}
		recs = append(recs, rec)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	return recs, nil
}

// effective is the record corrected by what is alive now: a pod that is
// not over but whose supervisor is dead (PID gone, or recycled: its start
// time differs) has failed, and so has every container that was not over.
func effective(rec state.Record) state.Record {
	if rec.Ended() || rec.Supervisor.PID == 0 || rec.Supervisor.Running() {
		return rec
	}
	rec.Phase = state.PhaseFailed
	rec.Reason = ReasonSupervisorDied
	rec.Message = fmt.Sprintf("the supervisor (pid %d) died: the pod's processes were killed with it; remove the pod with sandbox gc or sandbox rm", rec.Supervisor.PID)
	rec.Containers = append([]state.ContainerStatus(nil), rec.Containers...)
	for i := range rec.Containers {
		c := &rec.Containers[i]
		if c.State != state.StateTerminated {
			// The pause's death SIGKILLs its PID namespace; a container
			// with its own dies by its parent-death signal, SIGKILL too.
			c.State, c.Reason, c.ExitCode = state.StateTerminated, ReasonSupervisorDied, 128+int(syscall.SIGKILL)
		}
	}
	return rec
}

// running reports whether the pod's supervisor is alive.
func running(rec state.Record) bool {
	return !rec.Ended() && rec.Supervisor.PID > 0 && rec.Supervisor.Running()
}

// forEachPod runs do for every named pod, printing the name of each one
// done; it goes on after a failure, logs all but the first, and returns the
// first (the exit code).
func forEachPod(g *globalFlags, names []string, do func(name string) error) error {
	var firstErr error
	for _, name := range names {
		if err := do(name); err != nil {
			if firstErr == nil {
				firstErr = err
			} else {
				logger(g).Error(err.Error())
			}
			continue
		}
		fmt.Println(name)
	}
	return firstErr
}
