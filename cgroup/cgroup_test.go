package cgroup

import (
	"reflect"
	"strings"
	"testing"
)

// hybridMountinfo is this project's CI machine kind: v1 hierarchies under
// /sys/fs/cgroup and v2 at /sys/fs/cgroup/unified.
const hybridMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 /nested /mnt/cg\040x rw - cgroup2 cgroup2 rw
`

func TestParseMountinfo(t *testing.T) {
	m, err := ParseMountinfo(strings.NewReader(hybridMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if m.Unified == nil || m.Unified.Point != "/sys/fs/cgroup/unified" {
		t.Fatalf("unified %+v, want the first cgroup2 mount", m.Unified)
	}
	want := map[string]Mount{
		"cpu": {"/sys/fs/cgroup/cpu", "/"}, "memory": {"/sys/fs/cgroup/memory", "/"},
		"pids": {"/sys/fs/cgroup/pids", "/"}, "name=systemd": {"/sys/fs/cgroup/systemd", "/"},
	}
	if !reflect.DeepEqual(m.V1, want) {
		t.Errorf("v1 %v, want %v", m.V1, want)
	}
	if m.Mode() != ModeHybrid {
		t.Errorf("mode %v, want hybrid", m.Mode())
	}
	for text, mode := range map[string]Mode{
		"41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n":                    ModeUnified,
		"40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n": ModeNone,
		"35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n":        ModeLegacy,
		"": ModeNone,
	} {
		m, _ := ParseMountinfo(strings.NewReader(text))
		if m.Mode() != mode {
			t.Errorf("%q: mode %v, want %v", text, m.Mode(), mode)
		}
	}
	m, _ = ParseMountinfo(strings.NewReader("42 31 0:39 /nested /mnt/cg\\040x rw - cgroup2 cgroup2 rw\n"))
	if m.Unified.Point != "/mnt/cg x" || m.Unified.Dir("/nested/a") != "/mnt/cg x/a" {
		t.Errorf("escaped mountpoint with a root: %+v, Dir %q", m.Unified, m.Unified.Dir("/nested/a"))
	}
}

func TestParseProcCgroup(t *testing.T) {
	m, err := ParseProcCgroup(strings.NewReader("9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/x:y\n0::/user.slice/a\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Membership{Unified: "/user.slice/a", V1: map[string]string{"name=systemd": "/", "memory": "/process_api/abc", "cpu": "/x:y", "cpuacct": "/x:y"}}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

func TestMountDir(t *testing.T) {
	for _, tc := range []struct{ root, p, want string }{
		{"/", "/a/b", "/sys/fs/cgroup/memory/a/b"},
		{"/", "/", "/sys/fs/cgroup/memory"},
		{"/docker/x", "/docker/x/a", "/sys/fs/cgroup/memory/a"},
		{"/docker/x", "/docker/xy", "/sys/fs/cgroup/memory/docker/xy"},
		{"/", "/../../etc", "/sys/fs/cgroup/memory/etc"},
	} {
		if got := (Mount{Point: "/sys/fs/cgroup/memory", Root: tc.root}).Dir(tc.p); got != tc.want {
			t.Errorf("root %s, path %s: %s, want %s", tc.root, tc.p, got, tc.want)
		}
	}
}

func TestKubeletConversions(t *testing.T) {
	for _, tc := range []struct {
		milli        int64
		quota        int64
		shares, wght uint64
	}{
		{0, 0, 0, 0},
		{1, 1000, 2, 1},
		{250, 25000, 256, 10},
		{500, 50000, 512, 20},
		{1000, 100000, 1024, 39},
		{2000, 200000, 2048, 79},
		{1000000, 100000000, 262144, 10000},
	} {
		q, period := CPUQuota(tc.milli)
		if q != tc.quota || (q > 0 && period != QuotaPeriod) {
			t.Errorf("CPUQuota(%d) = %d/%d, want %d", tc.milli, q, period, tc.quota)
		}
		if s := CPUShares(tc.milli); s != tc.shares {
			t.Errorf("CPUShares(%d) = %d, want %d", tc.milli, s, tc.shares)
		}
		if w := SharesToWeight(tc.shares); w != tc.wght {
			t.Errorf("SharesToWeight(%d) = %d, want %d", tc.shares, w, tc.wght)
		}
	}
}

func TestLimitsControllers(t *testing.T) {
	if c := (Limits{}).Controllers(); len(c) != 0 {
		t.Errorf("no limits need %v", c)
	}
	got := Limits{MemoryBytes: 1, CPUShares: 2, Pids: 3}.Controllers()
	if !reflect.DeepEqual(got, []string{Memory, CPU, Pids}) {
		t.Errorf("got %v", got)
	}
}

func TestParseOOMKills(t *testing.T) {
	for text, want := range map[string]uint64{
		"low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n": 1, // v2 memory.events
		"oom_kill_disable 0\nunder_oom 0\noom_kill 7\n":               7, // v1 memory.oom_control
	} {
		if n, ok := ParseOOMKills(strings.NewReader(text)); !ok || n != want {
			t.Errorf("%q: %d %v, want %d", text, n, ok, want)
		}
	}
	if _, ok := ParseOOMKills(strings.NewReader("oom_kill_disable 0\n")); ok {
		t.Error("a file without oom_kill gave a count")
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"sandbox-web": true, "_pause": true, "": false, ".": false, "..": false,
		"a/b": false, "cgroup.procs": false, "a\nb": false, strings.Repeat("a", 256): false,
	} {
		if ValidName(name) != want {
			t.Errorf("ValidName(%q) = %v", name, !want)
		}
	}
}
