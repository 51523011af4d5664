package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/podsandbox/sandbox/containerinit"
)

// initExplain carries a container init's own narration (mounts,
// pivot_root, credentials, exec) to Options.Explain, for --explain only: the
// init writes one line per step on an extra pipe, which closes on exec.
type initExplain struct {
	name string
	r, w *os.File
	done chan struct{}
	// held, until release, keeps the init's lines from being forwarded
	// ahead of the supervisor's own line about the join.
	held    chan struct{}
	release func()
}

// explainInit gives cmd (a container init about to start) the write end of
// a new pipe and names it in the environment. It returns nil, and cmd is
// unchanged, when nobody asked for an explanation. pipe registers both ends
// for closing if the start fails.
func (s *sandbox) explainInit(cmd *exec.Cmd, name string, pipe func() (r, w *os.File, err error)) *initExplain {
	if !s.opts.explaining {
		return nil
	}
	r, w, err := pipe()
	if err != nil {
		return nil // narration is best effort
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	cmd.Env = append(cmd.Env, containerinit.EnvExplainFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	held := make(chan struct{})
	return &initExplain{name: name, r: r, w: w, done: make(chan struct{}), held: held, release: sync.OnceFunc(func() { close(held) })}
}

// started closes our copy of the child's end and, once released, forwards
// lines until the init execs or exits.
func (e *initExplain) started(explain func(string)) {
	if e == nil {
		return
	}
	e.w.Close()
	go func() {
		defer close(e.done)
		defer e.r.Close()
		<-e.held
		sc := bufio.NewScanner(e.r)
		for sc.Scan() {
			explain("container " + e.name + ": " + sc.Text())
		}
	}()
}

// forward lets the init's lines through (see held). Safe on nil and more
// than once.
func (e *initExplain) forward() {
	if e != nil {
		e.release()
	}
}

// wait returns once every line of the init was forwarded.
func (e *initExplain) wait() {
	if e == nil {
		return
	}
	e.forward()
	<-e.done
}

// explainCgroup narrates the placement of pid in leaf ("" for no cgroup).
func (s *sandbox) explainCgroup(who, leaf string, pid int) {
	if !s.opts.explaining || s.cgroups == nil {
		return
	}
	cg := s.cgroups.cg
	if cg.Version() == 2 {
		s.opts.Explain(fmt.Sprintf("%s: cgroup v2: pid %d written to %s/cgroup.procs", who, pid, cg.LeafDir("", leaf)))
		return
	}
	s.opts.Explain(fmt.Sprintf("%s: cgroup v1: pid %d written to cgroup.procs of %s/ below each of %s", who, pid, leaf, strings.Join(cg.Dirs(), " ")))
}
