package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Overlay whiteout conventions written into unpacked layers: a whiteout is a
// character device 0:0 (unprivileged users may create it since Linux 5.8), an
// opaque directory carries the overlay opaque xattr in the "user." namespace
// (for mounts with userxattr, the only kind allowed in a user namespace) and,
// when the unpacker may, in "trusted." too.
const (
	whiteoutPrefix    = ".wh."
	whiteoutOpaque    = ".wh..wh..opq"
	xattrOpaqueUser   = "user.overlay.opaque"
	xattrOpaqueTruste = "trusted.overlay.opaque"
)

// ErrUnsafeEntry is wrapped by every refusal of a layer entry that would
// escape the layer's root.
var ErrUnsafeEntry = errors.New("unsafe layer entry")

// unpackOptions tune unpackLayer.
type unpackOptions struct {
	// keepOwners chowns every entry to its uid/gid from the tar (root, or
	// root of a user namespace with a subordinate range); otherwise
	// everything belongs to the unpacking user (container root).
	keepOwners bool
}

// unpackStats is what unpackLayer could not reproduce.
type unpackStats struct {
	devices      []string // device nodes skipped
	ownersLost   int      // entries whose owner was not kept
	xattrsFailed int
}

// cleanEntryName returns the layer-relative path of a tar entry name, or an
// error for names that are absolute or climb with "..": a layer is applied
// at the root, so neither has a meaning other than an escape.
func cleanEntryName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w %q: contains NUL", ErrUnsafeEntry, name)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w %q: absolute path", ErrUnsafeEntry, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w %q: \"..\" climbs out of the layer", ErrUnsafeEntry, name)
		}
	}
	return path.Clean(name), nil
}

// unpackLayer extracts the tar stream r into the empty directory dir. Every
// write goes through an os.Root opened on dir, so no entry, and no symlink an
// earlier entry planted, can reach outside it; entries that try are refused
// with an error naming them. Whiteouts become overlay whiteouts. It reads r
// to the end of the archive only.
func unpackLayer(r io.Reader, dir string, o unpackOptions) (unpackStats, error) {
	var st unpackStats
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, err
	}
	defer root.Close()
	type dirMeta struct {
		name string
		hdr  *tar.Header
	}
	var dirs []dirMeta
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, fmt.Errorf("read layer: %w", err)
		}
		name, err := cleanEntryName(hdr.Name)
		if err != nil {
			return st, err
		}
		if err := unpackEntry(root, tr, hdr, name, o, &st); err != nil {
			switch {
			case errors.Is(err, ErrUnsafeEntry):
				return st, err
			case isEscape(err):
				return st, fmt.Errorf("%w %q: %v", ErrUnsafeEntry, hdr.Name, err)
			}
			return st, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirMeta{name, hdr})
		}
	}
	// Directory modes last, deepest first, so a read-only directory was
	// writable while it was being filled.
	for _, d := range slices.Backward(dirs) {
		if err := root.Chmod(d.name, tarMode(d.hdr)); err != nil {
			return st, fmt.Errorf("entry %q: %w", d.hdr.Name, err)
		}
		root.Chtimes(d.name, d.hdr.ModTime, d.hdr.ModTime)
	}
	return st, nil
}

// isEscape reports whether os.Root refused a path for leaving the root
// (its error is not exported) or a symlink loop stopped the resolution.
func isEscape(err error) bool {
	return strings.Contains(err.Error(), "path escapes from parent") || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV)
}

func tarMode(h *tar.Header) fs.FileMode {
	m := fs.FileMode(h.Mode & 0o777)
	if h.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if h.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if h.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func unpackEntry(root *os.Root, r io.Reader, hdr *tar.Header, name string, o unpackOptions, st *unpackStats) error {
	if name == "." {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w %q: the layer root must be a directory", ErrUnsafeEntry, hdr.Name)
		}
		return nil
	}
	parent, base := path.Split(name)
	parent = path.Clean(parent)
	if parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	if base == whiteoutOpaque {
		return setOpaque(root, parent)
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		target := path.Join(parent, strings.TrimPrefix(base, whiteoutPrefix))
		if err := removeExisting(root, target, false); err != nil {
			return err
		}
		return mknodIn(root, target, unix.S_IFCHR, 0)
	}
	if err := removeExisting(root, name, hdr.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if err == nil {
			setXattrs(f, hdr, st)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := cleanEntryName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("%w %q: hard link to %q outside the layer", ErrUnsafeEntry, hdr.Name, hdr.Linkname)
		}
		// link(2) does not follow a symlink as the target, and os.Root
		// refuses a target path that resolves outside the root.
		if err := root.Link(target, name); err != nil {
			return err
		}
		return nil // a hard link shares its target's owner and mode
	case tar.TypeFifo:
		if err := mknodIn(root, name, unix.S_IFIFO, 0); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock:
		st.devices = append(st.devices, name)
		return nil
	default:
		return nil // pax/gnu metadata entries are consumed by archive/tar
	}
	if o.keepOwners {
		if err := root.Lchown(name, hdr.Uid, hdr.Gid); errors.Is(err, unix.EINVAL) {
			st.ownersLost++ // an id outside the user namespace's mapping: it stays container root's
		} else if err != nil {
			return err
		}
	} else if hdr.Uid != 0 || hdr.Gid != 0 {
		st.ownersLost++
	}
	if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeDir {
		return nil // dirs: modes are applied at the end
	}
	if err := root.Chmod(name, tarMode(hdr)); err != nil {
		return err
	}
	root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	return nil
}

// removeExisting makes room for an entry: a later layer entry replaces what
// an earlier one of the same layer wrote, except that a directory stays a
// directory.
func removeExisting(root *os.Root, name string, isDir bool) error {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if isDir && fi.IsDir() {
		return nil
	}
	return root.RemoveAll(name)
}

// mknodIn creates a node in the directory that holds name, resolved in root;
// the last component is never followed.
func mknodIn(root *os.Root, name string, mode uint32, dev int) error {
	dir, base := path.Split(name)
	if dir == "" {
		dir = "."
	}
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Mknodat(int(d.Fd()), base, mode, dev)
}

func setOpaque(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Fsetxattr(int(d.Fd()), xattrOpaqueUser, []byte("y"), 0); err != nil {
		return fmt.Errorf("mark opaque: %w", err)
	}
	unix.Fsetxattr(int(d.Fd()), xattrOpaqueTruste, []byte("y"), 0) // root only; "user." is what counts in a user namespace
	return nil
}

// setXattrs applies the entry's extended attributes where the kernel lets
// us (security.capability needs root); failures are counted, not fatal.
func setXattrs(f *os.File, hdr *tar.Header, st *unpackStats) {
	for k, v := range hdr.PAXRecords {
		x, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || strings.HasPrefix(x, "trusted.overlay.") || strings.HasPrefix(x, "user.overlay.") {
			continue
		}
		if err := unix.Fsetxattr(int(f.Fd()), x, []byte(v), 0); err != nil {
			st.xattrsFailed++
		}
	}
}
