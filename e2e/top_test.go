package e2e

import (
	"encoding/json"
	"testing"
)

// sandbox top shows each container's usage from its cgroup leaf (root on
// this machine's v1 hierarchies) or, without a cgroup, the main process's
// RSS; inspect keeps the warning about limits that are not enforced.
func TestTopShowsUsagePerContainer(t *testing.T) {
	forModes(t, "top", func(t *testing.T, c *tcase) {
		p := c.newPod(sh("main", "echo up; while :; do sleep 0.1; done"))
		manifest := c.writeWithResources(p, map[string]resources{"main": {Limits: map[string]string{"memory": "64Mi", "cpu": "500m"}}}, nil)
		c.runDetached(manifest)
		defer c.sb("rm", "-f", c.pod)
		r := c.sb("top", "-o", "json", c.pod)
		c.expectCode(r, 0)
		var rows []struct {
			Container   string
			State       string
			PID         int
			MemoryBytes int64
			Pids        int64
			Source      string
		}
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) == 0 {
			t.Fatalf("top -o json: %v\n%s", err, r)
		}
		main := rows[0]
		if main.Container != "main" || main.State != "Running" || main.PID <= 0 || main.MemoryBytes <= 0 {
			t.Errorf("top row %+v: want main, Running, a pid and a memory figure\n%s", main, r)
		}
		if c.m.isRoot() {
			if main.Source != "cgroup" || main.Pids < 1 || len(rows) != 2 || rows[1].Container != "(pod)" {
				t.Errorf("as root on v1, top must read the leaf and the pod cgroup: %+v\n%s", rows, r)
			}
			return
		}
		if main.Source != "process" {
			t.Errorf("rootless without a delegated cgroup, top must fall back to the process: %+v", main)
		}
		c.expectStdout(c.sb("inspect", c.pod), "resource limits not enforced")
	})
}
