// Package state owns a pod's state directory: where it lives, the lock that
// makes one pod name belong to one supervisor at a time, the record of what
// was created (PIDs with their start times), and the detection and removal
// of state left by a supervisor that died. Cleanup after a crash reads this
// record, never the manifest.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrRunning means another live supervisor holds the pod's lock.
var ErrRunning = errors.New("pod already running")

// ErrExists means a detached pod of that name ended and its state is kept
// until `sandbox rm`.
var ErrExists = errors.New("pod exists")

// BaseDir is the directory holding every pod's state for the calling user:
// /run/sandbox for root; $XDG_RUNTIME_DIR/sandbox when that directory is the
// caller's own; otherwise /tmp/sandbox-UID, created 0700 and checked to be
// the caller's (a directory another user made there first is refused).
func BaseDir() (string, error) {
	return baseDir(os.Geteuid(), os.Getenv("XDG_RUNTIME_DIR"), os.TempDir())
}

func baseDir(uid int, xdg, tmp string) (string, error) {
	if uid == 0 {
		// 0711: a pod with hostUsers: false runs as a mapped uid that must
		// traverse to its own directories; nobody can list the pods.
		return ensureDir("/run/sandbox", uid, 0o711)
	}
	if xdg != "" && filepath.IsAbs(xdg) {
		if st, err := os.Stat(xdg); err == nil && st.IsDir() && ownedBy(st, uid) {
			return ensurePrivateDir(filepath.Join(xdg, "sandbox"), uid)
		}
	}
	return ensurePrivateDir(filepath.Join(tmp, "sandbox-"+strconv.Itoa(uid)), uid)
}

func ownedBy(st os.FileInfo, uid int) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == uid
}

func ensurePrivateDir(dir string, uid int) (string, error) {
	return ensureDir(dir, uid, 0o700)
}

func ensureDir(dir string, uid int, mode os.FileMode) (string, error) {
	if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create state directory %s: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("state directory %s: %w", dir, err)
	}
	if !st.IsDir() || !ownedBy(st, uid) {
		return "", fmt.Errorf("state directory %s is not a directory owned by uid %d: refusing to use it", dir, uid)
	}
	if st.Mode().Perm() != mode {
		if err := os.Chmod(dir, mode); err != nil {
			return "", fmt.Errorf("state directory %s: %w", dir, err)
		}
	}
	return dir, nil
}

// Process identifies a process across PID reuse: the PID and its start time
// in clock ticks since boot (field 22 of /proc/PID/stat).
type Process struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// Identify records the identity of a live process.
func Identify(pid int) (Process, error) {
	st, err := StartTime(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, StartTime: st}, nil
}

// Alive reports whether the recorded process still runs: the PID exists and
// has the recorded start time (a recycled PID has another).
func (p Process) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, err := StartTime(p.PID)
	return err == nil && st == p.StartTime
}

// Running is Alive for a process that has not exited: a killed process
// stays a zombie, with its PID and start time, until whoever inherited it
// reaps it; one in do_exit is not running either.
func (p Process) Running() bool {
	return p.Alive() && !Exiting(p.PID)
}

// Exiting reports whether pid is gone, a zombie, or in do_exit (PF_EXITING
// in the flags of /proc/PID/stat).
func Exiting(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 7 {
		return true
	}
	const pfExiting = 0x4
	flags, err := strconv.ParseUint(fields[6], 10, 64) // field 9
	return fields[0] == "Z" || fields[0] == "X" || (err == nil && flags&pfExiting != 0)
}

// OpenPidfd opens a pidfd on p and checks, once it is open, that the PID
// still has the recorded start time: the pidfd then refers to the recorded
// process, never to a recycled PID. ESRCH when p no longer runs.
func (p Process) OpenPidfd() (int, error) {
	if p.PID <= 0 {
		return -1, unix.ESRCH
	}
	fd, err := unix.PidfdOpen(p.PID, 0)
	if err != nil {
		return -1, err
	}
	if !p.Alive() {
		unix.Close(fd)
		return -1, unix.ESRCH
	}
	return fd, nil
}

