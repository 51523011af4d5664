package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/idmap"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/nsenter"
)

// pauseSpawn hands the pod's first container join to the goroutine that
// owns the pause. In spawn mode the join's constructor creates the pause
// (clone with the pod's namespaces, CLONE_PARENT) and then joins it, so the
// pause's setup and the join's run side by side instead of one after the
// other: the supervisor's own clone of the pause waits for the pause's
// exec of the binary before the join can even start (see nsenter.c,
// spawn_pause).
//
// An executed join is started from the pause goroutine's thread, which
// stays locked while the pause lives: the pause's parent-death signal is
// tied to the thread that started the join (CLONE_PARENT makes that thread
// its parent). One the CLI's fork server starts is the main thread's child
// (startSpawningJoin).
type pauseSpawn struct {
	claimed atomic.Bool
	// cmds receives the first join, or nil when the container that
	// claimed the spawn gave up before starting it.
	cmds chan *joinStart
	// The pause's clone flags and the ends of its pipes the join gets:
	// with waitW, the pause's wake-up once the maps are written is the
	// join's, not ours.
	flags               uintptr
	syncW, waitR, waitW *os.File
	// started returns cmd.Start's error to the container.
	started chan error
}

// spawnsPause tells whether the first container's join creates the pause:
// when a container starts before the pause is ready (startFirstContainers)
// and the pause is not nested in the network holder.
func (s *sandbox) spawnsPause() bool {
	return !s.needsVolumeHelper() && !s.idmapsImages() && (s.bridge == nil || !s.bridge.nested)
}

// claim is true for exactly one caller: the container whose join creates
// the pause. It is false when the pod does not spawn its pause.
func (p *pauseSpawn) claim() bool {
	return p != nil && p.claimed.CompareAndSwap(false, true)
}

// joinStart is the pod's first join: to be started by the pause goroutine,
// or (started) already started by the fork server, with err.
type joinStart struct {
	cmd     *exec.Cmd
	started bool
	err     error
}

// startSpawningJoin starts the pod's first join, cmd, which creates the
// pause. The fork server, when it may (spawnable), starts it right here: its
// clone is a child of the main thread, which lives as long as the process,
// so the pause's parent-death signal needs no locked thread, and the join
// skips two hand-offs between threads (each up to 0.8 ms on a busy 2-CPU
// machine). Otherwise the pause goroutine's locked thread executes it.
func (s *sandbox) startSpawningJoin(cmd *exec.Cmd, spawnable bool) error {
	s.prepareSpawningJoin(cmd)
	if spawnable {
		if err := s.opts.Spawner.Start(cmd); !errors.Is(err, nsenter.ErrNoSpawner) {
			s.spawn.cmds <- &joinStart{cmd: cmd, started: true, err: err}
			return err
		}
	}
	s.spawn.cmds <- &joinStart{cmd: cmd}
	return <-s.spawn.started
}

// prepareSpawningJoin gives the first join what it needs to create the
// pause: the pause's pipes, its clone flags, and the id maps to write.
func (s *sandbox) prepareSpawningJoin(cmd *exec.Cmd) {
	p := s.spawn
	// The join's layout (startContainer): 3 sync, 4 the pause's pidfd,
	// which a spawning join has not got yet: the pause's sync pipe takes
	// its place; its wait pipe's read end (the pause's) and write end (the
	// join's, closed once the maps are written) go last.
	cmd.ExtraFiles[1] = p.syncW
	cmd.ExtraFiles = append(cmd.ExtraFiles, p.waitR, p.waitW)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, nsenter.EnvPidFD+"=") })
	cmd.Env = append(pauseEnv(cmd.Env),
		nsenter.EnvCloneFlags+"="+strconv.FormatUint(uint64(p.flags), 10),
		nsenter.EnvPauseSyncFD+"=4",
		nsenter.EnvPauseWaitFD+"="+strconv.Itoa(1+len(cmd.ExtraFiles)),
		nsenter.EnvPauseWakeFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	if m := s.plan.mapping; s.plan.userns {
		// The join writes the maps as soon as it has cloned the pause
		// (nsenter.c): itself, those we may write ourselves (write_maps),
		// or with newuidmap and newgidmap (start_map_helpers).
		helpers, ok := mapHelpers(m)
		if ok {
			s.mapsByJoin = true
			cmd.Env = append(cmd.Env, nsenter.EnvUIDMap+"="+idmap.Format(m.UIDs), nsenter.EnvGIDMap+"="+idmap.Format(m.GIDs))
		}
		switch {
		case ok && helpers != "":
			cmd.Env = append(cmd.Env, nsenter.EnvMapHelpers+"="+helpers)
		case ok && os.Geteuid() != 0:
			cmd.Env = append(cmd.Env, nsenter.EnvSetgroups+"=deny")
		}
	}
}

