package supervisor

import (
	"encoding/json"
	"testing"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/rootfs"
)

// encodeConfig: JSON for an init started as the Go init; the C format for
// a simple config sent to the C init, with seccomp assembled here; 'G' and
// JSON when the C init was started for a config it cannot run.
func TestEncodeConfig(t *testing.T) {
	simple := &containerinit.Config{Name: "main", Argv: []string{"true"}, FS: rootfs.Spec{Scratch: "/s"},
		Security: &containerinit.Security{Capabilities: []string{"CHOWN"}, Seccomp: true}}
	sub := &containerinit.Config{Name: "main", Argv: []string{"true"}, FS: rootfs.Spec{Root: "/r",
		Binds: []rootfs.Bind{{Source: "/v", Destination: "/d", SubPath: "x"}}}}

	data, kind, err := encodeConfig(simple, false)
	if err != nil || kind != explainGoInit {
		t.Fatalf("Go init: %q, %v", kind, err)
	}
	var back containerinit.Config
	if err := json.Unmarshal(data, &back); err != nil || back.Name != "main" {
		t.Fatalf("Go init: not the JSON config: %v %q", err, data)
	}

	data, kind, err = encodeConfig(simple, true)
	if err != nil || kind != explainCInit || data[0] != containerinit.CModeC {
		t.Fatalf("C init: %q, %v, first byte %q", kind, err, data[:1])
	}
	prog, err := containerinit.SeccompProgram([]string{"CHOWN"})
	if err != nil {
		t.Fatal(err)
	}
	// The seccomp program is the last record before the empty 'Z' that ends the config.
	end := []byte{'Z', 0, 0, 0, 0}
	if string(data[len(data)-len(end):]) != string(end) {
		t.Error("C init: the config does not end with a 'Z' record")
	}
	if body := data[:len(data)-len(end)]; string(body[len(body)-len(prog):]) != string(prog) {
		t.Error("C init: the seccomp program is not the last record")
	}

	data, kind, err = encodeConfig(sub, true)
	if err != nil || kind != explainGoInit || data[0] != containerinit.CModeGo {
		t.Fatalf("fallback: %q, %v, first byte %q", kind, err, data[:1])
	}
	if err := json.Unmarshal(data[1:], &back); err != nil || back.FS.Binds[0].SubPath != "x" {
		t.Fatalf("fallback: not the JSON config after 'G': %v %q", err, data)
	}
}
