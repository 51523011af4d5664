package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Overlay is a container's writable layer over the image layers: kernel overlayfs mounted on Spec.Root in the
// container's own mount namespace before anything else (allowed in a user namespace since Linux 5.11).
type Overlay struct {
	// Lower are the unpacked image layer directories, bottom first (overlay whiteouts: character devices 0:0,
	// opaque directories marked with the user.overlay.opaque xattr, and trusted.overlay.opaque when unpacked
	// by root).
	Lower []string
	// Upper and Work are empty directories on the same filesystem, in the pod's state.
	Upper, Work string
	// NoCopyFallback makes a refused overlay mount an error; otherwise the layers are copied into Root once
	// and Warn is told why.
	NoCopyFallback bool `json:",omitempty"`
}

// overlayWarn receives the note of the copy fallback (the container init writes it to the container's stderr).
var overlayWarn = func(msg string) { fmt.Fprintln(os.Stderr, "sandbox: "+msg) }

// mountOverlay mounts spec.Overlay on spec.Root, or copies the layers into Root when the kernel refuses
// overlayfs here.
func mountOverlay(spec *Spec) error {
	o := spec.Overlay
	if o == nil {
		return nil
	}
	if len(o.Lower) == 0 {
		return fmt.Errorf("%w: Overlay.Lower is empty", ErrInvalidSpec)
	}
	err := mountOverlayFS(o, spec.Root)
	if err == nil {
		return nil
	}
	if o.NoCopyFallback {
		return fmt.Errorf("rootfs: mount overlay: %w", err)
	}
	if empty, _ := isEmptyDir(spec.Root); !empty {
		return nil // copied by an earlier start of this container
	}
	overlayWarn(fmt.Sprintf("overlayfs is not allowed here (%v): the image layers are copied into the pod's state instead", err))
	if err := copyLayers(o.Lower, spec.Root); err != nil {
		return fmt.Errorf("rootfs: copy the image layers into %s: %w", spec.Root, err)
	}
	return nil
}

// mountOverlayFS mounts the overlay on root. fsconfig takes one lower directory per "lowerdir+" parameter
// (Linux 6.8+; a single fsconfig string is at most 256 bytes, too short for a list of store paths); older
// kernels get the classic mount(2) with the whole option string (up to a page).
func mountOverlayFS(o *Overlay, root string) error {
	userxattr := inUserNamespace() // trusted.* xattrs need CAP_SYS_ADMIN in the initial user namespace
	params := []fsParam{}
	for _, l := range slices.Backward(o.Lower) { // overlayfs lists the top layer first
		params = append(params, fsParam{"lowerdir+", l})
	}
	params = append(params, fsParam{"upperdir", o.Upper}, fsParam{"workdir", o.Work})
	if userxattr {
		params = append(params, fsParam{"userxattr", ""})
	}
	fd, err := newFS("overlay", 0, params...)
	if err == nil {
		defer unix.Close(fd)
		if err := attachOnDir(fd, root); err != nil {
			return fmt.Errorf("move_mount overlay on %s: %w", root, err)
		}
		return nil
	}
	lower := make([]string, 0, len(o.Lower))
	for _, l := range slices.Backward(o.Lower) {
		lower = append(lower, escapeOverlayPath(l))
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + escapeOverlayPath(o.Upper) + ",workdir=" + escapeOverlayPath(o.Work)
	if userxattr {
		opts += ",userxattr"
	}
	if merr := unix.Mount("overlay", root, "overlay", 0, opts); merr != nil {
		return fmt.Errorf("%v; mount(2): %w", err, merr)
	}
	return nil
}

// escapeOverlayPath escapes the characters overlayfs splits its options on.
func escapeOverlayPath(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)
	return r.Replace(p)
}

func inUserNamespace() bool {
	data, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	f := strings.Fields(string(data))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, err
}

// copyLayers applies the layers, bottom first, to dest as a flattened tree: whiteouts remove, opaque
// directories hide what lower layers put in them. Every write goes through an os.Root on dest; the layers are
// walked without following symlinks. Hard links become copies.
func copyLayers(layers []string, dest string) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, layer := range layers {
		err := filepath.WalkDir(layer, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(layer, p)
			if err != nil || rel == "." {
				return err
			}
			return copyEntry(root, p, rel)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(root *os.Root, src, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return err
	}
	mode := st.Mode & unix.S_IFMT
	if mode == unix.S_IFCHR && st.Rdev == 0 { // whiteout
		return root.RemoveAll(rel)
	}
	existing, lerr := root.Lstat(rel)
	if mode == unix.S_IFDIR {
		buf := make([]byte, 2)
		n, _ := unix.Lgetxattr(src, "user.overlay.opaque", buf)
		opaque := n == 1 && buf[0] == 'y'
		if lerr == nil && (!existing.IsDir() || opaque) {
			if err := root.RemoveAll(rel); err != nil {
				return err
			}
			lerr = fs.ErrNotExist
		}
		if lerr != nil {
			if err := root.Mkdir(rel, 0o700); err != nil {
				return err
			}
		}
	} else {
		if lerr == nil {
			if err := root.RemoveAll(rel); err != nil {
				return err
			}
		}
		switch mode {
		case unix.S_IFREG:
			if err := copyFileInto(root, src, rel); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := root.Symlink(target, rel); err != nil {
				return err
			}
		case unix.S_IFIFO:
			dir, base := filepath.Split(rel)
			d, err := root.Open(filepath.Clean("./" + dir))
			if err != nil {
				return err
			}
			err = unix.Mknodat(int(d.Fd()), base, unix.S_IFIFO|0o600, 0)
			d.Close()
			if err != nil {
				return err
			}
		default:
			return nil
		}
	}
	root.Lchown(rel, int(st.Uid), int(st.Gid)) // an unmapped owner stays container root
	if mode != unix.S_IFLNK {
		return root.Chmod(rel, fs.FileMode(st.Mode&0o777)|modeBits(st.Mode))
	}
	return nil
}

func modeBits(m uint32) fs.FileMode {
	var out fs.FileMode
	if m&unix.S_ISUID != 0 {
		out |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		out |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		out |= fs.ModeSticky
	}
	return out
}

func copyFileInto(root *os.Root, src, rel string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
