package nsenter

import (
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// Pipes are the descriptors of one re-execution through the join or exec
// role: the sync pipe (the constructor's Report), the config pipe (to the
// Go code of the joined child) and the error pipe (a start failure, or EOF
// when the child's exec succeeded).
type Pipes struct {
	SyncR, SyncW, ConfigR, ConfigW, ErrR, ErrW *os.File
}

// NewPipes creates the three pipes; on failure nothing stays open.
func NewPipes() (*Pipes, error) {
	var p Pipes
	for _, pair := range [][2]**os.File{{&p.SyncR, &p.SyncW}, {&p.ConfigR, &p.ConfigW}, {&p.ErrR, &p.ErrW}} {
		r, w, err := os.Pipe()
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("pipe: %w", err)
		}
		*pair[0], *pair[1] = r, w
	}
	return &p, nil
}

// Started closes the caller's copies of the ends the child inherited
// (SyncW, ConfigR, ErrW): EOF on the others then comes when the child's
// copies go.
func (p *Pipes) Started() {
	for _, f := range []*os.File{p.SyncW, p.ConfigR, p.ErrW} {
		if f != nil {
			f.Close()
		}
	}
}

// Close closes every end still open.
func (p *Pipes) Close() {
	for _, f := range []*os.File{p.SyncR, p.SyncW, p.ConfigR, p.ConfigW, p.ErrR, p.ErrW} {
		if f != nil {
			f.Close()
		}
	}
}

// Await reads the constructor's report and waits for cmd, the helper that
// exits as soon as it has cloned the joined child. On failure the joined
// child, if there is one, is killed and reaped.
func (p *Pipes) Await(cmd *exec.Cmd) (Report, error) {
	rep, err := ReadReport(p.SyncR)
	if werr := cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("%w: join: %w", ErrSetup, werr)
	}
	if err != nil {
		KillChild(rep.PID)
		return Report{}, err
	}
	return rep, nil
}

// KillChild SIGKILLs and reaps a joined child. It must be the caller's own
// child (CLONE_PARENT) not yet waited for, so the PID is still its.
func KillChild(pid int) {
	if pid <= 0 {
		return
	}
	unix.Kill(pid, unix.SIGKILL)
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
}
