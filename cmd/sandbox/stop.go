package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

// lockWait is how long a command waits for another command on the same pod
// (a stop may legitimately last a whole grace period).
const lockWait = 5 * time.Minute

func newStopCommand(g *globalFlags) *cobra.Command {
	var seconds int64
	cmd := &cobra.Command{
		Use:   "stop [-t SECONDS] POD...",
		Short: "Stop running pods gracefully",
		Long: `Stop pods gracefully: the pod's supervisor runs the preStop hooks, sends
SIGTERM to every container, waits up to the grace period
(terminationGracePeriodSeconds, or -t), then kills what is left. stop waits
for the supervisor to exit. A detached pod keeps its state and logs until
sandbox rm.

-t is passed to the supervisor in the file stop-grace-seconds of the pod's
state directory, which it reads when SIGTERM arrives.`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeManyPods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("time") && (seconds < 0 || seconds > pod.MaxGracePeriodSeconds) {
				return sandboxErr("-t %d: must be 0 to %d seconds", seconds, pod.MaxGracePeriodSeconds)
			}
			if !cmd.Flags().Changed("time") {
				seconds = -1
			}
			base, err := stateBase()
			if err != nil {
				return err
			}
			return forEachPod(g, args, func(name string) error { return stopOne(g, base, name, seconds) })
		},
	}
	cmd.Flags().Int64VarP(&seconds, "time", "t", 0, "grace period in seconds (default: the pod's terminationGracePeriodSeconds)")
	return cmd
}

func stopOne(g *globalFlags, base, name string, seconds int64) error {
	unlock, err := lockPodCommands(base, name, lockWait, func(m string) { logger(g).Warn(m) })
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := readPod(base, name)
	if err != nil {
		return err
	}
	return stopPod(g, base, rec, seconds)
}

// stopPod stops the pod's supervisor, if it runs, and waits for it to exit.
// Hold the pod's command lock. seconds < 0 keeps the pod's grace period.
func stopPod(g *globalFlags, base string, rec state.Record, seconds int64) error {
	if !running(rec) {
		return nil // over, or its supervisor died: nothing runs
	}
	grace := manifestGrace(rec)
	if seconds >= 0 {
		grace = time.Duration(seconds) * time.Second
		if err := writeFileAtomic(filepath.Join(base, rec.Name, stopGraceFile), []byte(strconv.FormatInt(seconds, 10)+"\n")); err != nil {
			return sandboxErr("stop pod %s: %v", rec.Name, err)
		}
	}
	pidfd, err := rec.Supervisor.OpenPidfd()
	if err != nil {
		return nil // exited meanwhile
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return sandboxErr("stop pod %s: signal its supervisor (pid %d): %v", rec.Name, rec.Supervisor.PID, err)
	}
	// The supervisor needs the grace period plus its teardown.
	if state.WaitPidfd(pidfd, grace+10*time.Second) {
		return nil
	}
	logger(g).Warn(fmt.Sprintf("pod %s: the supervisor (pid %d) did not finish %v after SIGTERM: killing it (its pause and containers die with it)", rec.Name, rec.Supervisor.PID, grace+10*time.Second))
	unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
	if !state.WaitPidfd(pidfd, 10*time.Second) {
		return sandboxErr("pod %s: the supervisor (pid %d) survived SIGKILL", rec.Name, rec.Supervisor.PID)
	}
	return nil
}

func manifestGrace(rec state.Record) time.Duration {
	var p pod.Pod
	if err := json.Unmarshal(rec.Manifest, &p); err != nil {
		return pod.DefaultGracePeriodSeconds * time.Second
	}
	return p.GracePeriod()
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
