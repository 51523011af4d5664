package containerinit

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// errHelperDone ends a volume helper successfully.
var errHelperDone = errors.New("volume helper done")

// makeTmpfs creates one tmpfs per Memory emptyDir as a detached mount (fsmount, never attached here) and sends
// the mount descriptors to the supervisor, which keeps them for the pod's lifetime. Each container init then
// clones the mount with open_tree(OPEN_TREE_CLONE) into its own mount namespace: every clone shows the same
// superblock, so all containers, and restarts of them, share the data. Creating a tmpfs needs CAP_SYS_ADMIN
// over a mount namespace, which the supervisor (unprivileged, in the host's) does not have; this process has
// it in its own mount namespace, owned by the pod's user namespace.
func makeTmpfs(vols []Tmpfs, sock int) error {
	if sock < 0 {
		return fmt.Errorf("volume helper: %s not set", EnvVolumeFD)
	}
	var fds []int
	for _, v := range vols {
		fd, err := newTmpfs(v)
		if err != nil {
			return fmt.Errorf("emptyDir %s (medium Memory): %w", v.Name, err)
		}
		fds = append(fds, fd)
	}
	if err := unix.Sendmsg(sock, []byte("tmpfs"), unix.UnixRights(fds...), nil, 0); err != nil {
		return fmt.Errorf("volume helper: send mount descriptors: %w", err)
	}
	return errHelperDone
}

func newTmpfs(v Tmpfs) (int, error) {
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(fsfd)
	// 0777 like kubelet's emptyDir: containers running as different uids share it.
	params := [][2]string{{"mode", "0777"}}
	if v.SizeBytes > 0 {
		params = append(params, [2]string{"size", strconv.FormatInt(v.SizeBytes, 10)})
	}
	for _, p := range params {
		if err := unix.FsconfigSetString(fsfd, p[0], p[1]); err != nil {
			return -1, fmt.Errorf("tmpfs %s=%s: %w", p[0], p[1], err)
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return -1, fmt.Errorf("create tmpfs: %w", err)
	}
	fd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return -1, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return fd, nil
}

// removeAll removes the given host paths. It runs before pivot_root, in a mount namespace copied from the
// host's, as root of the pod's user namespace.
func removeAll(paths []string) error {
	for _, p := range paths {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("volume cleanup: %w", err)
		}
	}
	return errHelperDone
}
