package rootfs

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// The mounts use the new mount API (fsopen/fsmount, open_tree, mount_setattr, move_mount). Every mount is
// attached with move_mount onto a file descriptor that was resolved inside the root, so no path is looked up
// a second time between the safety check and the mount (the TOCTOU behind runc CVE-2021-30465), and nothing
// depends on /proc/self/fd being reachable.

// fsParam is one fsconfig parameter; an empty value sets a flag.
type fsParam struct{ key, value string }

// newFS creates a filesystem instance and returns the fd of its detached mount with the given MOUNT_ATTR_* flags.
func newFS(fstype string, attrs int, params ...fsParam) (int, error) {
	fsfd, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen %s: %w", fstype, err)
	}
	defer unix.Close(fsfd)
	for _, p := range params {
		if p.value == "" {
			err = unix.FsconfigSetFlag(fsfd, p.key)
		} else {
			err = unix.FsconfigSetString(fsfd, p.key, p.value)
		}
		if err != nil {
			return -1, fmt.Errorf("fsconfig %s %s=%s: %w%s", fstype, p.key, p.value, err, kernelLog(fsfd))
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("create %s: %w%s", fstype, err, kernelLog(fsfd))
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w%s", fstype, err, kernelLog(fsfd))
	}
	return mfd, nil
}

// kernelLog returns the messages the kernel queued on a filesystem context, which say why fsconfig failed far
// better than the errno ("tmpfs: Bad value for 'mode'").
func kernelLog(fsfd int) string {
	var msgs []string
	buf := make([]byte, 4096)
	for range 8 {
		n, err := unix.Read(fsfd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (kernel: " + strings.Join(msgs, "; ") + ")"
}

// cloneTree returns a detached copy of the mount at path (a bind mount not yet attached); recursive copies the
// submounts too (an rbind). Without recursive, a copy of a mount that has locked submounts fails with EINVAL
// in a user namespace, because it would reveal what the submounts hide.
func cloneTree(dirfd int, path string, recursive bool) (int, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	if path == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	fd, err := unix.OpenTree(dirfd, path, flags)
	if err != nil {
		return -1, fmt.Errorf("open_tree %s: %w", path, err)
	}
	return fd, nil
}

// setAttrs sets MOUNT_ATTR_* flags on the mount fd (and its submounts when recursive). It is mount_setattr, not
// MS_REMOUNT: a classic remount is not recursive and fails with EPERM on submounts whose flags were locked when
// they came from a more privileged mount namespace, unless each one's locked flags are repeated.
func setAttrs(fd int, attrs uint64, recursive bool) error {
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	return unix.MountSetattr(fd, "", flags, &unix.MountAttr{Attr_set: attrs})
}

// attach moves the detached mount fd onto the mount point: the fd target itself when name is "", otherwise the
// entry name directly in the directory target (never following a symlink there).
func attach(fd, target int, name string) error {
	flags := unix.MOVE_MOUNT_F_EMPTY_PATH
	if name == "" {
		flags |= unix.MOVE_MOUNT_T_EMPTY_PATH
	}
	return unix.MoveMount(fd, "", target, name, flags)
}

// mountFS creates a filesystem and attaches it on the directory fd target; it returns the fd of the new mount's
// root (for populating it), which the caller closes.
func mountFS(target int, fstype string, attrs int, params ...fsParam) (int, error) {
	fd, err := newFS(fstype, attrs, params...)
	if err != nil {
		return -1, err
	}
	if err := attach(fd, target, ""); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("move_mount %s: %w", fstype, err)
	}
	return fd, nil
}

// isPerm reports whether err is a permission refusal (EPERM or EACCES) from the kernel.
func isPerm(err error) bool { return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) }
