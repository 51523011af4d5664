// Package rootfs builds a container's root filesystem in the calling process's own, fresh mount namespace and
// pivots into it.
//
// Setup is called by the container init process, which runs as root in the pod's user namespace (or as real
// root when sandbox runs rootful) and is already in a mount namespace of its own. Every mount point inside a
// directory root is resolved inside that root with openat2(RESOLVE_IN_ROOT), and every mount is attached to the
// resolved file descriptor with move_mount, so symlinks in the rootfs can never place a mount outside it.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Spec describes the root filesystem Setup builds.
type Spec struct {
	// Root is the container's root directory: "" means the host's root filesystem, made read-only recursively;
	// otherwise an absolute path of a root filesystem directory (e.g. a busybox tree).
	Root string
	// ReadOnly makes a directory Root read-only (readOnlyRootFilesystem). The host root is always read-only.
	// /tmp, /dev, /dev/shm and writable Binds stay writable.
	ReadOnly bool
	// Scratch is an empty directory owned by the caller, outside Root, that Setup uses as the mount point for
	// the new root when Root is "" (rbind "/" there). It lives in the pod's state directory.
	Scratch string
	// ShmDir, when set, is a host directory bind-mounted at /dev/shm so all containers of a pod share it; when
	// empty /dev/shm is a private tmpfs (nosuid,nodev,mode=1777).
	ShmDir string
	// Binds are extra bind mounts (volumes, /etc/hosts), attached in order after /proc and /sys.
	Binds []Bind
	// MaskPaths are hidden after /proc and /sys are mounted: a file is covered with the null device (the host's
	// /dev/null, checked to be the character device 1:3), a directory with an empty read-only tmpfs. Paths
	// that do not exist are skipped. See DefaultMaskPaths.
	MaskPaths []string `json:",omitempty"`
	// ReadonlyPaths are bind-mounted read-only onto themselves (recursively) after masking. Paths that do not
	// exist are skipped. See DefaultReadonlyPaths.
	ReadonlyPaths []string `json:",omitempty"`
	// Overlay, when set, is mounted on Root (a directory) before anything else: see overlay_linux.go.
	Overlay *Overlay `json:",omitempty"`
}

// Bind is a recursive bind mount of a host path into the container.
type Bind struct {
	// Source is an absolute host path, a directory or a file.
	Source string
	// Destination is an absolute path inside the container, resolved inside the root without following
	// symlinks out of it; missing directories (and the file, for a file Source) are created in a directory root.
	// It must not be "/" or under /proc or /sys.
	Destination string
	// ReadOnly makes the bind and all its submounts read-only.
	ReadOnly bool
	// SourceFD, when positive, is an inherited file descriptor of a detached mount (from fsmount or open_tree,
	// e.g. a pod's shared tmpfs) that is bound instead of Source; Source then only names it in messages.
	SourceFD int `json:",omitempty"`
	// SubPath, when set, is a relative path inside the source that is bound instead of the source's root. It
	// is resolved inside the source as if the source were "/" (openat2 RESOLVE_IN_ROOT), so a symlink a
	// container planted in a shared volume cannot make the bind reach outside the volume (CVE-2017-1002101,
	// CVE-2021-25741). A missing SubPath is created as a directory, as kubelet does.
	SubPath string `json:",omitempty"`
}

// DefaultMaskPaths are Podman's masked paths (containers/common DefaultMaskedPaths, which runc's spec default
// extends) plus /proc/interrupts.
var DefaultMaskPaths = []string{
	"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/dev/block",
	"/sys/devices/virtual/powercap", "/sys/firmware", "/sys/fs/selinux",
}

