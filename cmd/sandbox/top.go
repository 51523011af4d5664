package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/cgroup"
	"github.com/podsandbox/sandbox/internal/state"
)

// usageRow is one line of `sandbox top`.
type usageRow struct {
	Container string `json:"container"`
	State     string `json:"state"`
	PID       int    `json:"pid,omitempty"`
	// MemoryBytes, CPUSeconds and Pids are -1 when not measured.
	MemoryBytes int64   `json:"memoryBytes"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	Pids        int64   `json:"pids"`
	// Source says where the figures come from: "cgroup", or "process" (the
	// container's main process only, when the pod has no cgroup).
	Source string `json:"source"`
}

func newTopCommand() *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "top POD",
		Short: "Show memory, CPU time and process count per container",
		Long: `Show each container's memory, CPU time and number of processes, read
from its cgroup leaf (and the pod's cgroup for the total). Without a cgroup
(cgroups not delegated to you), memory is the RSS of the container's main
process and the other columns are empty.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			base, err := stateBase()
			if err != nil {
				return err
			}
			rec, err := readPod(base, args[0])
			if err != nil {
				return err
			}
			rows := podUsage(&rec)
			if out.format == "json" {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return printUsage(os.Stdout, rows)
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func podUsage(rec *state.Record) []usageRow {
	var rows []usageRow
	for _, c := range rec.Containers {
		row := usageRow{Container: c.Name, State: c.State, MemoryBytes: -1, CPUSeconds: -1, Pids: -1}
		alive := c.State == state.StateRunning && c.Process.Alive()
		if alive {
			row.PID = c.Process.PID
		}
		switch {
		case len(rec.Cgroups) > 0:
			u := cgroup.ReadUsage(rec.Cgroups, c.Name)
			row.Source, row.MemoryBytes, row.Pids = "cgroup", u.MemoryBytes, u.Pids
			if u.CPUNanos >= 0 {
				row.CPUSeconds = float64(u.CPUNanos) / 1e9
			}
		case alive:
			row.Source, row.MemoryBytes = "process", rssBytes(c.Process.PID)
		}
		rows = append(rows, row)
	}
	if len(rec.Cgroups) > 0 {
		u := cgroup.ReadUsage(rec.Cgroups, "")
		row := usageRow{Container: "(pod)", State: rec.Phase, Source: "cgroup", MemoryBytes: u.MemoryBytes, Pids: u.Pids, CPUSeconds: -1}
		if u.CPUNanos >= 0 {
			row.CPUSeconds = float64(u.CPUNanos) / 1e9
		}
		rows = append(rows, row)
	}
	return rows
}

// rssBytes is VmRSS of pid, or -1.
func rssBytes(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return -1
}

func printUsage(w io.Writer, rows []usageRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tSTATE\tPID\tMEMORY\tCPU\tPIDS\tSOURCE")
	for _, r := range rows {
		pid := ""
		if r.PID > 0 {
			pid = strconv.Itoa(r.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Container, r.State, pid, humanBytes(r.MemoryBytes),
			cpuSeconds(r.CPUSeconds), count(r.Pids), r.Source)
	}
	return tw.Flush()
}

func humanBytes(n int64) string {
	switch {
	case n < 0:
		return ""
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGi", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMi", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0fKi", float64(n)/(1<<10))
	}
}

func cpuSeconds(s float64) string {
	if s < 0 {
		return ""
	}
	return fmt.Sprintf("%.2fs", s)
}

func count(n int64) string {
	if n < 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}
