package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/internal/state"
)

// outputFlag is --format/-o: table or json.
type outputFlag struct{ format string }

func addOutputFlag(cmd *cobra.Command, o *outputFlag) {
	cmd.Flags().StringVarP(&o.format, "format", "o", "table", "output format: table or json")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

func (o *outputFlag) check() error {
	if o.format != "table" && o.format != "json" {
		return sandboxErr("--format %q: use table or json", o.format)
	}
	return nil
}

func newPsCommand() *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "ps [POD]",
		Short: "List pods, or the containers of one pod",
		Long: `List pods: name, status (phase, and the reason when there is one), ready
containers, restarts, age and IP. With POD, list its containers: state,
exit code, reason (Completed, Error, OOMKilled, CrashLoopBackOff, ...),
restarts and age.

A pod whose supervisor died shows as Failed (SupervisorDied); sandbox gc
removes it.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			base, err := stateBase()
			if err != nil {
				return err
			}
			if len(args) == 1 {
				rec, err := readPod(base, args[0])
				if err != nil {
					return err
				}
				return printContainers(os.Stdout, rec, out.format)
			}
			recs, err := listPods(base)
			if err != nil {
				return err
			}
			return printPods(os.Stdout, recs, out.format)
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

// podSummary is one row of `sandbox ps`.
type podSummary struct {
	Name     string    `json:"name"`
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	Ready    int       `json:"ready"`
	Total    int       `json:"total"`
	Restarts int       `json:"restarts"`
	Created  time.Time `json:"created"`
	IP       string    `json:"ip,omitempty"`
	Detached bool      `json:"detached"`
}

func summarize(rec state.Record) podSummary {
	s := podSummary{Name: rec.Name, Status: rec.Phase, Reason: rec.Reason, Created: rec.Created, Detached: rec.Detached, IP: rec.PodIP}
	for _, c := range rec.Containers {
		s.Restarts += c.Restarts
		if c.Init {
			continue
		}
		s.Total++
		if c.State == state.StateRunning && rec.Phase == state.PhaseRunning {
			s.Ready++
		}
		// kubectl shows a crash-looping container's reason as the pod's
		// status while the pod runs.
		if c.Reason == state.ReasonCrashLoopBackOff && c.State == state.StateWaiting && !rec.Ended() && s.Reason == "" {
			s.Reason = c.Reason
		}
	}
	return s
}

func printPods(w io.Writer, recs []state.Record, format string) error {
	rows := make([]podSummary, 0, len(recs))
	for _, r := range recs {
		rows = append(rows, summarize(r))
	}
	if format == "json" {
		return writeJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tREADY\tRESTARTS\tAGE\tIP")
	for _, r := range rows {
		status := r.Status
		if r.Reason != "" {
			status += " (" + r.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\n", r.Name, status, r.Ready, r.Total, r.Restarts, age(r.Created), r.IP)
	}
	return tw.Flush()
}

// containerRow is one row of `sandbox ps POD`.
type containerRow struct {
	Name     string    `json:"name"`
	Init     bool      `json:"init,omitempty"`
	State    string    `json:"state"`
	ExitCode *int      `json:"exitCode,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Message  string    `json:"message,omitempty"`
	Restarts int       `json:"restarts"`
	PID      int       `json:"pid,omitempty"`
	Started  time.Time `json:"startedAt,omitzero"`
	Finished time.Time `json:"finishedAt,omitzero"`
}

func printContainers(w io.Writer, rec state.Record, format string) error {
	rows := make([]containerRow, 0, len(rec.Containers))
	for _, c := range rec.Containers {
		r := containerRow{Name: c.Name, Init: c.Init, State: c.State, Reason: c.Reason, Message: c.Message,
			Restarts: c.Restarts, Started: c.StartedAt, Finished: c.FinishedAt}
		if c.State == state.StateTerminated || c.Reason == state.ReasonCrashLoopBackOff {
			code := c.ExitCode
			r.ExitCode = &code
		}
		if c.State == state.StateRunning {
			r.PID = c.Process.PID
		}
		rows = append(rows, r)
	}
	if format == "json" {
		return writeJSON(w, struct {
			Pod        podSummary     `json:"pod"`
			Message    string         `json:"message,omitempty"`
			Containers []containerRow `json:"containers"`
		}{summarize(rec), rec.Message, rows})
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tSTATE\tEXIT CODE\tREASON\tRESTARTS\tPID\tAGE")
	for _, r := range rows {
		name := r.Name
		if r.Init {
			name += " (init)"
		}
		code, pid, since := "", "", ""
		if r.ExitCode != nil {
			code = strconv.Itoa(*r.ExitCode)
		}
		if r.PID > 0 {
			pid = strconv.Itoa(r.PID)
			since = age(r.Started)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, r.State, code, r.Reason, r.Restarts, pid, since)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rec.Message != "" {
		fmt.Fprintf(w, "\npod %s: %s\n", rec.Phase, rec.Message)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// age formats the time since t as kubectl does: 42s, 5m, 3h, 2d.
func age(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
