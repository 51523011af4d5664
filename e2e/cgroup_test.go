package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podsandbox/sandbox/cgroup"
	"github.com/podsandbox/sandbox/internal/testutil"
)

// Resource limits with cgroups (issue 6). As root the pod gets cgroup v1
// (this machine kind mounts the controllers there); rootless, a cgroup v2
// subtree the test delegates. Every case checks that no cgroup of the pod
// is left.

type resources struct {
	Limits   map[string]string `json:"limits,omitempty"`
	Requests map[string]string `json:"requests,omitempty"`
}

// cgroupHost is what the tests need to know about the machine's cgroups.
type cgroupHost struct {
	mounts cgroup.Mounts
	self   cgroup.Membership
}

func readCgroupHost(t *testing.T) cgroupHost {
	t.Helper()
	mf, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	m, err := cgroup.ParseMountinfo(mf)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := os.Open("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	self, err := cgroup.ParseProcCgroup(cf)
	if err != nil {
		t.Fatal(err)
	}
	return cgroupHost{mounts: m, self: self}
}

// requireV1Root skips (fails under CI) unless the test runs as root with
// the v1 controllers the case needs.
func requireV1Root(t *testing.T, controllers ...string) cgroupHost {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.SkipOrFailUnlessCI(t, "cgroup v1 limits need root (hack/test.sh runs the tests with sudo)")
	}
	h := readCgroupHost(t)
	for _, c := range controllers {
		if _, ok := h.mounts.V1[c]; !ok {
			testutil.SkipOrFailUnlessCI(t, fmt.Sprintf("no cgroup v1 %s controller is mounted (this test needs the %s hierarchy)", c, c))
		}
	}
	return h
}

// v1Leaf is the directory of the pod's leaf for container in hierarchy
// sub, for a sandbox that runs in the test's own cgroup.
func (h cgroupHost) v1Leaf(sub, pod, container string) string {
	return filepath.Join(h.mounts.V1[sub].Dir(h.self.V1[sub]), cgroup.NamePrefix+pod, container)
}

// checkNoCgroupLeft fails if any cgroup named after the pod is left in any
// hierarchy.
func checkNoCgroupLeft(t *testing.T, pod string) {
	t.Helper()
	h := readCgroupHost(t)
	points := map[string]bool{}
	if h.mounts.Unified != nil {
		points[h.mounts.Unified.Point] = true
	}
	for _, m := range h.mounts.V1 {
		points[m.Point] = true
	}
	name := cgroup.NamePrefix + pod
	for p := range points {
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if d.Name() == name {
				t.Errorf("leak: cgroup %s is left after the run", path)
				return filepath.SkipDir
			}
			return nil
		})
	}
}

func (c *tcase) cgroupCase() {
	c.t.Cleanup(func() { checkNoCgroupLeft(c.t, c.pod) })
}

func TestCgroupMemoryLimitOOMKillsAndIsReportedOOMKilled(t *testing.T) {
	requireV1Root(t, "memory")
	onlyMode(t, "root", "oom", func(t *testing.T, c *tcase) {
		c.cgroupCase()
		hog := container{Name: "hog", Command: []string{"/bin/sh", "-c", "echo start; exec tail /dev/zero"}}
		p := c.newPod(hog, sh("calm", "sleep 0.2; echo calm done"))
		manifest := c.writeWithResources(p, map[string]resources{"hog": {Limits: map[string]string{"memory": "64Mi"}}}, nil)
		r := c.run(manifest, runOpts{})
		c.expectCode(r, 137)
		c.expectStderr(r, `sandbox: error: container "hog" was OOMKilled (memory limit 64Mi)`)
		c.expectStdout(r, "calm done")
	})
}

