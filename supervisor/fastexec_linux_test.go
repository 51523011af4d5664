package supervisor

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/podsandbox/sandbox/execin"
	"github.com/podsandbox/sandbox/internal/state"
)

// fastEntry is one container of an encoded fast exec file.
type fastEntry struct {
	flags      byte
	name, dir  string
	pid        uint32
	start, bnd uint64
	prog       []byte
}

// decodeFastExec reads what encodeFastExec wrote, as nsenter/fastexec.c
// does, failing t on anything out of place.
func decodeFastExec(t *testing.T, b []byte) (flags byte, supPID uint32, supStart uint64, out []fastEntry) {
	flags, supPID, supStart, _, out = decodeFastExecCgroups(t, b)
	return
}

func decodeFastExecCgroups(t *testing.T, b []byte) (flags byte, supPID uint32, supStart uint64, cgroups []string, out []fastEntry) {
	t.Helper()
	ne := binary.NativeEndian
	if len(b) < 28 || string(b[:4]) != "SBFX" || b[4] != FastExecVersion || b[6] != 0 || b[7] != 0 || string(b[len(b)-4:]) != "XFBS" {
		t.Fatalf("bad header or trailer: %q", b)
	}
	flags, supPID, supStart = b[5], ne.Uint32(b[8:]), ne.Uint64(b[16:])
	n := ne.Uint32(b[12:])
	at := 24
	ncg := ne.Uint32(b[at:])
	at += 4
	for range ncg {
		l := int(ne.Uint32(b[at:]))
		cgroups = append(cgroups, string(b[at+4:at+4+l]))
		at += 4 + l
	}
	for range n {
		h := b[at : at+32]
		e := fastEntry{flags: h[0], pid: ne.Uint32(h[4:]), start: ne.Uint64(h[8:]), bnd: ne.Uint64(h[16:])}
		nl, dl, pl := int(ne.Uint16(h[2:])), int(ne.Uint32(h[24:])), int(ne.Uint32(h[28:]))
		at += 32
		e.name, e.dir, e.prog = string(b[at:at+nl]), string(b[at+nl:at+nl+dl]), b[at+nl+dl:at+nl+dl+pl]
		at += nl + dl + pl
		out = append(out, e)
	}
	if at != len(b)-4 {
		t.Fatalf("%d bytes left over", len(b)-4-at)
	}
	return
}

func TestEncodeFastExec(t *testing.T) {
	rec := &state.Record{
		Supervisor: state.Process{PID: 42, StartTime: 4242},
		Phase:      state.PhaseRunning,
		Containers: []state.ContainerStatus{
			{Name: "prep", Init: true, State: state.StateTerminated, Process: state.Process{PID: 7, StartTime: 70}},
			{Name: "main", State: state.StateRunning, Process: state.Process{PID: 8, StartTime: 80}},
			{Name: "plain", State: state.StateRunning, Process: state.Process{PID: 9, StartTime: 90}},
			{Name: "nul", State: state.StateRunning, Process: state.Process{PID: 10, StartTime: 100}},
			{Name: "utf8", State: state.StateRunning, Process: state.Process{PID: 11, StartTime: 110}},
			{Name: "waiting", State: state.StateWaiting},
			{Name: "unknown", State: state.StateRunning, Process: state.Process{PID: 12, StartTime: 120}},
		},
	}
	sec := map[string]fastSecurity{
		"prep": {bounding: 0x800405fb, seccomp: true}, "main": {bounding: 0x800405fb, seccomp: true},
		"plain": {bounding: 0xff}, "nul": {}, "utf8": {}, "waiting": {},
	}
	dirs := map[string]string{"main": "/tmp", "nul": "/a\x00b", "utf8": "/\xff"}
	flags, pid, start, got := decodeFastExec(t, encodeFastExec(rec, sec, dirs))
	if flags != 0 || pid != 42 || start != 4242 || len(got) != 7 {
		t.Fatalf("header: flags %d pid %d start %d, %d containers", flags, pid, start, len(got))
	}
	want := []fastEntry{
		{flags: fastInit, name: "prep", pid: 7, start: 70, bnd: 0x800405fb}, // not running: no program
		{flags: fastRunning | fastSeccomp, name: "main", dir: "/tmp", pid: 8, start: 80, bnd: 0x800405fb},
		{flags: fastRunning, name: "plain", pid: 9, start: 90, bnd: 0xff},
		{flags: fastRunning | fastGoOnly, name: "nul", pid: 10, start: 100},
		{flags: fastRunning | fastGoOnly, name: "utf8", pid: 11, start: 110},
		{flags: 0, name: "waiting"},
		{flags: 0, name: "unknown", pid: 12, start: 120}, // never started by this supervisor
	}
	// The program the Go path's exec loads for that bounding set.
	prog, err := execin.SeccompProgram(0x800405fb)
	if err != nil || len(prog) == 0 || len(prog)%8 != 0 {
		t.Fatalf("seccomp program: %d bytes, %v", len(prog), err)
	}
	for i, w := range want {
		g := got[i]
		if g.flags != w.flags || g.name != w.name || g.dir != w.dir || g.pid != w.pid || g.start != w.start || g.bnd != w.bnd {
			t.Errorf("container %d: got %+v, want %+v", i, g, w)
		}
		if wantProg := w.flags&fastSeccomp != 0; wantProg != (len(g.prog) > 0) || wantProg && !bytes.Equal(g.prog, prog) {
			t.Errorf("container %s: program of %d bytes", g.name, len(g.prog))
		}
	}

	rec.Phase = state.PhaseSucceeded
	if flags, _, _, _ := decodeFastExec(t, encodeFastExec(rec, sec, dirs)); flags != fastPodEnded {
		t.Errorf("ended pod: flags %d", flags)
	}

	// The pod's cgroup directories, in the record's order: an exec joins
	// its container's leaf below each.
	rec.Cgroups = []string{"/sys/fs/cgroup/pids/sandbox-x", "/sys/fs/cgroup/memory/p/sandbox-x"}
	_, _, _, cgs, got2 := decodeFastExecCgroups(t, encodeFastExec(rec, sec, dirs))
	if !slices.Equal(cgs, rec.Cgroups) || len(got2) != len(want) {
		t.Errorf("cgroups %q (%d containers), want %q", cgs, len(got2), rec.Cgroups)
	}
}
