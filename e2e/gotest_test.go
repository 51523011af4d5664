package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// adhoc runs `sandbox run --name <pod> [flags] -- argv...` in dir.
func (c *tcase) adhoc(flags []string, argv []string, o runOpts) result {
	c.t.Helper()
	args := append([]string{"run", "--name", c.pod}, flags...)
	args = append(append(args, "--"), argv...)
	return c.startArgs(args, o).wait()
}

// workDir is a directory the mode's uid owns, to run commands in.
func (c *tcase) workDir() string {
	dir := filepath.Join(c.dir, "work")
	if err := os.Mkdir(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	c.chown(dir)
	return dir
}

func TestRunCommandAdHoc(t *testing.T) {
	forModes(t, "adhoc", func(t *testing.T, c *tcase) {
		work := c.workDir()
		canary := c.writeFile("host-tmp-canary", []byte("x")) // in the host's /tmp
		r := c.adhoc(nil, []string{"sh", "-c", `id -u; cat /proc/1/comm; cat /proc/sys/kernel/hostname; pwd; touch made-inside; ls /sys/class/net; cat ` + canary + ` 2>/dev/null || echo private-tmp`}, runOpts{dir: work})
		c.expectCode(r, 0)
		c.expectStdout(r, "0\npause\n"+c.pod+"\n"+work+"\nlo\nprivate-tmp\n")
		if _, err := os.Stat(filepath.Join(work, "made-inside")); err != nil {
			t.Errorf("the working directory is not the caller's, writable: %v", err)
		}
		if r.stderr != "" {
			t.Errorf("stderr not empty (output must pass through untouched): %q", r.stderr)
		}
	})
}

func TestRunCommandPassesStdioAndExitCodes(t *testing.T) {
	forModes(t, "adhoc-io", func(t *testing.T, c *tcase) {
		work := c.workDir()
		r := c.adhoc(nil, []string{"sh", "-c", "tr a-z A-Z; echo err >&2; exit 7"}, runOpts{dir: work, stdin: "hello\n"})
		c.expectCode(r, 7)
		if r.stdout != "HELLO\n" || r.stderr != "err\n" {
			t.Errorf("stdout %q stderr %q, want them untouched", r.stdout, r.stderr)
		}
		r = c.adhoc(nil, []string{"sh", "-c", "kill -TERM $$"}, runOpts{dir: work})
		c.expectCode(r, 143)
		r = c.adhoc(nil, []string{"no-such-command"}, runOpts{dir: work})
		c.expectCode(r, 127)
	})
}

func TestRunCommandTimeoutStopsAHangingCommand(t *testing.T) {
	forModes(t, "adhoc-timeout", func(t *testing.T, c *tcase) {
		r := c.adhoc([]string{"--timeout", "1s", "--grace", "1s"}, []string{"sleep", "1000"}, runOpts{dir: c.workDir()})
		c.expectCode(r, 124)
		c.expectStderr(r, "timed out after 1s")
	})
}

func TestRunCommandKeepID(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "adhoc-keepid", func(t *testing.T, c *tcase) {
			r := c.adhoc([]string{"--keep-id"}, []string{"sh", "-c", "id -u; id -g"}, runOpts{dir: c.workDir()})
			c.expectCode(r, 0)
			c.expectStdout(r, strings.Join([]string{itoa(c.m.uid), itoa(c.m.gid)}, "\n"))
		})
	}
}

// An ad-hoc run maps one id, like unshare -r and bwrap (no setuid helpers
// on its start path); --subids adds the subordinate range where the user
// has one, and says why not where they do not.
func TestRunCommandMapsOneIDUnlessSubids(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "adhoc-idmap", func(t *testing.T, c *tcase) {
			work := c.workDir()
			r := c.adhoc(nil, []string{"cat", "/proc/self/uid_map", "/proc/self/gid_map"}, runOpts{dir: work})
			c.expectCode(r, 0)
			if got := strings.Fields(r.stdout); !slices.Equal(got, []string{"0", itoa(c.m.uid), "1", "0", itoa(c.m.gid), "1"}) {
				t.Errorf("default ad-hoc maps: %q, want only 0 -> %d/%d", r.stdout, c.m.uid, c.m.gid)
			}
			r = c.adhoc([]string{"--subids", "-v"}, []string{"sh", "-ec", "cat /proc/self/uid_map; chown 1:1 .; stat -c %u:%g ."}, runOpts{dir: work})
			if name == "rootless-nosubuid" {
				c.expectCode(r, 1) // chown 1:1: uid 1 is not mapped
				c.expectStderr(r, "only container uid/gid 0 is mapped", "/etc/subuid")
				return
			}
			c.expectCode(r, 0)
			want := []string{"0", itoa(c.m.uid), "1", "1", itoa(c.m.subUID)}
			if got := strings.Fields(r.stdout); len(got) != 7 || !slices.Equal(got[:5], want) || got[6] != "1:1" {
				t.Errorf("--subids: %q, want the lines %q and 1:1", r.stdout, want)
			}
		})
	}
}

