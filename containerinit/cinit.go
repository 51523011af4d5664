package containerinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/podsandbox/sandbox/pod"
)

// The C container init (nsenter/cinit.c) runs a simple container's init
// without starting the Go runtime. The supervisor decides which containers
// are simple (supervisor/cinit_linux.go), starts their join role with
// nsenter.EnvCInit=1, and sends the Config in the format EncodeC writes,
// which C reads without a JSON parser. The format is documented here and
// at the top of cinit.c; change both together and bump CFormatVersion.
//
//	byte 0    'C' (CModeC): records follow, the C init runs them;
//	          'G' (CModeGo): a JSON Config follows, for the Go init (the
//	          C init returns and the Go runtime reads the rest of the pipe).
//	records   until 'Z': tag (1 byte), length (uint32, native byte order),
//	          payload. 'V' (version, uint32) comes first; repeated tags
//	          append in order; 'Z' (empty) ends them.
//	EOF       the supervisor closes the pipe once the pod is ready (its
//	          pause non-dumpable, its network attached): the C init builds
//	          the container's filesystem before, and execs only after.
//
//	'V' uint32 version        'n' name             'a' argv element
//	'e' env element           'w' working dir      'R' become root
//	'H' pod hostname (Config.Pod)                  'L' Pod.HostNetwork
//	'r' FS.Root               'o' FS.ReadOnly      's' FS.Scratch
//	'm' FS.ShmDir             'k' mask path        'p' read-only path
//	'b' bind: byte read-only, source, NUL, destination
//	'S' security: uint32 uid, uint32 gid, uint64 capability mask (bit N is
//	    pod.CapabilityNames[N]), byte no_new_privs, uint32 number of
//	    capability names (for --explain)
//	'c' capability name, each of pod.CapabilityNames in order (bit N of
//	    the mask is the Nth), for the C init's messages
//	'g' supplementary groups, uint32 each
//	'F' seccomp: the BPF program (struct sock_filter array) of
//	    SeccompProgram, built by the supervisor
//	'X' exec into a running container (EncodeCExec): no rootfs, no pivot,
//	    no hostname; only 'a', 'e', 'w', 'I', 'g' and 'F' come with it
//	'I' identity (CIdentity): uint32 uid, uint32 gid, uint64 bounding,
//	    permitted, effective, inheritable and ambient capability masks,
//	    byte no_new_privs
const (
	CFormatVersion = 3
	CModeC         = 'C'
	CModeGo        = 'G'
)

// ErrNotSimple means a Config needs the Go init: the C init does not
// implement something it asks for.
var ErrNotSimple = errors.New("needs the Go container init")

// CSupports reports whether the C init can run cfg, and if not why.
func CSupports(cfg *Config) error {
	why := ""
	switch {
	case len(cfg.MakeTmpfs) > 0 || len(cfg.RemoveAll) > 0:
		why = "a volume helper"
	case cfg.FS.Overlay != nil:
		why = "an overlay root (stored image)"
	case len(cfg.Argv) == 0:
		why = "no argv"
	}
	for _, b := range cfg.FS.Binds {
		if b.SubPath != "" {
			why = "a subPath mount"
		} else if b.SourceFD > 0 {
			why = "a bind of a descriptor (Memory emptyDir)"
		}
	}
	if sec := cfg.Security; sec != nil && why == "" {
		for _, name := range sec.Capabilities {
			if !slices.Contains(pod.CapabilityNames, name) {
				why = fmt.Sprintf("unknown capability %q", name)
			}
		}
	}
	if why != "" {
		return fmt.Errorf("%w: %s", ErrNotSimple, why)
	}
	return nil
}

