package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// resolveInRoot makes the kernel resolve a path as if the directory fd were "/": absolute symlinks and ".." are
// resolved against it and cannot leave it, and magic links (/proc/self/fd/N, /proc/self/exe: CVE-2019-5736,
// CVE-2024-21626) are refused. Unlike a lexical join followed by open, there is no window in which a symlink
// swapped into the path redirects the open outside the root.
const resolveInRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// maxSymlinks bounds how often the mount point creation follows dangling symlinks (the kernel's MAXSYMLINKS).
const maxSymlinks = 40

// OpenInRoot opens unsafePath inside the directory root as if root were "/" (openat2 RESOLVE_IN_ROOT), so
// neither "..", nor absolute or relative symlinks, nor magic links in /proc can make it open anything outside
// root. flags and perm are as for os.OpenFile; O_CLOEXEC is always added. The returned file's Name is the
// lexical join of root and the cleaned path, for messages only.
func OpenInRoot(root, unsafePath string, flags int, perm os.FileMode) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open root", Path: root, Err: err}
	}
	defer unix.Close(rootFd)
	fd, err := openat2(rootFd, relInRoot(unsafePath), flags, uint32(perm.Perm()), resolveInRoot)
	if err != nil {
		return nil, &os.PathError{Op: "open in root " + root, Path: unsafePath, Err: err}
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, relInRoot(unsafePath))), nil
}

// relInRoot cleans p as an absolute path and returns it relative to the root ("." for the root itself).
// Cleaning first is what every secure joiner does: "a/../b" means "b" even if "a" is a symlink.
func relInRoot(p string) string {
	rel := strings.TrimPrefix(path.Clean("/"+p), "/")
	if rel == "" {
		return "."
	}
	return rel
}

// openat2 retries the EAGAIN that RESOLVE_IN_ROOT returns when a concurrent rename might have let ".." escape.
func openat2(dirfd int, p string, flags int, mode uint32, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		how.Mode = uint64(mode)
	}
	for range 16 {
		fd, err := unix.Openat2(dirfd, p, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// mkdirAllInRoot creates the directory p and its missing parents inside the root rootFd and returns an O_PATH fd
// of it. Each step opens the prefix from the root with RESOLVE_IN_ROOT and creates the missing component with
// mkdirat on the already resolved parent's fd, so a component that is (or becomes) a symlink can only lead to
// another place inside the root. A dangling symlink is followed to its target, inside the root, as runc does
// with filepath-securejoin.
func mkdirAllInRoot(rootFd int, p string) (int, error) {
	return mkdirAllDepth(rootFd, relInRoot(p), 0)
}

func mkdirAllDepth(rootFd int, rel string, depth int) (int, error) {
	const dirFlags = unix.O_PATH | unix.O_DIRECTORY
	if depth > maxSymlinks {
		return -1, fmt.Errorf("create /%s in the root: %w", rel, unix.ELOOP)
	}
	fd, err := openat2(rootFd, rel, dirFlags, 0, resolveInRoot)
	if !errors.Is(err, unix.ENOENT) {
		if err != nil {
			return -1, fmt.Errorf("open /%s in the root: %w", rel, err)
		}
		return fd, nil
	}
	parts := strings.Split(rel, "/")
	cur, err := openat2(rootFd, ".", dirFlags, 0, resolveInRoot)
	if err != nil {
		return -1, fmt.Errorf("open the root: %w", err)
	}
	for i, name := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		next, err := openat2(rootFd, prefix, dirFlags, 0, resolveInRoot)
		if errors.Is(err, unix.ENOENT) {
			mkErr := unix.Mkdirat(cur, name, 0o755)
			switch {
			case mkErr == nil:
				next, err = openat2(cur, name, dirFlags, 0, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
			case errors.Is(mkErr, unix.EEXIST):
				// Either a concurrent mkdir (then the prefix resolves now) or a dangling symlink.
				next, err = openat2(rootFd, prefix, dirFlags, 0, resolveInRoot)
				if errors.Is(err, unix.ENOENT) {
					target, lerr := readlinkat(cur, name)
					unix.Close(cur)
					if lerr != nil {
						return -1, fmt.Errorf("create /%s in the root: %w", prefix, err)
					}
					return mkdirAllDepth(rootFd, followLink(parts[:i], target, parts[i+1:]), depth+1)
				}
			default:
				unix.Close(cur)
				return -1, fmt.Errorf("mkdir /%s in the root: %w", prefix, mkErr)
			}
		}
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("open /%s in the root: %w", prefix, err)
		}
		cur = next
	}
	return cur, nil
}

// createFileInRoot returns an fd of the non-directory p inside the root, creating an empty file (and missing
// parent directories) if nothing is there. It is the mount point of a file bind mount.
func createFileInRoot(rootFd int, p string) (int, error) {
	return createFileDepth(rootFd, relInRoot(p), 0)
}

func createFileDepth(rootFd int, rel string, depth int) (int, error) {
	if depth > maxSymlinks {
		return -1, fmt.Errorf("create /%s in the root: %w", rel, unix.ELOOP)
	}
	fd, err := openat2(rootFd, rel, unix.O_PATH, 0, resolveInRoot)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			unix.Close(fd)
			return -1, fmt.Errorf("/%s in the root is a directory, a file is needed: %w", rel, unix.EISDIR)
		}
		return fd, nil
	}
	if !errors.Is(err, unix.ENOENT) || rel == "." {
		return -1, fmt.Errorf("open /%s in the root: %w", rel, err)
	}
	dir, base := path.Split(rel)
	parent, err := mkdirAllDepth(rootFd, relInRoot(dir), depth)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	fd, err = openat2(parent, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644,
		unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
	if errors.Is(err, unix.EEXIST) {
		if target, lerr := readlinkat(parent, base); lerr == nil {
			// A dangling symlink such as /etc/resolv.conf -> ../run/resolv.conf: create its target, in the root.
			return createFileDepth(rootFd, followLink(strings.Split(strings.TrimSuffix(dir, "/"), "/"), target, nil),
				depth+1)
		}
		return createFileDepth(rootFd, rel, depth+1) // a concurrent create: open what is there now
	}
	if err != nil {
		return -1, fmt.Errorf("create /%s in the root: %w", rel, err)
	}
	return fd, nil
}

