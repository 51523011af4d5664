package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/internal/state"
)

func newInspectCommand() *cobra.Command {
	var format string // inspect_format.go
	cmd := &cobra.Command{
		Use:   "inspect POD...",
		Short: "Print everything sandbox knows about pods, as JSON",
		Long: `Print a JSON array with one object per pod: the record its supervisor keeps
(manifest as run, phase, exit code and reason, the supervisor's and pause's
PIDs with start times, the namespace inodes of the pause and of each
container, per-container state, exit codes, reasons, restart counts and log
paths), corrected by what is alive now (a pod whose supervisor died is
Failed/SupervisorDied), plus the state directory, whether each recorded
process is alive, and each running container's mounts and resource limits.

--format tree prints the pause and each container with its namespaces, each
marked pod (the pause's), shared (a container in the pause's), private or
host, plus volumes and ports; --format dot prints the same as a Graphviz
graph (sandbox inspect --format dot POD | dot -Tpng > pod.png).`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeManyPods,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkInspectFormat(format); err != nil {
				return err
			}
			base, err := stateBase()
			if err != nil {
				return err
			}
			var out []inspectView
			for _, name := range args {
				rec, err := readPod(base, name)
				if err != nil {
					return err
				}
				out = append(out, inspect(base, rec))
			}
			if format == "tree" || format == "dot" {
				return writeInspectFormat(out, format)
			}
			return writeJSON(os.Stdout, out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "json, tree (namespaces shared or private, volumes, ports) or dot (the same for Graphviz)")
	return cmd
}

type inspectView struct {
	state.Record
	StateDir        string          `json:"stateDir"`
	SupervisorAlive bool            `json:"supervisorAlive"`
	PauseAlive      bool            `json:"pauseAlive"`
	PodIP           string          `json:"podIP,omitempty"`
	Containers      []containerView `json:"containers"`
}

type containerView struct {
	state.ContainerStatus
	Alive  bool            `json:"alive"`
	Limits json.RawMessage `json:"resources,omitempty"`
	Mounts []mountView     `json:"mounts,omitempty"`
}

type mountView struct {
	Target  string `json:"target"`
	Type    string `json:"type"`
	Source  string `json:"source"`
	Options string `json:"options"`
}

func inspect(base string, rec state.Record) inspectView {
	v := inspectView{Record: rec, StateDir: filepath.Join(base, rec.Name),
		SupervisorAlive: rec.Supervisor.Running(), PauseAlive: rec.Pause.Running(), PodIP: rec.PodIP}
	resources := manifestResources(rec)
	for _, c := range rec.Containers {
		cv := containerView{ContainerStatus: c, Limits: resources[c.Name]}
		if c.State == state.StateRunning && c.Process.Running() {
			cv.Alive = true
			cv.Mounts = mounts(c.Process.PID)
		}
		v.Containers = append(v.Containers, cv)
	}
	return v
}

// manifestResources returns each container's resources from the manifest.
func manifestResources(rec state.Record) map[string]json.RawMessage {
	var m struct {
		Spec struct {
			Containers     []map[string]json.RawMessage `json:"containers"`
			InitContainers []map[string]json.RawMessage `json:"initContainers"`
		} `json:"spec"`
	}
	out := map[string]json.RawMessage{}
	if json.Unmarshal(rec.Manifest, &m) != nil {
		return out
	}
	for _, c := range append(m.Spec.InitContainers, m.Spec.Containers...) {
		var name string
		json.Unmarshal(c["name"], &name)
		if r, ok := c["resources"]; ok && string(r) != "{}" {
			out[name] = r
		}
	}
	return out
}

// mounts lists the mounts of process pid (its mount namespace), best
// effort.
func mounts(pid int) []mountView {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []mountView
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root target options [optional...] - type source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 6 || len(b) < 2 {
			continue
		}
		out = append(out, mountView{Target: a[4], Type: b[0], Source: b[1], Options: a[5]})
	}
	return out
}
