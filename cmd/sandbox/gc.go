package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/cgroup"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/supervisor"
)

func newGCCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove the state of pods whose supervisor died",
		Long: `Remove what pods whose supervisor died left behind: any of their processes
still alive (checked by PID and start time, so a recycled PID is never
signalled) and their state directory. Pods that run, and detached pods that
ended normally (kept until sandbox rm), are left alone; so is a pod another
sandbox command is working on. Prints one line per pod removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := stateBase()
			if err != nil {
				return err
			}
			entries, err := os.ReadDir(base)
			if err != nil {
				return sandboxErr("list pods: %v", err)
			}
			var firstErr error
			for _, e := range entries {
				if !e.IsDir() {
					continue
				}
				line, err := gcOne(base, e.Name())
				if err != nil {
					logger(g).Error(err.Error())
					if firstErr == nil {
						firstErr = &exitError{code: 125}
					}
					continue
				}
				if line != "" {
					fmt.Println(line)
				}
			}
			// The bridge's network holder, when no pod uses it any more.
			if err := supervisor.CleanupNetwork(base); err != nil {
				logger(g).Warn(err.Error())
			}
			return firstErr
		},
	}
}

// gcOne removes pod name if its supervisor died; "" when it was kept.
func gcOne(base, name string) (string, error) {
	unlock, err := lockPodCommands(base, name, 0, nil)
	if err != nil {
		return "", nil // removed meanwhile, or busy: another command owns it
	}
	defer unlock()
	// The state lock is the arbiter: a live supervisor holds it.
	st, err := state.Lock(base, name)
	if errors.Is(err, state.ErrRunning) {
		return "", nil
	}
	if err != nil {
		return "", nil
	}
	rec, rerr := state.Read(base, name)
	if rerr == nil && rec.Detached && rec.Ended() {
		st.Release() // over and kept until rm
		return "", nil
	}
	killed := 0
	if rerr == nil {
		killed = killLeftovers(rec)
		if err := cgroup.RemoveStale(rec.Cgroups); err != nil {
			st.Release()
			return "", sandboxErr("gc: pod %s: its cgroups: %v", name, err)
		}
	}
	if err := st.Remove(); err != nil {
		return "", sandboxErr("gc: remove pod %s: %v", name, err)
	}
	why := "no record"
	if rerr == nil {
		why = fmt.Sprintf("supervisor pid %d died", rec.Supervisor.PID)
	}
	return fmt.Sprintf("%s\tremoved (%s; %d leftover processes killed)", name, why, killed), nil
}