// DefaultReadonlyPaths are Podman's read-only paths (containers/common DefaultReadOnlyPaths).
var DefaultReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// Setup builds the root filesystem described by spec in the caller's mount namespace and makes it the
// process's root with pivot_root; the old root is detached. The caller must already be alone in a fresh mount
// namespace (Setup returns ErrHostMountNamespace when it can tell that it is in PID 1's). On error the mount
// namespace is left half-built and the caller must exit; nothing outside it is changed.
//
// The order was measured on Linux 6.18: proc and sysfs are mounted before pivot_root because, once the old root
// is detached, no fully visible proc or sysfs is left in the namespace and the kernel refuses new ones (EPERM,
// mount_too_revealing).
func Setup(spec Spec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	if err := checkOwnMountNamespace(); err != nil {
		return err
	}
	// Private first: without it every mount below would propagate into the host's peer groups.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("rootfs: make / recursively private: %w", err)
	}
	explainf("mount(\"\", \"/\", MS_REC|MS_PRIVATE): nothing mounted from now on propagates out of this mount namespace")
	if err := mountOverlay(&spec); err != nil { // overlay_linux.go: the image layers and the writable layer
		return err
	}
	root, err := bindRoot(&spec)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	if spec.Root == "" {
		explainf("open_tree(\"/\", OPEN_TREE_CLONE|AT_RECURSIVE), mount_setattr(MOUNT_ATTR_RDONLY, AT_RECURSIVE), move_mount to %s: the host root, read-only, is the new root", spec.Scratch)
	} else {
		explainf("open_tree(%q, OPEN_TREE_CLONE|AT_RECURSIVE), move_mount onto itself (read-only: %v): the new root", spec.Root, spec.ReadOnly)
	}

	// The host root is never written to: its mount points exist, and a missing one is an error, never a mkdir.
	create := spec.Root != ""
	if err := mountTmp(root, create); err != nil {
		return err
	}
	explainf("fsopen(\"tmpfs\"), fsmount, move_mount on /tmp (mode 1777, nosuid, nodev)")
	if err := mountDev(root, create, spec.ShmDir); err != nil {
		return err
	}
	explainf("tmpfs on /dev; bind the host's null zero full random urandom tty; devpts (newinstance) on /dev/pts; /dev/shm: %s", describeShm(spec.ShmDir))
	if err := mountProc(root, create); err != nil {
		return err
	}
	explainf("fsopen(\"proc\"), fsmount, move_mount on /proc: a proc of the pod's PID namespace")
	if err := mountSys(root, create); err != nil {
		return err
	}
	explainf("sysfs on /sys, read-only")
	if err := maskPaths(root, spec.MaskPaths); err != nil {
		return err
	}
	if err := readonlyPaths(root, spec.ReadonlyPaths); err != nil {
		return err
	}
	if len(spec.MaskPaths)+len(spec.ReadonlyPaths) > 0 {
		explainf("masked %d paths (/dev/null or an empty tmpfs on top), %d paths bound read-only onto themselves (/proc/sys, ...)", len(spec.MaskPaths), len(spec.ReadonlyPaths))
	}
	for _, b := range spec.Binds {
		if err := mountBind(root, b); err != nil {
			return fmt.Errorf("rootfs: bind %s on %s: %w", b.Source, b.Destination, err)
		}
		if Explain != nil {
			explainf("open_tree(%s, OPEN_TREE_CLONE), move_mount on %s%s", describeBindSource(b), b.Destination, readOnlyNote(b.ReadOnly))
		}
	}
	if err := pivot(root); err != nil {
		return err
	}
	explainf("pivot_root(\".\", \".\"), umount2(\".\", MNT_DETACH), chdir(\"/\"): the new root is /, the old one is detached")
	return nil
}

func readOnlyNote(ro bool) string {
	if ro {
		return ", read-only"
	}
	return ""
}

func describeShm(dir string) string {
	if dir == "" {
		return "a private tmpfs"
	}
	return "bind " + dir + " (shared by the pod's containers)"
}

func describeBindSource(b Bind) string {
	src := b.Source
	if b.SourceFD > 0 {
		src += " (a tmpfs made once for the pod)"
	}
	if b.SubPath != "" {
		src += ", subPath " + b.SubPath
	}
	return src
}

