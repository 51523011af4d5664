package supervisor

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// An in-place pause (the spawning join's clone, not an exec: nsenter.c,
// spawn_pause) makes itself non-dumpable once its id maps are written, and
// its memory belongs to the host's user namespace: from then on the kernel's
// ptrace check refuses us a setns on its pidfd and a look at its
// /proc/PID/ns. The supervisor opens its namespaces before that, and every
// later join (containers, restarts, the hostPort dialler) joins those files.

// pauseNamespace is one namespace of an in-place pause, held open.
type pauseNamespace struct {
	flag int    // its CLONE_NEW* flag
	name string // its name in /proc/PID/ns
	file *os.File
}

// joinOrder is the order in which a join enters the pod's namespaces: the
// user namespace first, which gives the capabilities over the others.
var joinOrder = []struct {
	flag int
	name string
}{
	{unix.CLONE_NEWUSER, "user"}, {unix.CLONE_NEWNET, "net"}, {unix.CLONE_NEWIPC, "ipc"},
	{unix.CLONE_NEWUTS, "uts"}, {unix.CLONE_NEWPID, "pid"},
}

// openPauseNamespaces opens the namespaces the pause made, while it still
// waits for its id maps (dumpable).
func (s *sandbox) openPauseNamespaces() error {
	made := int(s.pauseCloneFlags())
	for _, ns := range joinOrder {
		if made&ns.flag == 0 {
			continue
		}
		f, err := os.Open("/proc/" + strconv.Itoa(s.pausePID) + "/ns/" + ns.name)
		if err != nil {
			return fmt.Errorf("start pause: open its %s namespace: %w", ns.name, err)
		}
		s.pauseNS = append(s.pauseNS, pauseNamespace{ns.flag, ns.name, f})
	}
	return nil
}

// pauseNamespaceFiles are the files of the namespaces nsflags names, in join
// order, when the pause must be joined through them; nil when its pidfd
// does.
func (s *sandbox) pauseNamespaceFiles(nsflags int) []*os.File {
	var files []*os.File
	for _, ns := range s.pauseNS {
		if nsflags&ns.flag != 0 {
			files = append(files, ns.file)
		}
	}
	return files
}

// pauseNamespaces are the inodes of the pause's namespaces, for the record:
// of those held open, and the supervisor's for the others, which the pause
// shares.
func (s *sandbox) pauseNamespaces() map[string]uint64 {
	if len(s.pauseNS) == 0 {
		return namespaces(s.pausePID)
	}
	ns := namespaces(os.Getpid())
	for _, n := range s.pauseNS {
		var st unix.Stat_t
		if err := unix.Fstat(int(n.file.Fd()), &st); err == nil {
			ns[n.name] = st.Ino
		}
	}
	return ns
}
