package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maskPaths hides each path in the new root. The paths lie in the proc and sysfs instances Setup just
// mounted, so they are resolved beneath the root without following any symlink.
//
// A file is covered with a bind of the host's /dev/null, after checking on the open mount that it is the
// character device 1:3: runc CVE-2025-31133 masked with the container's own /dev/null, which the image could
// replace with a symlink to, say, /proc/sys/kernel/core_pattern, turning the mask into a writable bind of it.
// The container's /dev here is a fresh tmpfs anyway; the host's node is the only one used.
func maskPaths(root int, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	null, err := verifiedNull()
	if err != nil {
		return err
	}
	defer unix.Close(null)
	for _, p := range paths {
		target, err := openat2(root, relInRoot(p), unix.O_PATH|unix.O_NOFOLLOW, 0,
			unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rootfs: mask %s: %w", p, err)
		}
		err = maskOne(target, null)
		unix.Close(target)
		if err != nil {
			return fmt.Errorf("rootfs: mask %s: %w", p, err)
		}
	}
	return nil
}

func maskOne(target, null int) error {
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		fd, err := mountFS(target, "tmpfs", unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|
			unix.MOUNT_ATTR_NOEXEC, fsParam{"size", "4k"}, fsParam{"nr_inodes", "1"}, fsParam{"mode", "555"})
		if err != nil {
			return err
		}
		unix.Close(fd)
		return nil
	}
	clone, err := cloneTree(null, "", false)
	if err != nil {
		return err
	}
	defer unix.Close(clone)
	if err := setAttrs(clone, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
		return fmt.Errorf("mount_setattr ro,nosuid,noexec: %w", err)
	}
	return attach(clone, target, "")
}

// verifiedNull returns an O_PATH fd of the host's /dev/null after checking that it is the character device 1:3,
// so a replaced node can never be passed on as a mask.
func verifiedNull() (int, error) {
	fd, err := openat2(unix.AT_FDCWD, "/dev/null", unix.O_PATH|unix.O_NOFOLLOW, 0,
		unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	if err != nil {
		return -1, fmt.Errorf("rootfs: open the host's /dev/null for masking: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("rootfs: stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		unix.Close(fd)
		return -1, unsafeMountpoint(fmt.Sprintf("the host's /dev/null is not the null device 1:3 (mode %#o, rdev %d:%d): refusing to mask with it",
			st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	}
	return fd, nil
}

// readonlyPaths binds each path read-only onto itself, recursively. A write below it then fails with EROFS;
// undoing it needs CAP_SYS_ADMIN in the pod's user namespace, which no default capability set has.
func readonlyPaths(root int, paths []string) error {
	for _, p := range paths {
		target, err := openat2(root, relInRoot(p), unix.O_PATH|unix.O_NOFOLLOW, 0,
			unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rootfs: make %s read-only: %w", p, err)
		}
		err = readonlyOne(target)
		unix.Close(target)
		if err != nil {
			return fmt.Errorf("rootfs: make %s read-only: %w", p, err)
		}
	}
	return nil
}

func readonlyOne(target int) error {
	clone, err := cloneTree(target, "", true)
	if err != nil {
		return err
	}
	defer unix.Close(clone)
	if err := setAttrs(clone, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, true); err != nil {
		return fmt.Errorf("mount_setattr ro: %w", err)
	}
	return attach(clone, target, "")
}
