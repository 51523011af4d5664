package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/image/imagetest"
)

// entry is one crafted tar entry.
type entry struct {
	name, link, body string
	typ              byte
	mode             int64
	uid, gid         int
}

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var es []imagetest.Entry
	for _, e := range entries {
		es = append(es, imagetest.Entry{Name: e.name, Link: e.link, Body: e.body, Type: e.typ, Mode: e.mode, UID: e.uid, GID: e.gid})
	}
	return imagetest.Tar(t, es...)
}

func TestUnpackLayer(t *testing.T) {
	dir := t.TempDir()
	layer := tarOf(t,
		entry{name: "./", typ: tar.TypeDir},
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"},
		entry{name: "bin/tool", body: "#!/bin/sh\n", mode: 0o4755, uid: 1000, gid: 1000},
		entry{name: "bin/link", typ: tar.TypeSymlink, link: "/bin/tool"},
		entry{name: "bin/hard", typ: tar.TypeLink, link: "bin/tool"},
		entry{name: "ro/", typ: tar.TypeDir, mode: 0o555},
		entry{name: "ro/file", body: "x", mode: 0o400},
		entry{name: "var/.wh.gone", body: ""},
		entry{name: "opaque/.wh..wh..opq"},
		entry{name: "dev/null", typ: tar.TypeChar, mode: 0o666},
		entry{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		entry{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"},
	)
	st, err := unpackLayer(bytes.NewReader(layer), dir, unpackOptions{keepOwners: os.Geteuid() == 0})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "etc/passwd")); !strings.Contains(string(data), "user:x:1000") {
		t.Errorf("a later entry must replace an earlier one: %q", data)
	}
	fi, err := os.Lstat(filepath.Join(dir, "bin/tool"))
	if err != nil || fi.Mode() != 0o755|os.ModeSetuid {
		t.Errorf("bin/tool: %v %v, want setuid 0755", fi.Mode(), err)
	}
	if os.Geteuid() == 0 {
		var s unix.Stat_t
		unix.Lstat(filepath.Join(dir, "bin/tool"), &s)
		if s.Uid != 1000 || s.Gid != 1000 {
			t.Errorf("owner %d:%d, want 1000:1000", s.Uid, s.Gid)
		}
	} else if st.ownersLost == 0 {
		t.Error("owners not kept but not counted")
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/link")); l != "/bin/tool" {
		t.Errorf("symlink = %q", l)
	}
	a, _ := os.Stat(filepath.Join(dir, "bin/tool"))
	b, _ := os.Stat(filepath.Join(dir, "bin/hard"))
	if !os.SameFile(a, b) {
		t.Error("bin/hard is not a hard link of bin/tool")
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "ro")); fi.Mode().Perm() != 0o555 {
		t.Errorf("ro: %v", fi.Mode())
	}
	var s unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "var/gone"), &s); err != nil || s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != 0 {
		t.Errorf("var/gone is not an overlay whiteout (char 0:0): %v %o", err, s.Mode)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "opaque"), xattrOpaqueUser, buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque dir xattr: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "dev/null")); err == nil || len(st.devices) != 1 {
		t.Errorf("device node must be skipped and noted: %v %v", err, st.devices)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "run/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v", err)
	}
}

// TestUnpackLayerRefusesEscapes crafts layers that try to write outside the
// layer root; each is refused naming the entry, and a canary file next to
// the layer directory stays as it was with nothing new beside it.
func TestUnpackLayerRefusesEscapes(t *testing.T) {
	cases := []struct {
		name    string
		entries []entry
		entry   string
	}{
		{"dot-dot", []entry{{name: "../canary", body: "pwned"}}, "../canary"},
		{"dot-dot inside", []entry{{name: "a/../../canary", body: "pwned"}}, "a/../../canary"},
		{"absolute", []entry{{name: "/tmp/evil", body: "pwned"}}, "/tmp/evil"},
		{"write through relative symlink", []entry{{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "up/canary", body: "pwned"}}, "up/canary"},
		{"write through absolute symlink", []entry{{name: "abs", typ: tar.TypeSymlink, link: "OUTSIDE"}, {name: "abs/canary", body: "pwned"}}, "abs/canary"},
		{"replace symlinked parent file", []entry{{name: "f", typ: tar.TypeSymlink, link: "../canary"}, {name: "d/", typ: tar.TypeDir}, {name: "f/x", body: "pwned"}}, "f/x"},
		{"hard link to outside", []entry{{name: "h", typ: tar.TypeLink, link: "../canary"}}, "h"},
		{"hard link through symlink", []entry{{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "h", typ: tar.TypeLink, link: "up/canary"}}, "h"},
		{"hard link absolute", []entry{{name: "h", typ: tar.TypeLink, link: "OUTSIDE/canary"}}, "h"},
		{"whiteout through symlink", []entry{{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "up/.wh.canary"}}, "up/.wh.canary"},
		{"mkdir through symlink", []entry{{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "up/newdir/", typ: tar.TypeDir}}, "up/newdir/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outside := t.TempDir()
			canary := filepath.Join(outside, "canary")
			if err := os.WriteFile(canary, []byte("original"), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(outside, "layer")
			os.Mkdir(dir, 0o755)
			var es []entry
			for _, e := range tc.entries {
				e.link = strings.ReplaceAll(e.link, "OUTSIDE", outside)
				es = append(es, e)
			}
			_, err := unpackLayer(bytes.NewReader(tarOf(t, es...)), dir, unpackOptions{})
			if err == nil || !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), tc.entry) {
				t.Fatalf("err = %v; want an unsafe-entry error naming %q", err, tc.entry)
			}
			if data, err := os.ReadFile(canary); err != nil || string(data) != "original" {
				t.Errorf("canary changed: %q %v", data, err)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 2 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("something was written outside the layer: %v", names)
			}
			if _, err := os.Stat("/tmp/evil"); err == nil {
				t.Error("/tmp/evil was written")
			}
		})
	}
}

// An entry that fails for another reason is reported as such, not as an
// escape.
func TestUnpackLayerOtherErrorsAreNotEscapes(t *testing.T) {
	_, err := unpackLayer(bytes.NewReader(tarOf(t, entry{name: "h", typ: tar.TypeLink, link: "missing"})), t.TempDir(), unpackOptions{})
	if err == nil || errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), `layer entry "h"`) {
		t.Errorf("err = %v", err)
	}
}
