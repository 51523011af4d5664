package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/internal/crilog"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

type logsFlags struct {
	container  string
	follow     bool
	tail       int
	timestamps bool
}

func newLogsCommand() *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs [-c CONTAINER] [-f] [--tail N] [--timestamps] POD",
		Short: "Print a container's logs",
		Long: `Print the logs of a container of POD (default: its first container) from the
CRI-format log file its supervisor writes: the container's stdout to
stdout, its stderr to stderr. Logs stay readable after the pod ended, until
sandbox rm. -f follows new output until the container is over for good (it
ended and will not be restarted) or the pod ended.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePods,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(&f, args[0])
		},
	}
	cmd.Flags().StringVarP(&f.container, "container", "c", "", "container (default: the pod's first container)")
	cmd.Flags().BoolVarP(&f.follow, "follow", "f", false, "follow the log until the container is over")
	cmd.Flags().IntVar(&f.tail, "tail", -1, "print only the last N lines (-1: all)")
	cmd.Flags().BoolVar(&f.timestamps, "timestamps", false, "prefix each line with its time (RFC 3339, nanoseconds)")
	cmd.RegisterFlagCompletionFunc("container", completeContainers)
	return cmd
}

func runLogs(f *logsFlags, name string) error {
	base, err := stateBase()
	if err != nil {
		return err
	}
	rec, err := readPod(base, name)
	if err != nil {
		return err
	}
	cname := f.container
	if cname == "" {
		for _, c := range rec.Containers {
			if !c.Init {
				cname = c.Name
				break
			}
		}
	}
	cs := rec.Container(cname)
	if cs == nil {
		return sandboxErr("pod %s has no container %q", name, cname)
	}
	p := &logPrinter{timestamps: f.timestamps, out: map[string]io.Writer{crilog.Stdout: os.Stdout, crilog.Stderr: os.Stderr}, mid: map[string]bool{}}
	var file *os.File
	for file == nil {
		file, err = os.Open(cs.Log)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return sandboxErr("logs of %s/%s: %v", name, cname, err)
		}
		// Not started yet: nothing logged so far.
		if !f.follow || followDone(base, name, cname) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer file.Close()
	var pending []byte
	readAll := func() ([][]byte, error) {
		data, err := io.ReadAll(file)
		if err != nil {
			return nil, err
		}
		pending = append(pending, data...)
		var lines [][]byte
		for {
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				break
			}
			lines = append(lines, pending[:i])
			pending = pending[i+1:]
		}
		return lines, nil
	}
	lines, err := readAll()
	if err != nil {
		return sandboxErr("logs of %s/%s: %v", name, cname, err)
	}
	entries := parseEntries(lines)
	if f.tail >= 0 {
		entries = lastLines(entries, f.tail)
	}
	p.print(entries)
	if !f.follow {
		return nil
	}
	for {
		// Check first, then read: output written before the end was seen
		// is printed by this last read.
		done := followDone(base, name, cname)
		lines, err := readAll()
		if err != nil {
			return sandboxErr("logs of %s/%s: %v", name, cname, err)
		}
		p.print(parseEntries(lines))
		if done {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func parseEntries(lines [][]byte) []crilog.Entry {
	out := make([]crilog.Entry, 0, len(lines))
	for _, l := range lines {
		e, err := crilog.Parse(l)
		if err == nil {
			out = append(out, e)
		}
	}
	return out
}

// lastLines keeps the entries of the last n lines, a line being partial
// entries of one stream ended by a full one.
func lastLines(entries []crilog.Entry, n int) []crilog.Entry {
	count := 0
	for i := len(entries) - 1; i >= 0; i-- {
		if !entries[i].Partial || i == len(entries)-1 {
			count++
			if count > n {
				return entries[i+1:]
			}
		}
	}
	return entries
}

type logPrinter struct {
	timestamps bool
	out        map[string]io.Writer
	mid        map[string]bool // a partial line of the stream is open
}

func (p *logPrinter) print(entries []crilog.Entry) {
	for _, e := range entries {
		w := p.out[e.Stream]
		if w == nil {
			w = os.Stdout
		}
		var b bytes.Buffer
		if p.timestamps && !p.mid[e.Stream] {
			b.WriteString(e.Time.Format(time.RFC3339Nano))
			b.WriteByte(' ')
		}
		b.Write(e.Content)
		if !e.Partial {
			b.WriteByte('\n')
		}
		p.mid[e.Stream] = e.Partial
		w.Write(b.Bytes())
	}
}

// followDone reports whether container cname of the pod will log no more:
// the pod ended (or is gone, or its supervisor died), or the container
// ended and its restartPolicy does not restart it.
func followDone(base, name, cname string) bool {
	rec, err := readPod(base, name)
	if err != nil || rec.Ended() {
		return true
	}
	cs := rec.Container(cname)
	if cs == nil {
		return true
	}
	return cs.State == state.StateTerminated && !willRestart(rec, cs)
}

func willRestart(rec state.Record, cs *state.ContainerStatus) bool {
	var p pod.Pod
	if err := json.Unmarshal(rec.Manifest, &p); err != nil {
		return false
	}
	policy := p.Spec.RestartPolicy
	if cs.Init && policy == pod.RestartAlways {
		policy = pod.RestartOnFailure
	}
	switch policy {
	case pod.RestartAlways:
		return true
	case pod.RestartOnFailure:
		return cs.ExitCode != 0
	}
	return false
}