// pauseEnv is env, for a process that is or makes a pod's pause, with
// SANDBOX_FASTPATH=0 when we have it: no fast path at all, so the pause
// keeps the binary instead of executing the pause image (nsenter.c,
// sandbox_fast_paths_off).
func pauseEnv(env []string) []string {
	if os.Getenv("SANDBOX_FASTPATH") == "0" {
		return append(env, "SANDBOX_FASTPATH=0")
	}
	return env
}

// startJoin starts a container's join that does not create the pause:
// spawnable (its init runs in C, never in Go) and with the CLI's fork server
// still open, as a clone of the server (nsenter/spawner.c), else by
// executing the binary.
func (s *sandbox) startJoin(cmd *exec.Cmd, spawnable bool) error {
	if spawnable {
		if err := s.opts.Spawner.Start(cmd); !errors.Is(err, nsenter.ErrNoSpawner) {
			return err
		}
	}
	return cmd.Start()
}

// startSpawn starts the goroutine that, once the first container hands over
// its join (prepareSpawningJoin gave it the pause's descriptors, syncW,
// waitR and waitW, and clone flags), starts it unless the fork server did,
// reads the pause's pid, adopts it, and waits for it to exit.
func (s *sandbox) startSpawn(flags uintptr, syncW, waitR, waitW *os.File) {
	// Buffered: neither side ever blocks on the other's absence.
	s.spawn = &pauseSpawn{cmds: make(chan *joinStart, 1), started: make(chan error, 1), flags: flags, syncW: syncW, waitR: waitR, waitW: waitW}
	s.pauseDone = make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer syncW.Close()
		defer waitR.Close()
		fail := func(err error) {
			s.pauseStartErr = fmt.Errorf("start pause: %w", err)
			close(s.pauseStarted)
			s.pauseDone <- err
		}
		var join *joinStart
		select {
		case join = <-s.spawn.cmds:
		case <-s.stopping:
			// One the fork server started already is the pod's: its
			// pause is adopted (and killed at teardown) as usual.
			select {
			case join = <-s.spawn.cmds:
			default:
			}
			if join == nil || !join.started {
				join = nil
				s.spawn.started <- errors.New("pod is stopping") // for a join handed over too late
			}
		}
		if join == nil {
			fail(errors.New("the pod's first container did not start"))
			return
		}
		spawned, err := join.started, join.err
		if !spawned {
			err = join.cmd.Start()
			s.spawn.started <- err
		}
		if err != nil {
			fail(err)
			return
		}
		syncW.Close()
		waitR.Close()
		waitW.Close() // s.pauseWait: the join holds the pause's wake-up now
		report := bufio.NewReader(s.pauseSync)
		s.pauseReport = report
		pid, err := readPausePID(report)
		if err != nil {
			fail(err)
			return
		}
		proc, _ := os.FindProcess(pid) // never fails on Linux
		s.pause, s.pausePID = &exec.Cmd{Process: proc}, pid
		// In a new user namespace, the join clones the pause without
		// CLONE_NEWNET, which the pause then unshares beside the id
		// mapping (nsenter.c, spawn_pause).
		how := fmt.Sprintf("clone(%s|CLONE_PARENT)", cloneFlagNames(flags))
		if late := uintptr(unix.CLONE_NEWNET | unix.CLONE_NEWUSER); flags&late == late {
			how = fmt.Sprintf("clone(%s|CLONE_PARENT), unshare(CLONE_NEWNET)", cloneFlagNames(flags&^unix.CLONE_NEWNET))
		}
		how += " by the first container's join, which then joins it"
		if spawned {
			how += "; the join itself is a clone of the CLI's fork server (nsenter/spawner.c), not an exec"
		}
		err = s.adoptPause(-1, how)
		if err == nil {
			// Once the pause has all the pod's namespaces (it makes
			// the network one after its clone), the other containers
			// may join them (awaitPause).
			if line, lerr := nextPauseLine(report, "made the pod's network namespace"); lerr != nil {
				err = fmt.Errorf("start pause: %w", lerr)
			} else if line != "net" {
				err = fmt.Errorf("start pause: %w: unexpected report %q", nsenter.ErrSetup, line)
			}
		}
		s.pauseStartErr = err
		close(s.pauseStarted)
		s.pauseDone <- waitChild(pid)
	}()
}