// checkOwnMountNamespace refuses to run in the mount namespace of PID 1 or PID 2 as seen in /proc: as real
// root, a mistake there would hide the machine's own mounts until reboot. PID 2 is kthreadd on a host, which
// always lives in the kernel's initial namespaces; it is the reference that remains when PID 1 cannot be
// inspected (a non-dumpable PID 1 gives even real root EACCES, as on the machine this was written on).
func checkOwnMountNamespace() error {
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &self); err != nil {
		return fmt.Errorf("rootfs: cannot verify that this is a private mount namespace (is /proc mounted?): %w", err)
	}
	me, _ := os.Readlink("/proc/self")
	for _, pid := range []string{"1", "2"} {
		if pid == me {
			continue // we are that PID in this /proc: not a reference
		}
		var other unix.Stat_t
		if err := unix.Stat("/proc/"+pid+"/ns/mnt", &other); err != nil {
			// EACCES in a user namespace: that process is not ours. The host's mount namespace is owned by the
			// initial user namespace, so there the kernel itself refuses our mounts.
			continue
		}
		if self.Dev == other.Dev && self.Ino == other.Ino {
			return fmt.Errorf("%w (the same as PID %s's)", ErrHostMountNamespace, pid)
		}
	}
	return nil
}

// bindRoot bind-mounts the root onto itself (a directory root) or rbinds the host "/" read-only onto Scratch,
// and returns an O_PATH fd of the new root mount, which all later mount points are resolved from.
func bindRoot(spec *Spec) (int, error) {
	if spec.Root == "" {
		tree, err := cloneTree(unix.AT_FDCWD, "/", true)
		if err != nil {
			return -1, fmt.Errorf("rootfs: rbind the host root: %w", err)
		}
		// Read-only before it is even attached, so there is no moment when the copy is writable.
		if err := setAttrs(tree, unix.MOUNT_ATTR_RDONLY, true); err != nil {
			unix.Close(tree)
			return -1, fmt.Errorf("rootfs: make the host root read-only (mount_setattr AT_RECURSIVE): %w", err)
		}
		if err := attachOnDir(tree, spec.Scratch); err != nil {
			unix.Close(tree)
			return -1, fmt.Errorf("rootfs: rbind / on %s: %w", spec.Scratch, err)
		}
		return tree, nil
	}

	orig, err := unix.Open(spec.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("rootfs: open root %s: %w", spec.Root, err)
	}
	defer unix.Close(orig)
	if spec.ReadOnly {
		if err := createMountpoints(orig, spec); err != nil {
			return -1, err
		}
	}
	tree, err := cloneTree(orig, "", true)
	if err != nil {
		return -1, fmt.Errorf("rootfs: bind root %s: %w", spec.Root, err)
	}
	if spec.ReadOnly {
		// Recursive, so submounts the rootfs directory already had are read-only too; the mounts Setup adds
		// later (/tmp, /dev, writable binds) are new mounts and stay writable.
		if err := setAttrs(tree, unix.MOUNT_ATTR_RDONLY, true); err != nil {
			unix.Close(tree)
			return -1, fmt.Errorf("rootfs: make root %s read-only: %w", spec.Root, err)
		}
	}
	if err := attach(tree, orig, ""); err != nil {
		unix.Close(tree)
		return -1, fmt.Errorf("rootfs: bind root %s on itself: %w", spec.Root, err)
	}
	return tree, nil
}

func attachOnDir(fd int, dir string) error {
	target, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	return attach(fd, target, "")
}

// createMountpoints creates the mount points of a read-only directory root while it is still writable: the
// top-level directories and the bind destinations that are not on a tmpfs Setup mounts (/tmp, /dev).
func createMountpoints(root int, spec *Spec) error {
	for _, name := range []string{"tmp", "dev", "proc", "sys"} {
		fd, err := topLevelDir(root, name, true)
		if err != nil {
			return err
		}
		unix.Close(fd)
	}
	for _, b := range spec.Binds {
		dest := path.Clean(b.Destination)
		if strings.HasPrefix(dest, "/tmp/") || strings.HasPrefix(dest, "/dev/") {
			continue
		}
		src, err := openBindSource(b)
		if err != nil {
			return fmt.Errorf("rootfs: bind %s on %s: %w", b.Source, b.Destination, err)
		}
		fd, err := bindMountpoint(root, b, src)
		unix.Close(src)
		if err != nil {
			return fmt.Errorf("rootfs: create mount point %s: %w", b.Destination, err)
		}
		unix.Close(fd)
	}
	return nil
}

