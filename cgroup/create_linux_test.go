package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readTree returns every regular file below dir with its content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, p)
			files[rel] = string(data)
		}
		return nil
	})
	return files
}

func checkFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	for f, v := range want {
		if got[f] != v {
			t.Errorf("%s: got %q, want %q", f, got[f], v)
		}
	}
	for f, v := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("unexpected %s = %q", f, v)
		}
	}
}

// On a plain directory tree standing in for the cgroup filesystems, Create
// writes exactly the limit files (as containerd/cgroups did), and Place the
// pid in every hierarchy of the leaf.
func TestCreateV1Files(t *testing.T) {
	root := t.TempDir()
	p := &Plan{
		Version:     1,
		Unavailable: map[string]string{},
		opts:        Options{Name: "sandbox-t", Need: []string{Memory, CPU, Pids}},
		v1Root:      root,
		v1Parent:    map[string]string{Memory: "/p", CPU: "/p", "cpuacct": "/p", Pids: "/p", "freezer": "/p", "blkio": "/p"},
		v1Subs:      []string{Memory, CPU, "cpuacct", Pids, "freezer", "blkio"},
	}
	for _, sub := range p.v1Subs {
		if err := os.MkdirAll(filepath.Join(root, sub, "p"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cg, err := p.Create(Limits{MemoryBytes: 1 << 30, Pids: 100},
		map[string]Limits{"web": {MemoryBytes: 1 << 20, CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 512, Pids: 10}, "side": {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Place("web", 4242); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, readTree(t, root), map[string]string{
		"memory/p/sandbox-t/memory.limit_in_bytes":     "1073741824",
		"pids/p/sandbox-t/pids.max":                    "100",
		"memory/p/sandbox-t/web/memory.limit_in_bytes": "1048576",
		"cpu/p/sandbox-t/web/cpu.shares":               "512",
		"cpu/p/sandbox-t/web/cpu.cfs_period_us":        "100000",
		"cpu/p/sandbox-t/web/cpu.cfs_quota_us":         "50000",
		"pids/p/sandbox-t/web/pids.max":                "10",
		"memory/p/sandbox-t/web/cgroup.procs":          "4242",
		"cpu/p/sandbox-t/web/cgroup.procs":             "4242",
		"cpuacct/p/sandbox-t/web/cgroup.procs":         "4242",
		"pids/p/sandbox-t/web/cgroup.procs":            "4242",
		"freezer/p/sandbox-t/web/cgroup.procs":         "4242",
	})
	for _, d := range []string{"cpuacct/p/sandbox-t/side", "freezer/p/sandbox-t/side"} {
		if _, err := os.Stat(filepath.Join(root, d)); err != nil {
			t.Errorf("leaf directory: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "blkio/p/sandbox-t")); err == nil {
		t.Error("a hierarchy sandbox does not use got a directory")
	}
	if err := cg.Place("nope", 1); err == nil {
		t.Error("Place in an unknown leaf: no error")
	}
}

func TestCreateV2Files(t *testing.T) {
	mount := t.TempDir()
	if err := os.MkdirAll(filepath.Join(mount, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Plan{
		Version:     2,
		Unavailable: map[string]string{Pids: "no pids controller"},
		opts:        Options{Name: "sandbox-t", Need: []string{Memory, CPU, Pids}},
		mount:       mount,
		parent:      "/p",
	}
	cg, err := p.Create(Limits{MemoryBytes: 1 << 30, Pids: 100},
		map[string]Limits{"web": {MemoryBytes: 1 << 20, CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 1024, Pids: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cg.Place("web", 4242); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, readTree(t, mount), map[string]string{
		"p/sandbox-t/memory.max":             "1073741824",
		"p/sandbox-t/cgroup.subtree_control": "+memory +cpu",
		"p/sandbox-t/web/cpu.weight":         "39",
		"p/sandbox-t/web/cpu.max":            "50000 100000",
		"p/sandbox-t/web/memory.max":         "1048576",
		"p/sandbox-t/web/cgroup.procs":       "4242",
	})
	os.WriteFile(filepath.Join(mount, "p/sandbox-t/web/memory.current"), []byte("8192\n"), 0o644)
	os.WriteFile(filepath.Join(mount, "p/sandbox-t/web/cpu.stat"), []byte("usage_usec 7\nuser_usec 5\n"), 0o644)
	os.WriteFile(filepath.Join(mount, "p/sandbox-t/web/pids.current"), []byte("3\n"), 0o644)
	st, err := cg.Stats("web")
	if err != nil {
		t.Fatal(err)
	}
	if st != (Stats{MemoryBytes: 8192, CPUNanos: 7000, Pids: -1}) {
		t.Errorf("Stats: %+v", st)
	}
	if _, err := cg.Stats("gone"); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Stats of a missing leaf: %v", err)
	}
}

// JoinLeaf writes the PID into the leaf's cgroup.procs below every pod
// directory that has the leaf (a v1 hierarchy may lack it), and fails when
// none has.
func TestJoinLeafWritesEveryExistingLeaf(t *testing.T) {
	root := t.TempDir()
	withLeaf, withoutLeaf := filepath.Join(root, "pids", "pod"), filepath.Join(root, "memory", "pod")
	for _, d := range []string{filepath.Join(withLeaf, "main"), withoutLeaf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := JoinLeaf([]string{withLeaf, withoutLeaf}, "main", 4242); err != nil {
		t.Fatalf("JoinLeaf: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(withLeaf, "main", "cgroup.procs")); err != nil || string(got) != "4242" {
		t.Errorf("cgroup.procs: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(withoutLeaf, "main")); !os.IsNotExist(err) {
		t.Errorf("a leaf was made where there was none: %v", err)
	}
	if err := JoinLeaf([]string{withoutLeaf}, "main", 4242); err == nil {
		t.Error("JoinLeaf with no leaf anywhere: no error")
	}
}