func TestCgroupPidsLimitMakesForkFail(t *testing.T) {
	requireV1Root(t, "pids")
	onlyMode(t, "root", "pids", func(t *testing.T, c *tcase) {
		c.cgroupCase()
		// v1 counts threads: the container's Go init uses several before it
		// execs the shell, the pause one. dash exits 2 when a fork fails.
		script := `echo start; i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done; echo spawned all; kill $(jobs -p); exit 0`
		p := c.newPod(sh("forker", script))
		manifest := c.writeWithResources(p, nil, map[string]string{"sandbox.podsandbox.dev/pids-limit": "1000"})
		r := c.run(manifest, runOpts{flags: []string{"--pids-limit", "32"}})
		c.expectCode(r, 2)
		c.expectStdout(r, "start")
		c.expectNoStdout(r, "spawned all")
		c.expectStderr(r, "Cannot fork")
		// The annotation's 1000 is enough for 60 processes.
		r = c.run(manifest, runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "spawned all")
	})
}

func TestCgroupCPUQuotaThrottles(t *testing.T) {
	h := requireV1Root(t, "cpu", "memory")
	onlyMode(t, "root", "cpu", func(t *testing.T, c *tcase) {
		c.cgroupCase()
		script := `end=$(($(date +%s) + 2)); while [ $(date +%s) -lt $end ]; do :; done; echo busy done; exec sleep 60`
		p := c.newPod(sh("busy", script), sh("idle", "echo idle ready; exec sleep 60"))
		manifest := c.writeWithResources(p, map[string]resources{
			"busy": {Limits: map[string]string{"cpu": "100m", "memory": "128Mi"}, Requests: map[string]string{"cpu": "50m"}},
			"idle": {Limits: map[string]string{"cpu": "200m", "memory": "64Mi"}},
		}, nil)
		pr := c.start(manifest, runOpts{})
		pr.waitOutput("busy done", 30*time.Second)
		leaf := h.v1Leaf("cpu", c.pod, "busy")
		stat := readKV(t, filepath.Join(leaf, "cpu.stat"))
		if stat["nr_throttled"] == 0 {
			// On a loaded host the group (cpu.shares 51) may never get its
			// quota's worth of CPU in a period, so it is never throttled:
			// then it must at least have used no more than the quota allows
			// (0.2 s in 2 s; without the quota an idle host gives it ~2 s).
			if used := cgroupCPUSeconds(t, leaf); used > 0.35 {
				t.Errorf("%s/cpu.stat: nr_throttled is 0 after 2 s of busy loop with limits.cpu 100m, and it used %.2f s of CPU: %v", leaf, used, stat)
			}
		}
		for file, want := range map[string]string{
			filepath.Join(leaf, "cpu.cfs_quota_us"):                                                 "10000",
			filepath.Join(leaf, "cpu.cfs_period_us"):                                                "100000",
			filepath.Join(leaf, "cpu.shares"):                                                       "51",
			filepath.Join(filepath.Dir(leaf), "cpu.cfs_quota_us"):                                   "30000", // the pod: the sum
			filepath.Join(h.v1Leaf("memory", c.pod, "idle"), "memory.limit_in_bytes"):               strconv.Itoa(64 << 20),
			filepath.Join(filepath.Dir(h.v1Leaf("memory", c.pod, "idle")), "memory.limit_in_bytes"): strconv.Itoa(192 << 20),
		} {
			if got := readTrim(t, file); got != want {
				t.Errorf("%s = %s, want %s", file, got, want)
			}
		}
		pr.signal(syscall.SIGTERM)
		r := pr.wait()
		c.expectCode(r, 128+int(syscall.SIGTERM))
	})
}

