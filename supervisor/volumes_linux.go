package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/internal/idmap"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/podfiles"
	"github.com/podsandbox/sandbox/rootfs"
)

// Volumes and pod files.
//
// An emptyDir is a directory in the pod's state directory (volumes/NAME), bind-mounted by every container
// that mounts it and removed with the state directory.
//
// A Memory emptyDir is ONE tmpfs shared by the pod's containers and by restarts of them. The supervisor cannot
// create a tmpfs (it has no capability over any mount namespace), and each container has a mount namespace of
// its own, so a tmpfs one container mounts is invisible to the others. Instead, before the first container
// starts, a short-lived volume helper (the container init in helper mode, joined to the pod's namespaces
// like a container, with a mount namespace of its own) creates each tmpfs as a detached mount (fsmount) and
// sends the mount descriptors to the supervisor over a socketpair. The supervisor holds them for the pod's
// lifetime and passes them to every container init (ExtraFiles from fd 7 on), which binds a clone of the
// mount (open_tree OPEN_TREE_CLONE; Linux 6.15+ allows cloning a detached mount from another mount
// namespace). The tmpfs dies with the last descriptor and mount: with the pod.
//
// Pod files (/etc/hosts, /etc/hostname, /etc/resolv.conf) are written once per pod in podfiles/ and
// bind-mounted read-only into every container (kubelet mounts them writable; a read-only bind keeps one
// container from rewriting name resolution for the others).

// volumeFDBase is the first descriptor number of the Memory emptyDir mounts in a container init (after
// 3 sync, 4 pause pidfd, 5 config, 6 error pipe).
const volumeFDBase = 7

// volumes is the per-pod state of this file.
type volumes struct {
	once  sync.Once
	err   error
	files []*os.File        // Memory emptyDir mounts, in the order of memIndex
	index map[string]int    // volume name -> position in files
	pod   map[string]string // pod file name in the container -> host path
}

// checkHostSide checks, before anything is created, what the manifest's validation could not: hostPath types
// against the host, and that every container's user and groups are mapped in the pod's user namespace.
func checkHostSide(p *pod.Pod, pl *plan) error {
	for i, v := range p.Spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		if err := checkHostPathType(v.HostPath); err != nil {
			return fmt.Errorf("spec.volumes[%d] (%s): %w", i, v.Name, err)
		}
	}
	if !pl.userns {
		return nil // real root without a user namespace: every id exists
	}
	for _, c := range append(append([]pod.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
		sec := p.EffectiveSecurity(&c)
		if !pl.mapping.ContainsUID(uint32(sec.UID)) {
			return fmt.Errorf("container %q: uid %d is not mapped in the pod's user namespace (mapped: %s): %s",
				c.Name, sec.UID, describeRanges(pl.mapping.UIDs), subidHint("uid", "/etc/subuid"))
		}
		for _, g := range append([]int64{sec.GID}, sec.SupplementalGroups...) {
			if !containsID(pl.mapping.GIDs, uint32(g)) {
				return fmt.Errorf("container %q: gid %d is not mapped in the pod's user namespace (mapped: %s): %s",
					c.Name, g, describeRanges(pl.mapping.GIDs), subidHint("gid", "/etc/subgid"))
			}
		}
	}
	return nil
}

func subidHint(kind, file string) string {
	return fmt.Sprintf("add a subordinate %s range for your user to %s (e.g. \"%s:100000:65536\") and install newuidmap/newgidmap (package uidmap)",
		kind, file, userName())
}

func userName() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Getuid())
}

func containsID(rs []idmap.Range, id uint32) bool {
	for _, r := range rs {
		if id >= r.ContainerID && uint64(id) < uint64(r.ContainerID)+uint64(r.Size) {
			return true
		}
	}
	return false
}

func describeRanges(rs []idmap.Range) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d-%d", r.ContainerID, uint64(r.ContainerID)+uint64(r.Size)-1)
	}
	return s
}