// WaitPidfd waits up to d for the process behind pidfd to exit (a pidfd
// polls readable then, also for a process that is not the caller's child)
// and reports whether it did.
func WaitPidfd(pidfd int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(left, time.Second)/time.Millisecond)+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false
		}
		if n > 0 {
			return true
		}
	}
}

// StartTime reads a process's start time from /proc/PID/stat.
func StartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read start time of pid %d: %w", pid, err)
	}
	// comm (field 2) may contain spaces and parentheses: parse after the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no comm field", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); start time is field 22.
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// Pod phases, as Kubernetes names them.
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
)

// Container states and the reasons a terminated or waiting container has
// (Kubernetes' names).
const (
	StateWaiting    = "Waiting"
	StateRunning    = "Running"
	StateTerminated = "Terminated"

	ReasonCompleted        = "Completed"
	ReasonError            = "Error"
	ReasonOOMKilled        = "OOMKilled"
	ReasonStartError       = "StartError"
	ReasonCrashLoopBackOff = "CrashLoopBackOff"
	ReasonKilled           = "Killed"
)

// Record is what a pod's state.json holds: what was created and what became
// of it. Written only by the pod's supervisor, read by every other command.
type Record struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Manifest is the pod as run (defaults applied), JSON.
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// Detached pods keep their state after they end, until `sandbox rm`.
	Detached   bool    `json:"detached,omitempty"`
	Supervisor Process `json:"supervisor"`
	Pause      Process `json:"pause"`
	// Namespaces of the pause by type ("net", "ipc", ...): inode numbers.
	Namespaces map[string]uint64 `json:"namespaces,omitempty"`
	// PodIP is the pod's address on the bridge (--network bridge).
	PodIP string `json:"podIP,omitempty"`
	Phase string `json:"phase"`
	// ExitCode and Reason are set when the pod has ended.
	ExitCode   int               `json:"exitCode"`
	Reason     string            `json:"reason,omitempty"`
	Message    string            `json:"message,omitempty"`
	Finished   time.Time         `json:"finished,omitzero"`
	Containers []ContainerStatus `json:"containers"`
	// Warnings are what the supervisor warned about when it planned the pod
	// (limits it cannot enforce and why, the id mapping fallback).
	Warnings []string `json:"warnings,omitempty"`
	// Cgroups are the pod's cgroup directories (one per v1 hierarchy), for
	// the cleanup after a supervisor died.
	Cgroups []string `json:"cgroups,omitempty"`
}

// ContainerStatus is one container's latest state.
type ContainerStatus struct {
	Name  string `json:"name"`
	Init  bool   `json:"init,omitempty"`
	State string `json:"state"`
	// Process is the current (or last) process of the container.
	Process    Process           `json:"process"`
	Namespaces map[string]uint64 `json:"namespaces,omitempty"`
	ExitCode   int               `json:"exitCode"`
	Reason     string            `json:"reason,omitempty"`
	Message    string            `json:"message,omitempty"`
	Restarts   int               `json:"restarts"`
	StartedAt  time.Time         `json:"startedAt,omitzero"`
	FinishedAt time.Time         `json:"finishedAt,omitzero"`
	// Log is the path of the container's log file (CRI format).
	Log string `json:"log"`
}

// Container returns the status of the named container, or nil.
func (r *Record) Container(name string) *ContainerStatus {
	for i := range r.Containers {
		if r.Containers[i].Name == name {
			return &r.Containers[i]
		}
	}
	return nil
}

// Ended reports whether the pod's supervisor finished (the pod is over).
func (r *Record) Ended() bool {
	return r.Phase == PhaseSucceeded || r.Phase == PhaseFailed
}

// Read returns the record of pod name under base without locking: readers
// see the last complete write (Save renames atomically).
func Read(base, name string) (Record, error) {
	return readRecord(filepath.Join(base, name))
}

// Pod is a locked state directory. Only the holder of the lock changes it.
type Pod struct {
	Dir  string
	lock *os.File
}

const (
	lockFile  = "lock"
	stateFile = "state.json"
)