// goEnv is the environment for running go as the mode's uid on the vendored
// sample module: a private build cache, no network.
func (c *tcase) goEnv(dir string) []string {
	cache := filepath.Join(dir, ".gocache")
	return []string{"PATH=" + goBinDir() + ":" + hostPath, "HOME=" + dir, "GOCACHE=" + cache,
		"GOFLAGS=-mod=vendor", "GOPROXY=off", "GOTOOLCHAIN=local", "GOTELEMETRY=off", "XDG_RUNTIME_DIR=" + c.xdg}
}

func goBinDir() string {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "/usr/local/go/bin"
	}
	real, _ := filepath.EvalSymlinks(gobin)
	return filepath.Dir(real)
}

// sampleModule copies testdata/rootlike next to the case, points its replace
// directive at this checkout, vendors it (as root, from the module cache),
// and gives it to the mode's uid.
func (c *tcase) sampleModule() string {
	c.t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		c.t.Fatal(err)
	}
	dir := filepath.Join(c.dir, "rootlike")
	if err := os.Mkdir(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	for _, f := range []string{"go.mod", "rootlike_test.go"} {
		data, err := os.ReadFile(filepath.Join(repo, "testdata", "rootlike", f))
		if err != nil {
			c.t.Fatal(err)
		}
		if f == "go.mod" {
			data = []byte(strings.Replace(string(data), "=> ../..", "=> "+repo, 1))
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"mod", "tidy"}, {"mod", "vendor"}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			c.t.Fatalf("go %v in the sample module: %v\n%s", args, err, out)
		}
	}
	chownTree(c, dir)
	return dir
}

func chownTree(c *tcase, dir string) {
	if !c.m.drop {
		return
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(path, int(c.m.uid), int(c.m.gid))
		}
		return nil
	})
}

// goTest runs `go test args...` in the sample module as the mode's uid.
func (c *tcase) goTest(dir string, env []string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command("go", append([]string{"test"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(c.goEnv(dir), env...)
	cmd.SysProcAttr = c.asMode()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-done
		c.t.Fatalf("go test %v hung:\n%s", args, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("go test %v: %v", args, err)
	}
	return string(out), code
}

// TestGoTestExec is issue 8's contract: a package whose tests need root-like
// powers fails under plain `go test` as an unprivileged user and passes with
// `go test -exec 'sandbox run --'` and with package sandboxtest; -run and
// -count pass through; a hanging test is stopped by --timeout.
func TestGoTestExec(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "gotest", func(t *testing.T, c *tcase) {
			dir := c.sampleModule()
			out, code := c.goTest(dir, nil, "-count=1", ".")
			if code == 0 || !strings.Contains(out, "FAIL") {
				t.Fatalf("plain go test passed as uid %d; the sample must need root-like powers:\n%s", c.m.uid, out)
			}
			exec := "-exec=" + sandboxBin + " run --"
			out, code = c.goTest(dir, nil, exec, "-count=1", ".")
			if code != 0 || !strings.Contains(out, "ok  \texample.com/rootlike") {
				t.Fatalf("go test -exec 'sandbox run --' failed (exit %d):\n%s", code, out)
			}
			out, code = c.goTest(dir, nil, exec, "-run=TestBindsPort80", "-count=2", "-v", ".")
			if code != 0 || strings.Count(out, "--- PASS: TestBindsPort80") != 2 || strings.Contains(out, "TestMountsATmpfs") {
				t.Fatalf("-run/-count did not pass through (exit %d):\n%s", code, out)
			}
			out, code = c.goTest(dir, []string{"SANDBOXTEST=1"}, "-count=1", "-v", ".")
			if code != 0 || strings.Count(out, "--- PASS") < 4 {
				t.Fatalf("go test with sandboxtest failed (exit %d):\n%s", code, out)
			}
			// The test reads HANG: --env-host passes go test's environment on.
			out, code = c.goTest(dir, []string{"HANG=1"}, "-exec="+sandboxBin+" run --env-host --timeout 2s --grace 1s --", "-run=TestHangs", "-count=1", ".")
			if code == 0 || !strings.Contains(out, "timed out after 2s") {
				t.Fatalf("a hanging test was not stopped by --timeout (exit %d):\n%s", code, out)
			}
		})
	}
}

// run -- CMD --memory puts the command in a memory-limited cgroup leaf where
// cgroups allow (root on v1 here), and warns naming the limit otherwise.
func TestRunCommandMemoryLimit(t *testing.T) {
	forModes(t, "adhoc-mem", func(t *testing.T, c *tcase) {
		r := c.adhoc([]string{"--memory", "32Mi"}, []string{"sh", "-c", "grep :memory: /proc/self/cgroup"}, runOpts{dir: c.workDir()})
		c.expectCode(r, 0)
		if c.m.isRoot() {
			c.expectStdout(r, "/sandbox-"+c.pod+"/main")
			return
		}
		c.expectStderr(r, "resource limits not enforced", "limits.memory")
	})
}