// checkHostPathType checks hostPath.type as kubelet does. A missing path with type "" is refused instead of
// created (test plan B-7): only DirectoryOrCreate and FileOrCreate create on the host.
func checkHostPathType(h *pod.HostPathVolumeSource) error {
	st, err := os.Stat(h.Path)
	if errors.Is(err, fs.ErrNotExist) {
		switch h.PathType() {
		case pod.HostPathDirectoryOrCreate, pod.HostPathFileOrCreate:
			return nil
		}
		return fmt.Errorf("hostPath %s does not exist (type %q; use DirectoryOrCreate or FileOrCreate to create it)", h.Path, h.PathType())
	}
	if err != nil {
		return fmt.Errorf("hostPath %s: %w", h.Path, err)
	}
	mode := st.Mode()
	want := ""
	switch h.PathType() {
	case pod.HostPathDirectory, pod.HostPathDirectoryOrCreate:
		if !mode.IsDir() {
			want = "a directory"
		}
	case pod.HostPathFile, pod.HostPathFileOrCreate:
		if !mode.IsRegular() {
			want = "a regular file"
		}
	case pod.HostPathSocket:
		if mode&fs.ModeSocket == 0 {
			want = "a unix socket"
		}
	case pod.HostPathCharDev:
		if mode&fs.ModeCharDevice == 0 {
			want = "a character device"
		}
	case pod.HostPathBlockDev:
		if mode&fs.ModeDevice == 0 || mode&fs.ModeCharDevice != 0 {
			want = "a block device"
		}
	}
	if want != "" {
		return fmt.Errorf("hostPath %s is not %s (type %s), it is %s", h.Path, want, h.PathType(), describeMode(mode))
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	}
	return m.Type().String()
}

// prepareVolumes runs once per pod, before the first container's config: it writes the pod files, creates
// hostPaths of the *OrCreate types and the emptyDir directories, and makes the Memory emptyDirs.
func (s *sandbox) prepareVolumes() error {
	s.vols.once.Do(func() { s.vols.err = s.doPrepareVolumes() })
	return s.vols.err
}

func (s *sandbox) doPrepareVolumes() error {
	if err := s.writePodFiles(); err != nil {
		return err
	}
	var tmpfs []containerinit.Tmpfs
	s.vols.index = map[string]int{}
	for _, v := range s.pod.Spec.Volumes {
		switch {
		case v.HostPath != nil:
			if err := createHostPath(v.HostPath); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
		case v.EmptyDir != nil && v.EmptyDir.Medium == pod.StorageMediumMemory:
			var size int64
			if v.EmptyDir.SizeLimit != "" {
				var err error
				if size, err = pod.ParseSizeLimit(v.EmptyDir.SizeLimit); err != nil {
					return fmt.Errorf("volume %s: sizeLimit %w", v.Name, err)
				}
			}
			s.vols.index[v.Name] = len(tmpfs)
			tmpfs = append(tmpfs, containerinit.Tmpfs{Name: v.Name, SizeBytes: size})
		case v.EmptyDir != nil:
			dir := s.state.Path("volumes", v.Name)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
			// 0777 as kubelet's emptyDir: containers of any uid share it. The state directory above it is
			// private to the invoking user, so no other host user reaches it.
			if err := os.Chmod(dir, 0o777); err != nil {
				return fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
	}
	if len(tmpfs) == 0 {
		return nil
	}
	files, err := s.runVolumeHelper(&containerinit.Config{Name: "volume-helper", MakeTmpfs: tmpfs}, len(tmpfs))
	if err != nil {
		return fmt.Errorf("create Memory emptyDir volumes: %w", err)
	}
	s.vols.files = files
	return nil
}

func createHostPath(h *pod.HostPathVolumeSource) error {
	switch h.PathType() {
	case pod.HostPathDirectoryOrCreate:
		// kubelet creates it 0755 owned by itself; here the owner is the invoking user.
		if err := os.MkdirAll(h.Path, 0o755); err != nil {
			return fmt.Errorf("hostPath DirectoryOrCreate %s: %w", h.Path, err)
		}
	case pod.HostPathFileOrCreate:
		if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
			return fmt.Errorf("hostPath FileOrCreate %s: %w", h.Path, err)
		}
		f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("hostPath FileOrCreate %s: %w", h.Path, err)
		}
		f.Close()
	}
	// Checked again after creating: a path that changed type since prepare is refused here.
	return checkHostPathType(h)
}