// Acquire locks the state directory of pod name under base, creating it. A
// live supervisor holding it gives ErrRunning; the kept state of a detached
// pod that ended gives ErrExists. State left by a supervisor that died is
// cleaned through cleanStale before Acquire returns, so the caller starts
// from an empty directory.
func Acquire(base, name string, cleanStale func(Record)) (*Pod, error) {
	return acquire(base, name, cleanStale, false)
}

// Lock locks an existing pod's state directory without changing it (for
// `sandbox rm` and `gc`). A live supervisor gives ErrRunning.
func Lock(base, name string) (*Pod, error) {
	return acquire(base, name, nil, true)
}

func acquire(base, name string, cleanStale func(Record), existing bool) (*Pod, error) {
	dir := filepath.Join(base, name)
	for attempt := 0; attempt < 10; attempt++ {
		if !existing {
			if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("create pod state %s: %w", dir, err)
			}
		}
		f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				if existing {
					return nil, fmt.Errorf("no pod %q: %w", name, os.ErrNotExist)
				}
				continue // removed by a concurrent teardown: start again
			}
			return nil, fmt.Errorf("open pod lock: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				holder := ""
				if rec, rerr := readRecord(dir); rerr == nil && rec.Supervisor.PID > 0 {
					holder = fmt.Sprintf(" (supervisor pid %d)", rec.Supervisor.PID)
				}
				return nil, fmt.Errorf("%w: pod %q%s; stop it first or pick another metadata.name", ErrRunning, name, holder)
			}
			return nil, fmt.Errorf("lock pod state: %w", err)
		}
		// The directory may have been removed and recreated between our
		// open and flock: the lock counts only if it is still the file at
		// the path.
		if !sameFile(f, filepath.Join(dir, lockFile)) {
			f.Close()
			continue
		}
		p := &Pod{Dir: dir, lock: f}
		if existing {
			return p, nil
		}
		if rec, err := readRecord(dir); err == nil {
			if rec.Detached && rec.Ended() {
				p.Release()
				return nil, fmt.Errorf("%w: pod %q ended (%s) and its state is kept: remove it with `sandbox rm %s`", ErrExists, name, rec.Phase, name)
			}
			if cleanStale != nil {
				cleanStale(rec)
			}
		}
		if err := p.clear(); err != nil {
			p.Release()
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("lock pod state %s: the directory kept changing", dir)
}

func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Lstat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// RemoveTree removes one entry of a pod's state directory and everything
// below it. os.RemoveAll cannot remove the files of subordinate ids that a
// rootless pod's containers wrote (an image's writable layer, an emptyDir)
// when its supervisor was killed before removing them from inside the pod:
// the command sets it to a remover that falls back to a user-namespace
// helper (image.RemoveTree).
var RemoveTree = os.RemoveAll

// clear removes everything in the directory except the lock.
func (p *Pod) clear() error {
	entries, err := os.ReadDir(p.Dir)
	if err != nil {
		return fmt.Errorf("read pod state: %w", err)
	}
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		if err := RemoveTree(filepath.Join(p.Dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale state: %w", err)
		}
	}
	return nil
}

// Save writes the record atomically.
func (p *Pod) Save(rec *Record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp := filepath.Join(p.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(p.Dir, stateFile)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// Path returns a path inside the state directory.
func (p *Pod) Path(elem ...string) string {
	return filepath.Join(append([]string{p.Dir}, elem...)...)
}

// Remove deletes the state directory, then releases the lock. The lock file
// goes last so a concurrent Acquire either sees the lock held or finds the
// directory gone and starts over.
func (p *Pod) Remove() error {
	if err := p.clear(); err != nil {
		p.Release()
		return err
	}
	err := os.Remove(p.Path(lockFile))
	if rerr := os.Remove(p.Dir); err == nil && rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = rerr
	}
	p.Release()
	if err != nil {
		return fmt.Errorf("remove pod state %s: %w", p.Dir, err)
	}
	return nil
}

// Release unlocks without removing anything.
func (p *Pod) Release() {
	if p.lock != nil {
		p.lock.Close()
		p.lock = nil
	}
}

func readRecord(dir string) (Record, error) {
	var rec Record
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("parse %s: %w", stateFile, err)
	}
	return rec, nil
}