func TestCgroupStrictRefusesLimitsThatCannotBeEnforced(t *testing.T) {
	// Rootless on this machine kind (v1 controllers, v2 without them),
	// memory cannot be limited: --strict must fail before anything runs.
	forModes(t, "strict", func(t *testing.T, c *tcase) {
		c.cgroupCase()
		if c.m.isRoot() {
			t.Skip("as root the limits are enforced (cgroup v1)")
		}
		p := c.newPod(sh("main", "echo ran"))
		manifest := c.writeWithResources(p, map[string]resources{"main": {Limits: map[string]string{"memory": "64Mi"}}}, nil)
		r := c.run(manifest, runOpts{flags: []string{"--strict"}})
		c.expectCode(r, 125)
		c.expectStderr(r, "resource limits not enforced", "spec.containers[0].resources.limits.memory", "--strict")
		c.expectNoStdout(r, "ran")
		r = c.run(manifest, runOpts{})
		c.expectCode(r, 0)
		c.expectStderr(r, "sandbox: warning: resource limits not enforced", "spec.containers[0].resources.limits.memory")
		c.expectStdout(r, "ran")
	})
}

// TestCgroupRootlessDelegatedV2 delegates a fresh cgroup v2 subtree to the
// unprivileged test user, as systemd's Delegate=yes would, and starts
// sandbox inside it: per-container leaves, teardown by cgroup.kill, the
// warning for limits v2 cannot enforce here (no controllers), and the
// cleanup of a supervisor killed with SIGKILL.
func TestCgroupRootlessDelegatedV2(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("delegating a cgroup v2 subtree to the test user needs root (hack/test.sh runs the tests with sudo)")
	}
	h := readCgroupHost(t)
	if h.mounts.Unified == nil {
		testutil.SkipOrFailUnlessCI(t, "no cgroup v2 hierarchy is mounted")
	}
	onlyMode(t, "rootless-subuid", "v2", func(t *testing.T, c *tcase) {
		c.cgroupCase()
		deleg := delegateSubtree(t, h, c.m.uid, c.m.gid)
		p := c.newPod(sh("a", "echo a ready; exec sleep 60"), sh("b", "echo b ready; sleep 60 & wait"))
		manifest := c.writeWithResources(p, map[string]resources{"a": {Limits: map[string]string{"memory": "64Mi", "cpu": "1"}}}, nil)
		pr := c.startInCgroup(manifest, deleg)
		pr.waitOutput("a ready", 30*time.Second)
		pr.waitOutput("b ready", 30*time.Second)
		podDir := filepath.Join(deleg, cgroup.NamePrefix+c.pod)
		for _, leaf := range []string{"a", "b", "_pause"} {
			if procs := readTrim(t, filepath.Join(podDir, leaf, "cgroup.procs")); procs == "" {
				t.Errorf("leaf %s/%s has no process while the pod runs", podDir, leaf)
			}
		}
		if procs := readTrim(t, filepath.Join(podDir, "cgroup.procs")); procs != "" {
			t.Errorf("the pod cgroup itself holds processes %q: they belong in leaves", procs)
		}
		pr.signal(syscall.SIGTERM)
		r := pr.wait()
		c.expectCode(r, 128+int(syscall.SIGTERM))
		c.expectStderr(r, "sandbox: warning: resource limits not enforced",
			"spec.containers[0].resources.limits.memory", "spec.containers[0].resources.limits.cpu", "Delegate=yes")
		if _, err := os.Stat(podDir); err == nil {
			t.Errorf("pod cgroup %s left after the pod ended", podDir)
		}

		// kill -9 of the supervisor: the next run of the pod removes what
		// the dead one left.
		pr = c.startInCgroup(manifest, deleg)
		pr.waitOutput("b ready", 30*time.Second)
		pr.signal(syscall.SIGKILL)
		pr.wait()
		if _, err := os.Stat(podDir); err != nil {
			t.Errorf("after kill -9 of the supervisor the pod cgroup should still exist until cleanup: %v", err)
		}
		short := c.newPod(sh("a", "echo short"))
		r = c.runInCgroup(c.write(short), deleg)
		c.expectCode(r, 0)
		c.expectStderr(r, "cleaned stale state")
		if _, err := os.Stat(podDir); err == nil {
			t.Errorf("pod cgroup %s left after the stale cleanup and a second run", podDir)
		}
	})
}