// followLink returns, relative to the root, the path reached by the symlink in directory dir with the given
// target, followed by rest.
func followLink(dir []string, target string, rest []string) string {
	base := "/" + strings.Join(dir, "/")
	if path.IsAbs(target) {
		base = "/"
	}
	return relInRoot(path.Join(append([]string{base, target}, rest...)...))
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// topLevelDir returns an O_PATH fd of the directory /name directly under the root (proc, sys, dev, tmp), creating
// it if create is set. These must be real directories: mounting proc or a tmpfs /dev through a symlink would
// put them wherever the symlink points (runc "mounts.bats" proc-symlink case, the /dev symlink CVEs).
func topLevelDir(rootFd int, name string, create bool) (int, error) {
	symlinkErr := unsafeMountpoint("/" + name + " must not be a symlink")
	notDirErr := unsafeMountpoint("/" + name + " must be a directory")
	if name == "proc" {
		// The wording runc users know from "mounts.bats".
		symlinkErr = unsafeMountpoint("/proc must be mounted on an ordinary directory, not a symlink")
		notDirErr = unsafeMountpoint("/proc must be mounted on an ordinary directory")
	}
	var st unix.Stat_t
	err := unix.Fstatat(rootFd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT) && create:
		if err := unix.Mkdirat(rootFd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("rootfs: create mount point /%s: %w", name, err)
		}
	case err != nil:
		return -1, fmt.Errorf("rootfs: mount point /%s: %w", name, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return -1, symlinkErr
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return -1, notDirErr
	}
	// Open without following anything, so a swap to a symlink after the check fails here instead.
	fd, err := openat2(rootFd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0,
		unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_NO_MAGICLINKS)
	switch {
	case errors.Is(err, unix.ELOOP):
		return -1, symlinkErr
	case errors.Is(err, unix.ENOTDIR):
		return -1, notDirErr
	case err != nil:
		return -1, fmt.Errorf("rootfs: open mount point /%s: %w", name, err)
	}
	return fd, nil
}
