package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// layersFixture makes two layer directories in the store format the image package writes: the upper one
// deletes "gone" with a whiteout and makes "d" opaque.
func layersFixture(t *testing.T) (lower []string, base string) {
	t.Helper()
	// Long paths, as a store under a home directory has: more than a single 256-byte fsconfig string holds.
	base = filepath.Join(t.TempDir(), strings.Repeat("long-directory-name-", 8))
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(base), 0o755)
	l1, l2 := filepath.Join(base, "l1"), filepath.Join(base, "l2")
	for _, d := range []string{l1 + "/d", l2 + "/d", l1 + "/bin"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(l1+"/a", []byte("a"), 0o644)
	os.WriteFile(l1+"/gone", []byte("x"), 0o644)
	os.WriteFile(l1+"/d/old", []byte("old"), 0o644)
	os.Symlink("../a", l1+"/bin/link")
	os.WriteFile(l2+"/d/new", []byte("new"), 0o600)
	if err := unix.Mknod(l2+"/gone", unix.S_IFCHR, 0); err != nil {
		t.Fatalf("whiteout: %v", err)
	}
	if err := unix.Setxattr(l2+"/d", "user.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatalf("opaque: %v", err)
	}
	return []string{l1, l2}, base
}

func checkMerged(t *testing.T, root string) {
	t.Helper()
	if data, err := os.ReadFile(filepath.Join(root, "a")); err != nil || string(data) != "a" {
		t.Errorf("a: %q %v", data, err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "bin/link")); err != nil || string(data) != "a" {
		t.Errorf("bin/link: %q %v", data, err)
	}
	for _, gone := range []string{"gone", "d/old"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); err == nil {
			t.Errorf("%s is visible: whiteout/opaque not honoured", gone)
		}
	}
	if data, err := os.ReadFile(filepath.Join(root, "d/new")); err != nil || string(data) != "new" {
		t.Errorf("d/new: %q %v", data, err)
	}
}

func TestCopyLayersFlattens(t *testing.T) {
	lower, base := layersFixture(t)
	dest := filepath.Join(base, "rootfs")
	os.Mkdir(dest, 0o755)
	if err := copyLayers(lower, dest); err != nil {
		t.Fatal(err)
	}
	checkMerged(t, dest)
	if fi, _ := os.Stat(filepath.Join(dest, "d/new")); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}

// TestOverlayWritesLandInUpper mounts the overlay the way the container init does, in a child's own mount
// namespace as root of a user namespace.
func TestOverlayWritesLandInUpper(t *testing.T) {
	f, parent := inUserNS(t, func(t *testing.T) fixture {
		lower, base := layersFixture(t)
		o := &Overlay{Lower: lower, Upper: filepath.Join(base, "upper"), Work: filepath.Join(base, "work"), NoCopyFallback: true}
		for _, d := range []string{o.Upper, o.Work, filepath.Join(base, "rootfs")} {
			os.Mkdir(d, 0o755)
		}
		return fixture{Spec: Spec{Root: filepath.Join(base, "rootfs"), Overlay: o}}
	}, func(t *testing.T, f fixture) {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Fatal(err)
		}
		if err := mountOverlay(&f.Spec); err != nil {
			t.Fatal(err)
		}
		checkMerged(t, f.Spec.Root)
		if err := os.WriteFile(filepath.Join(f.Spec.Root, "written"), []byte("w"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(f.Spec.Root, "a")); err != nil {
			t.Fatal(err)
		}
	})
	if !parent {
		return
	}
	o := f.Spec.Overlay
	if _, err := os.Stat(filepath.Join(o.Upper, "written")); err != nil {
		t.Errorf("the write did not land in the upper dir: %v", err)
	}
	for _, l := range o.Lower {
		if _, err := os.Stat(filepath.Join(l, "written")); err == nil {
			t.Errorf("the write landed in the layer %s", l)
		}
	}
	if _, err := os.Stat(filepath.Join(o.Lower[0], "a")); err != nil {
		t.Errorf("removing a file in the container removed it from the layer: %v", err)
	}
}

// When the kernel refuses the overlay (here: upperdir and workdir on different filesystems), the layers are
// copied into Root once, with one note, and a second start keeps the copy.
func TestOverlayFallbackCopies(t *testing.T) {
	inUserNS(t, func(t *testing.T) fixture {
		lower, base := layersFixture(t)
		o := &Overlay{Lower: lower, Upper: filepath.Join(base, "upper"), Work: filepath.Join(base, "work")}
		for _, d := range []string{o.Upper, o.Work, filepath.Join(base, "rootfs")} {
			os.Mkdir(d, 0o755)
		}
		return fixture{Spec: Spec{Root: filepath.Join(base, "rootfs"), Overlay: o}}
	}, func(t *testing.T, f fixture) {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", f.Spec.Overlay.Work, "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
		var notes []string
		overlayWarn = func(msg string) { notes = append(notes, msg) }
		if err := mountOverlay(&f.Spec); err != nil {
			t.Fatal(err)
		}
		if len(notes) != 1 || !strings.Contains(notes[0], "copied into the pod's state") {
			t.Errorf("notes: %q", notes)
		}
		checkMerged(t, f.Spec.Root)
		os.WriteFile(filepath.Join(f.Spec.Root, "written"), []byte("w"), 0o644)
		if err := mountOverlay(&f.Spec); err != nil { // a restart
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(f.Spec.Root, "written")); err != nil || len(notes) != 1 {
			t.Errorf("a restart must keep the copy and not note again: %v %q", err, notes)
		}
		f.Spec.Overlay.NoCopyFallback = true
		os.RemoveAll(f.Spec.Root)
		os.Mkdir(f.Spec.Root, 0o755)
		if err := mountOverlay(&f.Spec); err == nil {
			t.Error("NoCopyFallback: no error")
		}
	})
}