// openBindSource returns an O_PATH fd of what b binds: Source (or the mount SourceFD), or SubPath resolved
// inside it. Everything later works on this fd, so the source is looked up exactly once.
func openBindSource(b Bind) (int, error) {
	var base int
	var err error
	if b.SourceFD > 0 {
		base, err = unix.Dup(b.SourceFD)
		if err == nil {
			unix.CloseOnExec(base)
		}
	} else {
		base, err = unix.Open(b.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("open source: %w", err)
	}
	if b.SubPath == "" {
		return base, nil
	}
	defer unix.Close(base)
	fd, err := openat2(base, relInRoot(b.SubPath), unix.O_PATH, 0, resolveInRoot)
	if errors.Is(err, unix.ENOENT) {
		fd, err = mkdirAllInRoot(base, b.SubPath)
	}
	if err != nil {
		return -1, fmt.Errorf("subPath %s (resolved inside the volume): %w", b.SubPath, err)
	}
	return fd, nil
}

// bindMountpoint resolves b.Destination inside the root, creating a directory or an empty file to match the
// type of the source fd if nothing is there.
func bindMountpoint(root int, b Bind, src int) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return mkdirAllInRoot(root, b.Destination)
	}
	return createFileInRoot(root, b.Destination)
}

func mountTmp(root int, create bool) error {
	dir, err := topLevelDir(root, "tmp", create)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	fd, err := mountFS(dir, "tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, fsParam{"mode", "1777"})
	if err != nil {
		return fmt.Errorf("rootfs: mount tmpfs on /tmp: %w", err)
	}
	unix.Close(fd)
	return nil
}

func mountProc(root int, create bool) error {
	dir, err := topLevelDir(root, "proc", create)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	// A new proc instance shows the PID namespace of the caller (the pod's), not the host's.
	fd, err := mountFS(dir, "proc", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		return fmt.Errorf("rootfs: mount proc on /proc: %w", err)
	}
	unix.Close(fd)
	return nil
}

func mountSys(root int, create bool) error {
	dir, err := topLevelDir(root, "sys", create)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	const attrs = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	fd, err := newFS("sysfs", attrs)
	if isPerm(err) {
		// sysfs shows the network devices of the mounter's network namespace, so the kernel lets only those
		// privileged over the user namespace that owns the current network namespace mount it
		// (kobj_ns_current_may_mount). A container in a user namespace that shares a network namespace it does
		// not own (the host's, hostNetwork) gets EPERM; it sees the host's /sys read-only instead, as it would
		// through a fresh sysfs in that network namespace.
		sysErr := err
		if fd, err = cloneTree(unix.AT_FDCWD, "/sys", true); err == nil {
			if err = setAttrs(fd, attrs, true); err != nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			return fmt.Errorf("rootfs: mount sysfs on /sys: %v; bind the host /sys read-only instead: %w", sysErr, err)
		}
	} else if err != nil {
		return fmt.Errorf("rootfs: mount sysfs on /sys: %w", err)
	}
	defer unix.Close(fd)
	if err := attach(fd, dir, ""); err != nil {
		return fmt.Errorf("rootfs: mount sysfs on /sys: move_mount: %w", err)
	}
	return nil
}

func mountBind(root int, b Bind) error {
	srcFd, err := openBindSource(b)
	if err != nil {
		return err
	}
	defer unix.Close(srcFd)
	src, err := cloneTree(srcFd, "", true)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	target, err := bindMountpoint(root, b, srcFd)
	if err != nil {
		if errors.Is(err, unix.EROFS) {
			return fmt.Errorf("the root is read-only, so the mount point must already exist in it: %w", err)
		}
		return fmt.Errorf("mount point: %w", err)
	}
	defer unix.Close(target)
	if b.ReadOnly {
		if err := setAttrs(src, unix.MOUNT_ATTR_RDONLY, true); err != nil {
			return fmt.Errorf("make read-only: %w", err)
		}
	}
	if err := attach(src, target, ""); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// pivot makes root the process's root directory and detaches the old one. pivot_root(".", ".") stacks the old
// root on top of the new one, so unmounting "." removes it without needing a directory for it in the rootfs
// (the runc and crun way); / was made rprivate first, so the detach does not propagate anywhere.
func pivot(root int) error {
	if err := unix.Fchdir(root); err != nil {
		return fmt.Errorf("rootfs: chdir to the new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("rootfs: pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("rootfs: detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("rootfs: chdir /: %w", err)
	}
	return nil
}
