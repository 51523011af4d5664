package rootfs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// devNodes are bind-mounted from the host: mknod fails with EPERM in a user namespace, and a bind of the host's
// node works for root in a user namespace and for real root alike.
var devNodes = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

var devSymlinks = []struct{ name, target string }{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
	{"ptmx", "pts/ptmx"},
}

// mountDev mounts a fresh tmpfs on /dev and fills it. The rootfs's own /dev content is never used: a rootfs may
// ship /dev/null as a symlink or regular file (CVE-2025-31133), and everything here is created by us in a
// filesystem nobody else has seen.
func mountDev(root int, create bool, shmDir string) error {
	dir, err := topLevelDir(root, "dev", create)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	dev, err := mountFS(dir, "tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_STRICTATIME, fsParam{"mode", "755"})
	if err != nil {
		return fmt.Errorf("rootfs: mount tmpfs on /dev: %w", err)
	}
	defer unix.Close(dev)

	for _, n := range devNodes {
		if err := bindDevNode(dev, n.name, n.major, n.minor); err != nil {
			return fmt.Errorf("rootfs: bind the host /dev/%s on /dev/%s: %w", n.name, n.name, err)
		}
	}
	if err := mountDevpts(dev); err != nil {
		return fmt.Errorf("rootfs: mount devpts on /dev/pts: %w", err)
	}
	for _, l := range devSymlinks {
		if err := unix.Symlinkat(l.target, dev, l.name); err != nil {
			return fmt.Errorf("rootfs: symlink /dev/%s -> %s: %w", l.name, l.target, err)
		}
	}
	if err := mountShm(dev, shmDir); err != nil {
		if shmDir != "" {
			return fmt.Errorf("rootfs: bind %s on /dev/shm: %w", shmDir, err)
		}
		return fmt.Errorf("rootfs: mount tmpfs on /dev/shm: %w", err)
	}
	return nil
}

// bindDevNode binds the host's /dev/name onto an empty file in dev, after checking that the host's node is the
// expected character device, so that a replaced host node is never passed on.
func bindDevNode(dev int, name string, major, minor uint32) error {
	src, err := cloneTree(unix.AT_FDCWD, "/dev/"+name, false)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor {
		return fmt.Errorf("the host /dev/%s is not the character device %d:%d (mode %#o, rdev %d:%d)",
			name, major, minor, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if err := setAttrs(src, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
		return fmt.Errorf("mount_setattr nosuid,noexec: %w", err)
	}
	fd, err := openat2(dev, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o666,
		unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
	if err != nil {
		return fmt.Errorf("create the mount point: %w", err)
	}
	unix.Close(fd)
	if err := attach(src, dev, name); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// mountDevpts mounts a private devpts instance. No gid=5 option: gid 5 (tty) is usually unmapped in the pod's
// user namespace and the mount would fail with EINVAL; ptys belong to the opener's gid instead.
func mountDevpts(dev int) error {
	if err := unix.Mkdirat(dev, "pts", 0o755); err != nil {
		return err
	}
	fd, err := newFS("devpts", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC,
		fsParam{"newinstance", ""}, fsParam{"ptmxmode", "0666"}, fsParam{"mode", "0620"})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return attach(fd, dev, "pts")
}

// mountShm puts the pod's shared shm directory, or a private tmpfs, on /dev/shm.
func mountShm(dev int, shmDir string) error {
	if err := unix.Mkdirat(dev, "shm", 0o1777); err != nil {
		return err
	}
	const attrs = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	var fd int
	var err error
	if shmDir != "" {
		if fd, err = cloneTree(unix.AT_FDCWD, shmDir, true); err != nil {
			return err
		}
		if err = setAttrs(fd, attrs, true); err != nil {
			unix.Close(fd)
			return fmt.Errorf("mount_setattr nosuid,nodev: %w", err)
		}
	} else if fd, err = newFS("tmpfs", attrs, fsParam{"mode", "1777"}); err != nil {
		return err
	}
	defer unix.Close(fd)
	return attach(fd, dev, "shm")
}