// EncodeC encodes cfg for the C init, starting with CModeC. seccomp is
// the BPF program (SeccompProgram) when cfg.Security.Seccomp is set.
func EncodeC(cfg *Config, seccomp []byte) ([]byte, error) {
	if err := CSupports(cfg); err != nil {
		return nil, err
	}
	if cfg.Security != nil && cfg.Security.Seccomp && len(seccomp) == 0 {
		return nil, errors.New("encode C init config: seccomp is set but no program was given")
	}
	var w cRecords
	rec, str := w.rec, w.str
	str('n', cfg.Name)
	for _, a := range cfg.Argv {
		str('a', a)
	}
	for _, e := range cfg.Env {
		str('e', e)
	}
	if cfg.WorkingDir != "" {
		str('w', cfg.WorkingDir)
	}
	if cfg.BecomeRoot {
		rec('R', nil)
	}
	if cfg.Pod != nil {
		str('H', cfg.Pod.Hostname)
		if cfg.Pod.HostNetwork {
			rec('L', nil)
		}
	}
	fs := &cfg.FS
	if fs.Root != "" {
		str('r', fs.Root)
	}
	if fs.ReadOnly {
		rec('o', nil)
	}
	if fs.Scratch != "" {
		str('s', fs.Scratch)
	}
	if fs.ShmDir != "" {
		str('m', fs.ShmDir)
	}
	for _, b := range fs.Binds {
		p := []byte{0}
		if b.ReadOnly {
			p[0] = 1
		}
		p = append(append(append(p, b.Source...), 0), b.Destination...)
		rec('b', p)
	}
	for _, m := range fs.MaskPaths {
		str('k', m)
	}
	for _, m := range fs.ReadonlyPaths {
		str('p', m)
	}
	if sec := cfg.Security; sec != nil {
		var mask uint64
		for _, name := range sec.Capabilities {
			mask |= 1 << slices.Index(pod.CapabilityNames, name)
		}
		p := binary.NativeEndian.AppendUint32(nil, sec.UID)
		p = binary.NativeEndian.AppendUint32(p, sec.GID)
		p = binary.NativeEndian.AppendUint64(p, mask)
		nnp := byte(0)
		if sec.NoNewPrivs {
			nnp = 1
		}
		p = append(p, nnp)
		p = binary.NativeEndian.AppendUint32(p, uint32(len(sec.Capabilities)))
		rec('S', p)
		for _, name := range pod.CapabilityNames {
			str('c', name)
		}
		if len(sec.Groups) > 0 {
			var g []byte
			for _, id := range sec.Groups {
				g = binary.NativeEndian.AppendUint32(g, id)
			}
			rec('g', g)
		}
		if sec.Seccomp {
			rec('F', seccomp)
		}
	}
	return w.bytes(), nil
}

// cRecords writes the C format: CModeC, the version record, then the
// records rec and str add.
type cRecords struct{ out []byte }

func (w *cRecords) rec(tag byte, payload []byte) {
	if w.out == nil {
		w.out = []byte{CModeC, 'V'}
		w.out = binary.NativeEndian.AppendUint32(w.out, 4)
		w.out = binary.NativeEndian.AppendUint32(w.out, CFormatVersion)
	}
	w.out = append(w.out, tag)
	w.out = binary.NativeEndian.AppendUint32(w.out, uint32(len(payload)))
	w.out = append(w.out, payload...)
}

func (w *cRecords) str(tag byte, s string) { w.rec(tag, []byte(s)) }

// bytes ends the records with 'Z' and returns them.
func (w *cRecords) bytes() []byte {
	w.rec('Z', nil)
	return w.out
}

// CIdentity is the identity an exec'd command takes (execin.Identity,
// which this package cannot import): the container process's.
type CIdentity struct {
	UID, GID                                             uint32
	Groups                                               []uint32
	Bounding, Permitted, Effective, Inheritable, Ambient uint64
	NoNewPrivs                                           bool
}

// EncodeCExec encodes a command to run inside a running container for the
// exec role's C child (cinit.c, sandbox_cexec), starting with CModeC: argv,
// the whole environment, the working directory ("" is "/"), and the
// identity (nil: stay the namespace's root with every capability) with
// seccomp, the BPF program (SeccompProgram), when the container has one.
func EncodeCExec(argv, env []string, dir string, id *CIdentity, seccomp []byte) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("encode C exec config: no command")
	}
	if id == nil && len(seccomp) > 0 {
		return nil, errors.New("encode C exec config: seccomp without an identity")
	}
	// A NUL cannot reach the C child (it refuses the record): the Go child
	// then fails such a command with its own message.
	if slices.ContainsFunc(argv, hasNUL) || slices.ContainsFunc(env, hasNUL) || hasNUL(dir) {
		return nil, errors.New("encode C exec config: NUL in a string")
	}
	var w cRecords
	rec := w.rec
	rec('X', nil)
	for _, a := range argv {
		w.str('a', a)
	}
	for _, e := range env {
		w.str('e', e)
	}
	if dir != "" {
		w.str('w', dir)
	}
	if id != nil {
		p := binary.NativeEndian.AppendUint32(nil, id.UID)
		p = binary.NativeEndian.AppendUint32(p, id.GID)
		for _, m := range []uint64{id.Bounding, id.Permitted, id.Effective, id.Inheritable, id.Ambient} {
			p = binary.NativeEndian.AppendUint64(p, m)
		}
		nnp := byte(0)
		if id.NoNewPrivs {
			nnp = 1
		}
		rec('I', append(p, nnp))
		if len(id.Groups) > 0 {
			var g []byte
			for _, gid := range id.Groups {
				g = binary.NativeEndian.AppendUint32(g, gid)
			}
			rec('g', g)
		}
		if len(seccomp) > 0 {
			rec('F', seccomp)
		}
	}
	return w.bytes(), nil
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }
