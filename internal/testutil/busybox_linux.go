package testutil

import (
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BusyboxPath is the statically linked busybox that BusyboxRootfs copies (Debian package busybox-static).
const BusyboxPath = "/bin/busybox"

// BusyboxApplets are the commands BusyboxRootfs links to busybox in bin/.
var BusyboxApplets = []string{
	"sh", "ls", "cat", "echo", "mount", "id", "hostname", "touch", "mkdir", "sleep", "true", "false",
	"readlink", "stat",
}

// BusyboxRootfs builds a tiny root filesystem in a fresh t.TempDir and returns its path: bin/busybox (a copy of
// BusyboxPath), bin/<applet> -> busybox for every BusyboxApplets entry, and the empty directories proc, sys, dev,
// tmp, etc and root. Without a static busybox the test is skipped, or fails under CI (SkipOrFailUnlessCI).
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	if err := checkStatic(BusyboxPath); err != nil {
		SkipOrFailUnlessCI(t, "a static busybox is needed for a test rootfs: install the busybox-static package: "+
			err.Error())
		return ""
	}
	root := t.TempDir()
	// t.TempDir is 0700; a rootfs is world-readable like any /.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc", "root"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := CopyFile(filepath.Join(root, "bin", "busybox"), BusyboxPath, 0o755); err != nil {
		t.Fatalf("BusyboxRootfs: %v", err)
	}
	for _, a := range BusyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// checkStatic returns an error if path is missing or is not a statically linked ELF executable: a dynamically
// linked busybox would not run inside a rootfs without its libraries.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return &os.PathError{Op: "check", Path: path, Err: errDynamic}
		}
	}
	return nil
}

var errDynamic = errors.New("dynamically linked")

// CopyFile copies src to a new file dst with mode perm (dst must not exist).
func CopyFile(dst, src string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
