package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/cgroup"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

func newRmCommand(g *globalFlags) *cobra.Command {
	var force bool
	var seconds int64
	cmd := &cobra.Command{
		Use:   "rm [-f] POD...",
		Short: "Remove pods: their state and logs",
		Long: `Remove pods that are over: their state directory, record and logs. A running
pod is refused unless -f, which stops it first (gracefully, as sandbox stop;
-t sets the grace period). A pod whose supervisor died is removed like one
that is over; any process of it still alive (checked by PID and start time)
is killed.`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeManyPods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("time") {
				seconds = -1
			} else if seconds < 0 || seconds > pod.MaxGracePeriodSeconds {
				return sandboxErr("-t %d: must be 0 to %d seconds", seconds, pod.MaxGracePeriodSeconds)
			}
			base, err := stateBase()
			if err != nil {
				return err
			}
			return forEachPod(g, args, func(name string) error { return rmOne(g, base, name, force, seconds) })
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "stop a running pod first")
	cmd.Flags().Int64VarP(&seconds, "time", "t", 0, "with -f: grace period in seconds (default: the pod's)")
	return cmd
}

func rmOne(g *globalFlags, base, name string, force bool, seconds int64) error {
	unlock, err := lockPodCommands(base, name, lockWait, func(m string) { logger(g).Warn(m) })
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := readPod(base, name)
	if err != nil {
		return err
	}
	if running(rec) {
		if !force {
			return sandboxErr("pod %s is running: stop it first (sandbox stop %s) or use sandbox rm -f", name, name)
		}
		if err := stopPod(g, base, rec, seconds); err != nil {
			return err
		}
	}
	return removeState(base, rec)
}

// supervisorExitWait bounds how long rm waits for the supervisor of a pod
// that has ended to finish its teardown.
const supervisorExitWait = 10 * time.Second

// removeState kills what is left of a pod whose supervisor is gone (only
// processes whose PID and start time match the record), removes the
// cgroups it recorded (cgroup.RemoveStale checks they are sandbox's) and
// its state directory under the state package's lock, which a live supervisor
// holds: then it refuses.
func removeState(base string, rec state.Record) error {
	st, err := state.Lock(base, rec.Name)
	if errors.Is(err, state.ErrRunning) && rec.Ended() {
		// The pod is over and its supervisor is tearing down (a few
		// milliseconds; `logs -f` returns as soon as the record says the
		// pod ended): wait for the supervisor to exit, then take the lock.
		if fd, perr := rec.Supervisor.OpenPidfd(); perr == nil {
			state.WaitPidfd(fd, supervisorExitWait)
			unix.Close(fd)
			st, err = state.Lock(base, rec.Name)
		}
	}
	if err != nil {
		if errors.Is(err, state.ErrRunning) {
			return sandboxErr("pod %s is still running: %v", rec.Name, err)
		}
		return sandboxErr("remove pod %s: %v", rec.Name, err)
	}
	killLeftovers(rec)
	if err := cgroup.RemoveStale(rec.Cgroups); err != nil {
		st.Release()
		return sandboxErr("remove pod %s: its cgroups: %v", rec.Name, err)
	}
	if err := st.Remove(); err != nil {
		return sandboxErr("remove pod %s: %v", rec.Name, err)
	}
	return nil
}

// killLeftovers SIGKILLs the recorded pause and container processes that
// still run, each through a pidfd opened and then checked against the
// recorded start time: a recycled PID is never signalled. It returns how
// many it killed.
func killLeftovers(rec state.Record) int {
	procs := []state.Process{rec.Pause}
	for _, c := range rec.Containers {
		procs = append(procs, c.Process)
	}
	killed := 0
	for _, p := range procs {
		fd, err := p.OpenPidfd()
		if err != nil {
			continue
		}
		if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
			killed++
			state.WaitPidfd(fd, 2e9)
		}
		unix.Close(fd)
	}
	return killed
}
