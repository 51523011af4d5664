package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/testutil"
)

// TestMaskedAndReadonlyPaths checks the default masks against a rootfs whose /dev/null is a symlink to a
// host file (CVE-2025-31133 shape, test plan B-12, S-5, S-6): the masks must use the verified host null device.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	inUserNS(t, func(t *testing.T) fixture {
		root := testutil.BusyboxRootfs(t)
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("host"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, "dev"), 0o755)
		os.Remove(filepath.Join(root, "dev", "null"))
		if err := os.Symlink(victim, filepath.Join(root, "dev", "null")); err != nil {
			t.Fatal(err)
		}
		return fixture{Spec: Spec{Root: root, MaskPaths: DefaultMaskPaths, ReadonlyPaths: DefaultReadonlyPaths},
			Extra: map[string]string{"victim": victim}}
	}, func(t *testing.T, f fixture) {
		setup(t, f.Spec)
		// This machine's kernel has no /proc/kcore or /proc/sysrq-trigger; /proc/keys and /proc/timer_list exist.
		for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				if p == "/proc/kcore" && os.IsNotExist(err) {
					continue
				}
				t.Errorf("stat %s: %v", p, err)
				continue
			}
			if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
				t.Errorf("%s is not masked with the null device: mode %#o rdev %d:%d", p, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
			}
			if b, err := os.ReadFile(p); err != nil || len(b) != 0 {
				t.Errorf("read masked %s: %d bytes, %v", p, len(b), err)
			}
		}
		if _, err := os.Stat("/proc/acpi"); err == nil {
			if ents, err := os.ReadDir("/proc/acpi"); err != nil || len(ents) != 0 {
				t.Errorf("/proc/acpi: %d entries, %v; want an empty masked directory", len(ents), err)
			}
			wantErrno(t, "create in masked /proc/acpi", os.WriteFile("/proc/acpi/x", nil, 0o644), unix.EROFS)
		}
		if _, err := os.Stat("/sys/firmware"); err == nil {
			if ents, _ := os.ReadDir("/sys/firmware"); len(ents) != 0 {
				t.Errorf("/sys/firmware has %d entries, want it masked", len(ents))
			}
		}
		wantErrno(t, "write /proc/sys/kernel/hostname", os.WriteFile("/proc/sys/kernel/hostname", []byte("x"), 0o644), unix.EROFS)
		if _, err := os.Stat("/proc/sysrq-trigger"); err == nil {
			wantErrno(t, "write /proc/sysrq-trigger", os.WriteFile("/proc/sysrq-trigger", []byte("h"), 0o644), unix.EROFS)
		}
		if b, err := os.ReadFile(f.Extra["victim"]); err == nil && string(b) != "host" {
			t.Errorf("the file /dev/null pointed to was changed: %q", b)
		}
	})
}

// TestSubPathIsResolvedInsideTheVolume: a symlink planted in a volume (by an earlier container) cannot make a
// subPath bind reach outside the volume (CVE-2017-1002101, CVE-2021-25741).
func TestSubPathIsResolvedInsideTheVolume(t *testing.T) {
	f, parent := inUserNS(t, func(t *testing.T) fixture {
		root := testutil.BusyboxRootfs(t)
		vol, secret := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(secret, "key"), []byte("secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(secret, filepath.Join(vol, "escape")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../../../../../.."+secret, filepath.Join(vol, "climb")); err != nil {
			t.Fatal(err)
		}
		return fixture{Spec: Spec{Root: root, Binds: []Bind{
			{Source: vol, SubPath: "escape", Destination: "/abs"},
			{Source: vol, SubPath: "climb/sub", Destination: "/rel"},
			{Source: vol, SubPath: "new/dir", Destination: "/made", ReadOnly: true},
		}}, Extra: map[string]string{"vol": vol, "secret": secret}}
	}, func(t *testing.T, f fixture) {
		setup(t, f.Spec)
		for _, d := range []string{"/abs/key", "/rel/key"} {
			if _, err := os.Stat(d); err == nil {
				t.Errorf("%s is visible: the subPath escaped the volume", d)
			}
		}
		if _, err := os.Stat("/made"); err != nil {
			t.Errorf("missing subPath was not created: %v", err)
		}
		wantErrno(t, "write in a read-only subPath bind", os.WriteFile("/made/x", nil, 0o644), unix.EROFS)
	})
	if !parent {
		return
	}
	// Where the symlinks resolve inside the volume: the subPaths were created there.
	vol, secret := f.Extra["vol"], f.Extra["secret"]
	for _, p := range []string{filepath.Join(vol, secret), filepath.Join(vol, secret, "sub"), filepath.Join(vol, "new", "dir")} {
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			t.Errorf("%s: %v, want the subPath created inside the volume", p, err)
		}
	}
	if ents, _ := os.ReadDir(secret); len(ents) != 1 {
		t.Errorf("the directory outside the volume changed: %d entries", len(ents))
	}
}