// delegateSubtree creates a uniquely named cgroup v2 directory below the
// test's own cgroup and hands it to uid like systemd's Delegate=yes (the
// directory, cgroup.procs, cgroup.subtree_control, cgroup.threads). It is
// removed when the test ends, after killing what the test started in it.
func delegateSubtree(t *testing.T, h cgroupHost, uid, gid uint32) string {
	t.Helper()
	dir := filepath.Join(h.mounts.Unified.Dir(h.self.Unified), "sandbox-e2e-deleg-"+runID+"-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		testutil.SkipOrFailUnlessCI(t, fmt.Sprintf("cannot create a cgroup v2 subtree to delegate: %v", err))
	}
	t.Cleanup(func() {
		// Only our subtree: kill what is left in it (sandbox processes
		// this test started), then remove it, deepest first.
		deadline := time.Now().Add(5 * time.Second)
		for {
			os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
			err := rmdirAll(dir)
			if err == nil || time.Now().After(deadline) {
				if err != nil {
					t.Errorf("remove delegated subtree %s: %v", dir, err)
				}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	for _, p := range []string{dir, filepath.Join(dir, "cgroup.procs"), filepath.Join(dir, "cgroup.subtree_control"), filepath.Join(dir, "cgroup.threads")} {
		if err := os.Chown(p, int(uid), int(gid)); err != nil {
			t.Fatalf("delegate %s: %v", p, err)
		}
	}
	return dir
}

func rmdirAll(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return syscall.Rmdir(dir)
}

// startInCgroup is c.start with the sandbox process born in cgroup dir
// (CLONE_INTO_CGROUP), as a delegated service's process would be.
func (c *tcase) startInCgroup(manifest, dir string) *proc {
	c.t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := c.sandboxCmd(nil, nil, "run", manifest)
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	return c.launch(cmd, 0)
}

func (c *tcase) runInCgroup(manifest, dir string) result {
	c.t.Helper()
	return c.startInCgroup(manifest, dir).wait()
}

// writeWithResources writes p with resources per container name and pod
// annotations: the harness's manifest types have neither.
func (c *tcase) writeWithResources(p *podManifest, res map[string]resources, annotations map[string]string) string {
	c.t.Helper()
	type containerWithResources struct {
		container
		Resources *resources `json:"resources,omitempty"`
	}
	var cs []containerWithResources
	for _, ct := range p.Spec.Containers {
		cr := containerWithResources{container: ct}
		if r, ok := res[ct.Name]; ok {
			cr.Resources = &r
		}
		cs = append(cs, cr)
	}
	doc := map[string]any{
		"apiVersion": p.APIVersion,
		"kind":       p.Kind,
		"metadata":   map[string]any{"name": p.Metadata.Name, "annotations": annotations},
		"spec": map[string]any{
			"containers":                    cs,
			"restartPolicy":                 p.Spec.RestartPolicy,
			"terminationGracePeriodSeconds": p.Spec.TerminationGracePeriodSeconds,
		},
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	return c.writeFile(fmt.Sprintf("pod-%d.json", c.n), data)
}

func readTrim(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Errorf("%v", err)
		return ""
	}
	return strings.TrimSpace(string(data))
}

// cgroupCPUSeconds is the CPU time (user+system, children included) of the
// processes in v1 cgroup leaf, from /proc/PID/stat (exec keeps it).
func cgroupCPUSeconds(t *testing.T, leaf string) float64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(leaf, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var ticks uint64
	for _, pid := range strings.Fields(string(data)) {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue // gone
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime (fields 14-17)
			n, _ := strconv.ParseUint(f[i], 10, 64)
			ticks += n
		}
	}
	return float64(ticks) / 100 // USER_HZ
}

func readKV(t *testing.T, file string) map[string]uint64 {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if n, err := strconv.ParseUint(v, 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}
