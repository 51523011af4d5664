package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tree builds a directory root next to an "outside" directory with a file in it, and returns both, with
// symlinks resolved so that paths can be compared with /proc/self/fd links.
func tree(t testing.TB, links map[string]string, dirs ...string) (root, outside string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range append([]string{"", "d/e"}, dirs...) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range links {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(strings.ReplaceAll(target, "$OUTSIDE", outside), filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func fdPath(t testing.TB, fd int) string {
	t.Helper()
	p, err := os.Readlink("/proc/self/fd/" + itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }

func inside(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

func listing(t testing.TB, dir string) []string {
	t.Helper()
	var all []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		all = append(all, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	return all
}

// Symlinks that would leave the root if followed by the host: each must resolve inside it.
var escapingLinks = map[string]string{
	"abs":       "/",
	"up":        "../../../../../..",
	"outabs":    "$OUTSIDE",
	"outrel":    "../outside",
	"etc":       "/etc",
	"loop":      "loop",
	"d/back":    "../..",
	"d/e/mnt":   "/d/../../../outside/sub",
	"procself":  "/proc/self/root",
	"dangling":  "/nonexistent-in-root/x",
	"d/dangrel": "../../../made-by-link",
}

func TestOpenInRootNeverLeavesTheRoot(t *testing.T) {
	root, outside := tree(t, escapingLinks)
	for _, p := range []string{
		"..", "../outside/secret", "/../../outside", "abs/outside", "up/outside/secret", "outabs/secret",
		"outrel/secret", "d/back/../outside", "d/e/mnt", "procself", "d/e/../../..",
	} {
		f, err := OpenInRoot(root, p, unix.O_PATH, 0)
		if err != nil {
			continue // refusing is fine; opening outside is not
		}
		if got := fdPath(t, int(f.Fd())); !inside(got, root) {
			t.Errorf("OpenInRoot(%q) opened %s, outside %s", p, got, root)
		}
		f.Close()
	}
	if _, err := OpenInRoot(root, "outabs/secret", os.O_RDONLY, 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("outabs/secret: got %v, want not-exist (resolved inside the root)", err)
	}
	_ = outside
}

func TestMkdirAllInRootCreatesOnlyInsideTheRoot(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		wantIn     string // the created directory, relative to the root; "" means an error is expected
		wantErr    error
	}{
		{name: "plain_path", path: "/a/b/c", wantIn: "a/b/c"},
		{name: "absolute_symlink_to_host_etc_loops", path: "/etc/app", wantErr: unix.ELOOP},
		{name: "absolute_symlink_outside_is_rooted", path: "/outabs/new", wantIn: filepath.Join("$OUTSIDE", "new")},
		{name: "relative_symlink_climbing_out_is_clamped", path: "/outrel/new", wantIn: "outside/new"},
		{name: "dotdot_is_clamped", path: "/../../x/y", wantIn: "x/y"},
		{name: "dangling_absolute_symlink_is_created_inside", path: "/dangling/more", wantIn: "nonexistent-in-root/x/more"},
		{name: "dangling_relative_symlink_is_created_inside", path: "/d/dangrel", wantIn: "made-by-link"},
		{name: "symlink_back_to_root", path: "/d/back/z", wantIn: "z"},
		{name: "magic_link_target_stays_inside", path: "/procself/q", wantIn: "proc/self/root/q"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := tree(t, escapingLinks)
			before := listing(t, outside)
			rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(rootFd)
			fd, err := mkdirAllInRoot(rootFd, tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("mkdirAllInRoot(%q) = %v, want %v", tc.path, err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("mkdirAllInRoot(%q): %v", tc.path, err)
				}
				defer unix.Close(fd)
				want := filepath.Join(root, strings.ReplaceAll(tc.wantIn, "$OUTSIDE", strings.TrimPrefix(outside, "/")))
				if got := fdPath(t, fd); got != want {
					t.Errorf("created %s, want %s", got, want)
				}
			}
			if after := listing(t, outside); !slices.Equal(before, after) {
				t.Errorf("the directory outside the root changed:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

func TestCreateFileInRootFollowsDanglingLinksInside(t *testing.T) {
	root, outside := tree(t, map[string]string{"etc/resolv.conf": "../run/resolv.conf", "etc/hosts": "$OUTSIDE/hosts"})
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootFd)
	for p, want := range map[string]string{
		"/etc/resolv.conf": filepath.Join(root, "run/resolv.conf"),
		"/etc/hosts":       filepath.Join(root, outside, "hosts"),
		"/new/file":        filepath.Join(root, "new/file"),
	} {
		fd, err := createFileInRoot(rootFd, p)
		if err != nil {
			t.Errorf("createFileInRoot(%q): %v", p, err)
			continue
		}
		if got := fdPath(t, fd); got != want {
			t.Errorf("createFileInRoot(%q) = %s, want %s", p, got, want)
		}
		unix.Close(fd)
	}
	if _, err := os.Stat(filepath.Join(outside, "hosts")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was created outside the root: %v", err)
	}
	if _, err := createFileInRoot(rootFd, "/d"); !errors.Is(err, unix.EISDIR) {
		t.Errorf("a file mount point on a directory: got %v, want EISDIR", err)
	}
}

func TestTopLevelMountpointsMustBeDirectories(t *testing.T) {
	root, _ := tree(t, map[string]string{"dev": "/tmp", "proc": "d", "sys": "../.."})
	if err := os.WriteFile(filepath.Join(root, "tmp"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootFd)
	for name, want := range map[string]string{
		"dev":  "rootfs: /dev must not be a symlink",
		"proc": "rootfs: /proc must be mounted on an ordinary directory, not a symlink",
		"sys":  "rootfs: /sys must not be a symlink",
		"tmp":  "rootfs: /tmp must be a directory",
	} {
		_, err := topLevelDir(rootFd, name, true)
		if !errors.Is(err, ErrUnsafeMountpoint) || err.Error() != want {
			t.Errorf("topLevelDir(%s) = %v, want %q (ErrUnsafeMountpoint)", name, err, want)
		}
	}
	fd, err := topLevelDir(rootFd, "run", true)
	if err != nil {
		t.Fatalf("a missing top-level mount point is created: %v", err)
	}
	unix.Close(fd)
}

// FuzzOpenInRoot is the test plan's FuzzSecureJoin property for the resolver Setup uses: whatever the path, what
// OpenInRoot opens (or mkdirAllInRoot creates) is inside the root, and nothing outside it changes.
func FuzzOpenInRoot(f *testing.F) {
	for _, s := range []string{
		"", "/", "..", "../outside/secret", "abs/outside", "up/outside", "outabs/secret", "outrel", "etc/passwd",
		"loop/x", "d/back/d/back/..", "d/e/mnt/x", "procself/x", "dangling/y", "d/dangrel", "a//b/./c/../d",
		"/\x00", strings.Repeat("../", 50) + "outside",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	root, outside := tree(f, escapingLinks)
	before := listing(f, outside)
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { unix.Close(rootFd) })
	f.Fuzz(func(t *testing.T, p string, mkdir bool) {
		var fd int
		if mkdir {
			if fd, err = mkdirAllInRoot(rootFd, p); err != nil {
				return
			}
		} else {
			file, err := OpenInRoot(root, p, unix.O_PATH, 0)
			if err != nil {
				return
			}
			defer file.Close()
			fd = int(file.Fd())
		}
		if got := fdPath(t, fd); !inside(got, root) {
			t.Fatalf("%q (mkdir %v) resolved to %s, outside %s", p, mkdir, got, root)
		}
		if mkdir {
			unix.Close(fd)
		}
		if after := listing(t, outside); !slices.Equal(before, after) {
			t.Fatalf("%q (mkdir %v) changed the directory outside the root: %q", p, mkdir, after)
		}
	})
}
