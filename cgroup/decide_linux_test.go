package cgroup

import (
	"strings"
	"testing"
)

func TestDecideWithoutCgroups(t *testing.T) {
	o := Options{Name: "sandbox-x", Need: []string{Memory, Pids}}
	p, err := decide(Mounts{}, Membership{}, 1000, o)
	if err != nil || p.Version != 0 || !strings.Contains(p.NoCgroup, "no cgroup filesystem") || len(p.Unavailable) != 2 {
		t.Errorf("no mounts: %+v %v", p, err)
	}
	legacy := Mounts{V1: map[string]Mount{"memory": {"/sys/fs/cgroup/memory", "/"}}}
	p, err = decide(legacy, Membership{V1: map[string]string{"memory": "/"}}, 1000, o)
	if err != nil || p.Version != 0 || !strings.Contains(p.Unavailable[Memory], "only root") || !strings.Contains(p.Unavailable[Memory], "Delegate=yes") {
		t.Errorf("rootless v1: %+v %v", p, err)
	}
}

func TestDecideRefusesBadParentOrName(t *testing.T) {
	for _, o := range []Options{{Name: "x"}, {Name: "sandbox-a/b"}, {Name: "sandbox-x", Parent: "rel"}, {Name: "sandbox-x", Parent: "/a/../b"}} {
		if _, err := Detect(o); err == nil {
			t.Errorf("Detect(%+v) accepted", o)
		}
	}
	if _, err := Detect(Options{Name: "sandbox-x", Parent: "/does-not-exist-" + t.Name()}); err == nil {
		t.Error("a missing --cgroup-parent was accepted")
	}
}

func TestRemoveStaleRefusesForeignPaths(t *testing.T) {
	for _, d := range []string{"/tmp/sandbox-x", "/sys/fs/cgroup/memory/user.slice", "relative/sandbox-x", "/sys/fs/cgroup/memory/../sandbox-x"} {
		if err := RemoveStale([]string{d}); err == nil {
			t.Errorf("RemoveStale(%s) accepted", d)
		}
	}
}
