package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/podsandbox/sandbox/internal/state"
)

func TestPodGraphSharedAndPrivate(t *testing.T) {
	host := map[string]uint64{"user": 1, "net": 2, "ipc": 3, "uts": 4, "pid": 5, "mnt": 6, "cgroup": 7}
	pause := map[string]uint64{"user": 11, "net": 12, "ipc": 13, "uts": 14, "pid": 15, "mnt": 6, "cgroup": 7}
	manifest, _ := json.Marshal(map[string]any{"spec": map[string]any{
		"shareProcessNamespace": false,
		"volumes":               []any{map[string]any{"name": "conf", "hostPath": map[string]any{"path": "/srv/conf"}}, map[string]any{"name": "scratch", "emptyDir": map[string]any{}}},
		"containers": []any{
			map[string]any{"name": "web", "ports": []any{map[string]any{"containerPort": 80, "hostPort": 8080}},
				"volumeMounts": []any{map[string]any{"name": "conf", "mountPath": "/etc/nginx", "readOnly": true}}},
			map[string]any{"name": "app"},
		},
	}})
	v := inspectView{Record: state.Record{Name: "lab", Phase: "Running", Manifest: manifest, Pause: state.Process{PID: 100}, Namespaces: pause}, PauseAlive: true}
	v.Containers = []containerView{
		{ContainerStatus: state.ContainerStatus{Name: "web", State: "Running", Process: state.Process{PID: 101},
			Namespaces: map[string]uint64{"user": 11, "net": 12, "ipc": 13, "uts": 14, "pid": 21, "mnt": 22, "cgroup": 7}}},
		{ContainerStatus: state.ContainerStatus{Name: "app", State: "Running", Process: state.Process{PID: 102},
			Namespaces: map[string]uint64{"user": 11, "net": 12, "ipc": 13, "uts": 14, "pid": 23, "mnt": 24, "cgroup": 7}}},
	}
	g := buildPodGraph(v, host)
	if buildPodGraph(inspectView{Record: v.Record, PodIP: "10.88.0.2"}, host).ipNote() != ", IP 10.88.0.2" {
		t.Error("the pod IP is not shown")
	}
	kinds := func(p graphProc) map[string]string {
		m := map[string]string{}
		for _, n := range p.ns {
			m[n.typ] = n.kind
		}
		return m
	}
	if k := kinds(g.procs[0]); k["net"] != nsPod || k["mnt"] != nsHost {
		t.Errorf("pause kinds %v", k)
	}
	if k := kinds(g.procs[1]); k["net"] != nsShared || k["pid"] != nsPrivate || k["mnt"] != nsPrivate || k["cgroup"] != nsHost {
		t.Errorf("web kinds %v", k)
	}

	var tree strings.Builder
	writeTree(&tree, g)
	for _, want := range []string{
		"pod lab (Running)",
		"├─ pause (pid 100, running)",
		"├─ container web (pid 101, Running)",
		"│    net    12           shared",
		"│    pid    21           private",
		"│    cgroup 7            host",
		"│    volume conf on /etc/nginx, read-only",
		"│    port   80/TCP, published on host 0.0.0.0:8080",
		"     conf           hostPath /srv/conf",
		"     scratch        emptyDir",
	} {
		if !strings.Contains(tree.String(), want) {
			t.Errorf("tree lacks %q:\n%s", want, tree.String())
		}
	}

	var dot strings.Builder
	writeDot(&dot, g)
	for _, want := range []string{
		`digraph "pod lab" {`,
		"proc_web -> ns_net_12 ",
		"proc_app -> ns_net_12 ",
		"proc_pause -> ns_net_12 ",
		`ns_pid_21 [shape=ellipse, style=filled, fillcolor="#fbe3a5", label="pid\n21\nprivate to web"]`,
		"vol_conf -> proc_web",
		`label="host 0.0.0.0:8080/TCP"`,
	} {
		if !strings.Contains(dot.String(), want) {
			t.Errorf("dot lacks %q:\n%s", want, dot.String())
		}
	}
	if err := checkInspectFormat("yaml"); err == nil {
		t.Error("--format yaml accepted")
	}
}