// mapHelpers tells how a join may write mapping m: itself (ok, ""), or with
// the setuid helpers it then runs (their paths, one per line). Not ok: the
// helpers are not in PATH, and idmap.Apply reports that.
func mapHelpers(m idmap.Mapping) (string, bool) {
	if m.Direct() {
		return "", true
	}
	uid, err1 := exec.LookPath("newuidmap")
	gid, err2 := exec.LookPath("newgidmap")
	if err1 != nil || err2 != nil {
		return "", false
	}
	return uid + "\n" + gid, true
}

// adoptPause records the pod's new pause (s.pausePID): its cgroup, its
// pidfd (the one clone returned, or -1 to open one: the pause is our child,
// so its PID cannot be recycled before we reap it), its identity in the
// record, and how it was made (explain).
func (s *sandbox) adoptPause(pidfd int, how string) error {
	if pidfd < 0 {
		fd, err := unix.PidfdOpen(s.pausePID, 0)
		if err != nil {
			return fmt.Errorf("start pause: pidfd: %w", err)
		}
		pidfd = fd
	}
	s.pausePidfd = os.NewFile(uintptr(pidfd), "pause-pidfd")
	if err := s.placeInCgroup(pauseLeaf, s.pausePID); err != nil {
		return err
	}
	s.explainCgroup("pause", pauseLeaf, s.pausePID)
	if id, err := state.Identify(s.pausePID); err == nil {
		s.record.Pause = id
	}
	s.opts.Explain(fmt.Sprintf("pause: %s: pid %d", how, s.pausePID))
	return nil
}

// awaitPause waits until the pause exists (spawn mode: until the first
// container's join created it).
func (s *sandbox) awaitPause() error {
	<-s.pauseStarted
	return s.pauseStartErr
}

// awaitMapsByJoin reads the "maps" line a spawning join writes once it has
// written the pause's id maps.
func (s *sandbox) awaitMapsByJoin() error {
	line, err := nextPauseLine(s.pauseReport.(*bufio.Reader), "wrote the id maps")
	if err == nil && line != "maps" {
		err = fmt.Errorf("%w: unexpected report %q", nsenter.ErrSetup, line)
	}
	return err
}

// readPausePID reads the line a spawning join writes on the pause's sync
// pipe: "pid N", or "clone-errno N" when the kernel refused the pause's
// namespaces.
func readPausePID(r *bufio.Reader) (int, error) {
	line, err := nextPauseLine(r, "created the pause")
	if err != nil {
		return 0, err
	}
	if n, ok := strings.CutPrefix(line, "clone-errno "); ok {
		e, _ := strconv.Atoi(n)
		errno := syscall.Errno(e)
		return 0, fmt.Errorf("%w: clone the pause: %w%s", nsenter.ErrSetup, errno, usernsHint(errno))
	}
	n, ok := strings.CutPrefix(line, "pid ")
	pid, perr := strconv.Atoi(n)
	if !ok || perr != nil || pid <= 0 {
		return 0, fmt.Errorf("%w: unexpected report %q", nsenter.ErrSetup, line)
	}
	return pid, nil
}

// nextPauseLine reads the next line of the pause's sync pipe that a
// spawning join writes before the pause's own "ok": an "error" line (the
// join's or the pause's) or the end of the pipe before the join did what
// it was waited for is an error.
func nextPauseLine(r *bufio.Reader, waitedFor string) (string, error) {
	line, err := r.ReadString('\n')
	line = strings.TrimSuffix(line, "\n")
	switch {
	case strings.HasPrefix(line, "error "):
		return "", fmt.Errorf("%w: %s", nsenter.ErrSetup, strings.TrimPrefix(line, "error "))
	case err != nil:
		return "", fmt.Errorf("%w: the first container's join exited before it %s", nsenter.ErrSetup, waitedFor)
	}
	return line, nil
}

// waitChild reaps pid, a child the supervisor did not start through
// os/exec (CLONE_PARENT), and describes how it ended.
func waitChild(pid int) error {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("wait: %w", err)
		}
	}
	if ws.Signaled() {
		return fmt.Errorf("was killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Errorf("exited with status %d", ws.ExitStatus())
}
