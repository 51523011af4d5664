package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const fixturesDir = "../testdata/pods"

// readmeRow matches a row of the table in testdata/pods/README.md:
// | `bad-x.json` | `expected substring` |
var readmeRow = regexp.MustCompile("^\\|\\s*`(bad-[^`]+)`\\s*\\|\\s*`(.*)`\\s*\\|\\s*$")

// badFixtures returns every testdata/pods/bad-* file with the error
// substring README.md lists for it ("" when it lists none).
func badFixtures(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixturesDir, "bad-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no bad-* fixtures in %s", fixturesDir)
	}
	want := map[string]string{}
	if data, err := os.ReadFile(filepath.Join(fixturesDir, "README.md")); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if m := readmeRow.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				want[m[1]] = m[2]
			}
		}
	}
	out := map[string]string{}
	for _, f := range files {
		out[filepath.Base(f)] = want[filepath.Base(f)]
	}
	for name := range want {
		if _, ok := out[name]; !ok {
			t.Errorf("testdata/pods/README.md lists %s, which does not exist", name)
		}
	}
	return out
}

// listDir returns the names in dir (nil if it does not exist).
func listDir(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// expectNothingCreated checks that a failed run created no state at all:
// XDG_RUNTIME_DIR is still empty, and the other state roots did not change.
func (c *tcase) expectNothingCreated(roots map[string][]string) {
	c.t.Helper()
	if names := listDir(c.xdg); len(names) > 0 {
		c.t.Errorf("a failed run created %v in XDG_RUNTIME_DIR %s", names, c.xdg)
	}
	for dir, before := range roots {
		if after := listDir(dir); !slices.Equal(before, after) {
			c.t.Errorf("a failed run changed %s: before %v, after %v", dir, before, after)
		}
	}
}

// stateRoots lists the machine-wide state roots of the mode, to compare
// before and after a run that must create nothing.
func (c *tcase) stateRoots() map[string][]string {
	roots := map[string][]string{}
	dirs := []string{filepath.Join("/tmp", "sandbox-"+itoa(c.m.uid))}
	if c.m.isRoot() {
		dirs = append(dirs, "/run/sandbox")
	}
	for _, d := range dirs {
		roots[d] = listDir(d)
	}
	return roots
}

// Every bad-* fixture is refused with exit 125, a "sandbox: error:" message
// containing the substring README.md lists, and nothing created on disk.
func TestBadManifestsAreRefused(t *testing.T) {
	fixtures := badFixtures(t)
	names := make([]string, 0, len(fixtures))
	for n := range fixtures {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, modeName := range modeNames {
		t.Run(modeName, func(t *testing.T) {
			m := setupMode(t, modeName)
			for i, name := range names {
				t.Run(name, func(t *testing.T) {
					c := newCase(t, m, "bad"+itoa(uint32(i)))
					data, err := os.ReadFile(filepath.Join(fixturesDir, name))
					if err != nil {
						t.Fatal(err)
					}
					// The checkout may not be readable by the test uid.
					path := c.writeFile(name, data)
					roots := c.stateRoots()
					r := c.run(path, runOpts{timeout: 20 * time.Second})
					c.expectCode(r, 125)
					c.expectStderr(r, "sandbox: error: ")
					if want := fixtures[name]; want != "" {
						c.expectStderr(r, want)
					} else {
						t.Logf("testdata/pods/README.md lists no expected message for %s", name)
					}
					if r.stdout != "" {
						t.Errorf("stdout is not empty\n%s", r)
					}
					c.expectNothingCreated(roots)
				})
			}
		})
	}
}

// B-19: a manifest path that is a FIFO, a device or a directory is refused
// quickly (stat first, then a limited read), not read forever.
func TestManifestPathNotARegularFile(t *testing.T) {
	cases := []struct {
		name string
		path func(c *tcase) string
	}{
		{"fifo", func(c *tcase) string {
			p := filepath.Join(c.dir, "pod.json")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				c.t.Fatal(err)
			}
			c.chown(p)
			return p
		}},
		{"dev-zero", func(*tcase) string { return "/dev/zero" }},
		{"directory", func(c *tcase) string { return c.dir }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forModes(t, "b19-"+tc.name, func(t *testing.T, c *tcase) {
				roots := c.stateRoots()
				r := c.run(tc.path(c), runOpts{timeout: 15 * time.Second})
				c.expectCode(r, 125)
				c.expectStderr(r, "sandbox: error: ", "expected a regular file")
				c.expectNothingCreated(roots)
			})
		})
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