// writePodFiles writes hosts, hostname and resolv.conf into podfiles/ in the state directory.
func (s *sandbox) writePodFiles() error {
	dir := s.state.Path("podfiles")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// The directory must be searchable by container users other than root (subordinate uids).
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	hostResolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the host's /etc/resolv.conf: %w", err)
	}
	s.vols.pod = map[string]string{}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"/etc/hosts", podfiles.HostsWithIP(s.pod, s.podIP())}, // bridge_linux.go
		{"/etc/hostname", podfiles.Hostname(s.pod)},
		{"/etc/resolv.conf", podfiles.ResolvConf(s.pod, hostResolv)},
	} {
		p := filepath.Join(dir, filepath.Base(f.name))
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		s.vols.pod[f.name] = p
	}
	return nil
}

// runVolumeHelper starts the container init in helper mode in the pod's namespaces and returns the mount
// descriptors it sends. Like a container start, it locks its thread while the helper lives: the helper's
// parent-death signal is tied to this thread.
func (s *sandbox) runVolumeHelper(helperCfg *containerinit.Config, nfds int) ([]*os.File, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mine, theirs := os.NewFile(uintptr(pair[0]), "volume-socket"), os.NewFile(uintptr(pair[1]), "volume-socket")
	defer mine.Close()
	defer theirs.Close()
	pipes, err := nsenter.NewPipes()
	if err != nil {
		return nil, err
	}
	defer pipes.Close()

	nsflags := unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS
	if s.plan.userns {
		nsflags |= unix.CLONE_NEWUSER
	}
	cmd := &exec.Cmd{
		Path: s.opts.Exe,
		Args: []string{"sandbox-volume-helper"},
		Env: []string{
			nsenter.EnvRole + "=" + nsenter.RoleJoin,
			nsenter.EnvSyncFD + "=3",
			nsenter.EnvPidFD + "=4",
			nsenter.EnvNSFlags + "=" + strconv.Itoa(nsflags),
			nsenter.EnvNewPID + "=1", // its own PID namespace: it never shows up in the pod's
			containerinit.EnvConfigFD + "=5",
			containerinit.EnvErrorFD + "=6",
			containerinit.EnvVolumeFD + "=7",
		},
		Dir: "/",
		// Stdout and stderr stay /dev/null: a pipe would make cmd.Wait wait for the helper itself (its
		// grandchild, which holds the pipe), and failures come back on the error pipe.
		ExtraFiles:  []*os.File{pipes.SyncW, s.pausePidfd, pipes.ConfigR, pipes.ErrW, theirs},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start volume helper: %w", err)
	}
	pipes.Started()
	theirs.Close()
	rep, err := pipes.Await(cmd)
	if err != nil {
		return nil, fmt.Errorf("volume helper: join pod namespaces: %w", err)
	}
	defer nsenter.KillChild(rep.PID)
	helperCfg.BecomeRoot = s.plan.userns
	cfg, err := json.Marshal(helperCfg)
	if err != nil {
		return nil, err
	}
	if _, err := pipes.ConfigW.Write(cfg); err != nil {
		return nil, fmt.Errorf("volume helper: send config: %w", err)
	}
	pipes.ConfigW.Close()
	if nfds == 0 {
		// A cleanup: the helper exits when done; anything on the error pipe is its failure.
		failure, _ := io.ReadAll(io.LimitReader(pipes.ErrR, 1<<20))
		if len(failure) > 0 {
			return nil, parseFailure(failure)
		}
		return nil, nil
	}
	tmpfs := helperCfg.MakeTmpfs
	buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(4*len(tmpfs)))
	n, oobn, _, _, err := unix.Recvmsg(int(mine.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || n == 0 {
		failure, _ := io.ReadAll(io.LimitReader(pipes.ErrR, 1<<20))
		if len(failure) > 0 {
			return nil, parseFailure(failure)
		}
		return nil, fmt.Errorf("volume helper: receive mounts: %v", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("volume helper: bad control message: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, fmt.Errorf("volume helper: %w", err)
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "emptyDir-"+tmpfs[min(i, len(tmpfs)-1)].Name)
	}
	if len(fds) != len(tmpfs) {
		for _, f := range files {
			f.Close()
		}
		return nil, fmt.Errorf("volume helper: got %d mounts, want %d", len(fds), len(tmpfs))
	}
	return files, nil
}

// volumeFiles are the descriptors every container init inherits from fd volumeFDBase on.
func (s *sandbox) volumeFiles() []*os.File { return s.vols.files }

// needsVolumeHelper reports whether the pod has Memory emptyDir volumes,
// whose tmpfs instances a helper inside the ready pod creates.
func (s *sandbox) needsVolumeHelper() bool {
	for _, v := range s.pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium == pod.StorageMediumMemory {
			return true
		}
	}
	return false
}

// volumeBinds returns the binds of container c: its volumeMounts in order, then the pod files (unless the
// container mounts something at the same place).
func (s *sandbox) volumeBinds(c *pod.Container, hostRoot bool) ([]rootfs.Bind, error) {
	byName := map[string]*pod.Volume{}
	for i := range s.pod.Spec.Volumes {
		byName[s.pod.Spec.Volumes[i].Name] = &s.pod.Spec.Volumes[i]
	}
	var binds []rootfs.Bind
	taken := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v := byName[m.Name]
		if v == nil {
			return nil, fmt.Errorf("volumeMount %s: no such volume", m.Name)
		}
		b := rootfs.Bind{Destination: filepath.Clean(m.MountPath), ReadOnly: m.ReadOnly, SubPath: m.SubPath}
		switch {
		case v.HostPath != nil:
			b.Source = v.HostPath.Path
		case v.EmptyDir != nil && v.EmptyDir.Medium == pod.StorageMediumMemory:
			b.Source = s.state.Path("volumes", v.Name) // names it in messages; the mount is the descriptor
			b.SourceFD = volumeFDBase + s.vols.index[v.Name]
		default:
			b.Source = s.state.Path("volumes", v.Name)
		}
		taken[b.Destination] = true
		binds = append(binds, b)
	}
	for _, name := range []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if taken[name] {
			continue
		}
		if hostRoot {
			// The host root is read-only: a mount point must already exist there (a file, or a symlink
			// to one, such as resolv.conf -> ../run/systemd/resolve/stub-resolv.conf).
			if st, err := os.Stat(name); err != nil || !st.Mode().IsRegular() {
				continue
			}
		}
		binds = append(binds, rootfs.Bind{Source: s.vols.pod[name], Destination: name, ReadOnly: true})
	}
	return binds, nil
}

// cleanupVolumes removes the emptyDir directories from inside the pod, while the pause still holds its
// namespaces: files that a container created as a subordinate uid (runAsUser, or root's children in the pod)
// cannot be removed by the invoking user, only by root of the pod's user namespace. It is called by teardown
// before the pause is killed; what it cannot remove (the pause already died) is left to the state removal,
// which then reports it.
func (s *sandbox) cleanupVolumes() {
	if !s.plan.userns || len(s.plan.mapping.UIDs) < 2 || s.pausePidfd == nil || s.pauseDone == nil {
		// (pauseDone is nil once the pause has died: its namespaces are gone)
		return // one mapped id: every file is the invoking user's own
	}
	var dirs []string
	for _, v := range s.pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium != pod.StorageMediumMemory {
			dirs = append(dirs, s.state.Path("volumes", v.Name))
		}
	}
	if len(dirs) == 0 {
		return
	}
	if _, err := s.runVolumeHelper(&containerinit.Config{Name: "volume-cleanup", RemoveAll: dirs}, 0); err != nil {
		s.opts.Warn(fmt.Sprintf("remove emptyDir volumes from inside the pod: %v", err))
	}
}
