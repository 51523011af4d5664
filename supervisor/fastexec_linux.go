package supervisor

import (
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/execin"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

// The fast exec file is what `sandbox exec` reads from C, in the CLI's ELF
// constructor before the Go runtime starts (nsenter/fastexec.c): the part
// of the pod's record it needs, and what it cannot cheaply compute itself
// (each container's working directory, the seccomp program an exec'd
// command gets). It is written next to state.json, atomically, each time
// the record is saved, so it never says more than the record: a container
// that stopped or restarts is rewritten with it. state.json stays the
// source of truth for every Go command; the C falls back to the Go code on
// anything it does not find exactly as it expects.
//
// Layout (native byte order, both ends run on this machine):
//
//	header (24 bytes): "SBFX", u8 version (FastExecVersion), u8 flags
//	    (bit 0: the pod ended), u16 0, u32 supervisor pid, u32 number of
//	    containers, u64 supervisor start time (field 22 of /proc/PID/stat)
//	the pod's cgroup directories (state.Record.Cgroups; an exec joins its
//	    container's leaf below each, as cgroup.JoinLeaf does): u32 count,
//	    then per directory a u32 length and the path
//	per container, in the record's order (init containers first), a
//	    32-byte head: u8 flags (bit 0 init container, bit 1 running, bit 2
//	    seccomp program follows, bit 3 the C cannot exec in it), u8 0,
//	    u16 name length, u32 pid, u64 start time, u64 bounding set the
//	    program is for, u32 working directory length, u32 program length
//	    (bytes, struct sock_filter array); then the name, the working
//	    directory and the program
//	trailer: "XFBS"
const (
	FastExecFile    = "fastexec"
	FastExecVersion = 2
)

const (
	fastPodEnded = 1 << 0

	fastInit    = 1 << 0
	fastRunning = 1 << 1
	fastSeccomp = 1 << 2
	fastGoOnly  = 1 << 3
)

// fastSecurity is what a container's init applied that an exec copies:
// the bounding set and whether a seccomp filter runs.
type fastSecurity struct {
	bounding uint64
	seccomp  bool
}

// fastSecurityOf is the bounding set a container's process gets from its
// config: the configured capabilities the supervisor's own bounding set
// holds (the init can only drop).
func fastSecurityOf(sec *containerinit.Security) fastSecurity {
	if sec == nil {
		return fastSecurity{bounding: ownBounding()}
	}
	var mask uint64
	for _, name := range sec.Capabilities {
		if n := slices.Index(pod.CapabilityNames, name); n >= 0 && n < 64 {
			mask |= 1 << n
		}
	}
	return fastSecurity{bounding: mask & ownBounding(), seccomp: sec.Seccomp}
}

var ownBounding = sync.OnceValue(func() uint64 {
	var mask uint64
	for c := 0; c < 64; c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if err != nil {
			break
		}
		if in == 1 {
			mask |= 1 << c
		}
	}
	return mask
})

// seccompPrograms caches execin.SeccompProgram by bounding set.
var seccompPrograms sync.Map

func fastSeccompProgram(bounding uint64) []byte {
	if p, ok := seccompPrograms.Load(bounding); ok {
		return p.([]byte)
	}
	p, err := execin.SeccompProgram(bounding)
	if err != nil {
		return nil
	}
	seccompPrograms.Store(bounding, p)
	return p
}

// encodeFastExec encodes rec for nsenter/fastexec.c; sec has the running
// containers' security, workdir their working directories.
func encodeFastExec(rec *state.Record, sec map[string]fastSecurity, workdir map[string]string) []byte {
	ne := binary.NativeEndian
	out := []byte("SBFX")
	flags := byte(0)
	if rec.Ended() {
		flags |= fastPodEnded
	}
	out = append(out, FastExecVersion, flags, 0, 0)
	out = ne.AppendUint32(out, uint32(max(rec.Supervisor.PID, 0)))
	out = ne.AppendUint32(out, uint32(len(rec.Containers)))
	out = ne.AppendUint64(out, rec.Supervisor.StartTime)
	out = ne.AppendUint32(out, uint32(len(rec.Cgroups)))
	for _, dir := range rec.Cgroups {
		out = ne.AppendUint32(out, uint32(len(dir)))
		out = append(out, dir...)
	}
	for i := range rec.Containers {
		cs := &rec.Containers[i]
		var f byte
		if cs.Init {
			f |= fastInit
		}
		s, known := sec[cs.Name]
		if cs.State == state.StateRunning && cs.Process.PID > 0 && known {
			f |= fastRunning
		}
		var prog []byte
		if f&fastRunning != 0 && s.seccomp {
			if prog = fastSeccompProgram(s.bounding); prog == nil {
				f |= fastGoOnly
			} else {
				f |= fastSeccomp
			}
		}
		dir := workdir[cs.Name]
		// The Go path reads the working directory from the recorded
		// manifest, JSON, where invalid UTF-8 became U+FFFD.
		if strings.IndexByte(dir, 0) >= 0 || !utf8.ValidString(dir) || strings.IndexByte(cs.Name, 0) >= 0 || len(cs.Name) > 0xffff {
			f |= fastGoOnly
			dir = ""
		}
		name := cs.Name
		if len(name) > 0xffff {
			name = ""
		}
		out = append(out, f, 0)
		out = ne.AppendUint16(out, uint16(len(name)))
		out = ne.AppendUint32(out, uint32(max(cs.Process.PID, 0)))
		out = ne.AppendUint64(out, cs.Process.StartTime)
		out = ne.AppendUint64(out, s.bounding)
		out = ne.AppendUint32(out, uint32(len(dir)))
		out = ne.AppendUint32(out, uint32(len(prog)))
		out = append(out, name...)
		out = append(out, dir...)
		out = append(out, prog...)
	}
	return append(out, "XFBS"...)
}

// saveFastExec writes the fast exec file for the record (s.mu held). A
// failure removes it: `sandbox exec` then takes the Go path.
func (s *sandbox) saveFastExec() {
	workdir := map[string]string{}
	for _, c := range append(append([]pod.Container(nil), s.pod.Spec.InitContainers...), s.pod.Spec.Containers...) {
		if _, seen := workdir[c.Name]; !seen {
			workdir[c.Name] = c.WorkingDir
		}
	}
	data := encodeFastExec(&s.record, s.fastSec, workdir)
	path := s.state.Path(FastExecFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		os.Remove(path)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		os.Remove(path)
	}
}
