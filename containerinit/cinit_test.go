package containerinit

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/rootfs"
)

type cRecord struct {
	tag     byte
	payload string
}

// decodeC splits EncodeC's output the way cinit.c reads it.
func decodeC(t *testing.T, data []byte) []cRecord {
	t.Helper()
	if len(data) == 0 || data[0] != CModeC {
		t.Fatalf("first byte %q, want %q", data[:min(1, len(data))], CModeC)
	}
	var out []cRecord
	for rest := data[1:]; len(rest) > 0; {
		if len(rest) < 5 {
			t.Fatalf("truncated record header %q", rest)
		}
		n := binary.NativeEndian.Uint32(rest[1:5])
		if int(n) > len(rest)-5 {
			t.Fatalf("record %q: length %d past the end", rest[0], n)
		}
		out = append(out, cRecord{rest[0], string(rest[5 : 5+n])})
		rest = rest[5+n:]
	}
	return out
}

func TestEncodeC(t *testing.T) {
	cfg := &Config{
		Name:       "main",
		Argv:       []string{"/bin/sh", "-c", "echo hi"},
		Env:        []string{"PATH=/bin", "HOME=/root"},
		WorkingDir: "/work",
		BecomeRoot: true,
		Pod:        &PodSetup{Hostname: "web", HostNetwork: true},
		FS: rootfs.Spec{
			Root: "/rootfs", ReadOnly: true, ShmDir: "/state/shm",
			Binds:         []rootfs.Bind{{Source: "/state/hosts", Destination: "/etc/hosts", ReadOnly: true}, {Source: "/data", Destination: "/data"}},
			MaskPaths:     []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
		Security: &Security{UID: 1000, GID: 1001, Groups: []uint32{5, 6}, Capabilities: []string{"CHOWN", "SYS_ADMIN", "CHECKPOINT_RESTORE"}, NoNewPrivs: true, Seccomp: true},
	}
	prog := make([]byte, 16)
	data, err := EncodeC(cfg, prog)
	if err != nil {
		t.Fatal(err)
	}
	recs := decodeC(t, data)
	if recs[0].tag != 'V' || binary.NativeEndian.Uint32([]byte(recs[0].payload)) != CFormatVersion {
		t.Fatalf("first record %+v, want the version", recs[0])
	}
	var tags []byte
	for _, r := range recs {
		tags = append(tags, r.tag)
	}
	caps := slices.Repeat([]byte{'c'}, len(pod.CapabilityNames))
	want := slices.Concat([]byte("VnaaaeewRHLromb bkpS"), caps, []byte("gFZ"))
	want = slices.DeleteFunc(want, func(b byte) bool { return b == ' ' })
	if string(tags) != string(want) {
		t.Fatalf("tags %q, want %q", tags, want)
	}
	byTag := func(tag byte) []string {
		var out []string
		for _, r := range recs {
			if r.tag == tag {
				out = append(out, r.payload)
			}
		}
		return out
	}
	if got := byTag('a'); !slices.Equal(got, cfg.Argv) {
		t.Errorf("argv %q", got)
	}
	if got := byTag('b'); !slices.Equal(got, []string{"\x01/state/hosts\x00/etc/hosts", "\x00/data\x00/data"}) {
		t.Errorf("binds %q", got)
	}
	if got := byTag('H'); !slices.Equal(got, []string{"web"}) {
		t.Errorf("hostname %q", got)
	}
	sec := []byte(byTag('S')[0])
	if len(sec) != 21 {
		t.Fatalf("security record of %d bytes, want 21", len(sec))
	}
	mask := uint64(1)<<0 | 1<<21 | 1<<40
	if binary.NativeEndian.Uint32(sec) != 1000 || binary.NativeEndian.Uint32(sec[4:]) != 1001 ||
		binary.NativeEndian.Uint64(sec[8:]) != mask || sec[16] != 1 || binary.NativeEndian.Uint32(sec[17:]) != 3 {
		t.Errorf("security record %v", sec)
	}
	if got := byTag('c'); !slices.Equal(got, pod.CapabilityNames) {
		t.Errorf("capability names %q", got)
	}
	if g := []byte(byTag('g')[0]); binary.NativeEndian.Uint32(g) != 5 || binary.NativeEndian.Uint32(g[4:]) != 6 {
		t.Errorf("groups %v", g)
	}
	if got := byTag('F'); len(got) != 1 || len(got[0]) != 16 {
		t.Errorf("seccomp %q", got)
	}

	// The host root, no security, no pod setup: only what is set.
	data, err = EncodeC(&Config{Name: "x", Argv: []string{"true"}, FS: rootfs.Spec{Scratch: "/s"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tags = nil
	for _, r := range decodeC(t, data) {
		tags = append(tags, r.tag)
	}
	if string(tags) != "VnasZ" {
		t.Errorf("minimal config: tags %q, want VnasZ", tags)
	}
}

func TestEncodeCRefusesWhatOnlyGoDoes(t *testing.T) {
	base := func() *Config {
		return &Config{Name: "x", Argv: []string{"true"}, FS: rootfs.Spec{Root: "/r"}}
	}
	for name, change := range map[string]func(*Config){
		"overlay":      func(c *Config) { c.FS.Overlay = &rootfs.Overlay{} },
		"subPath":      func(c *Config) { c.FS.Binds = []rootfs.Bind{{Source: "/v", Destination: "/d", SubPath: "a"}} },
		"source fd":    func(c *Config) { c.FS.Binds = []rootfs.Bind{{Source: "/v", Destination: "/d", SourceFD: 7}} },
		"volume maker": func(c *Config) { c.MakeTmpfs = []Tmpfs{{Name: "m"}} },
		"cleanup":      func(c *Config) { c.RemoveAll = []string{"/v"}; c.Argv = nil },
		"no argv":      func(c *Config) { c.Argv = nil },
		"unknown capability": func(c *Config) {
			c.Security = &Security{Capabilities: []string{"NOT_A_CAP"}}
		},
	} {
		cfg := base()
		change(cfg)
		if _, err := EncodeC(cfg, nil); !errors.Is(err, ErrNotSimple) {
			t.Errorf("%s: EncodeC error %v, want ErrNotSimple", name, err)
		}
	}
	cfg := base()
	cfg.Security = &Security{Seccomp: true}
	if _, err := EncodeC(cfg, nil); err == nil {
		t.Error("seccomp without a program: no error")
	}
}

// SeccompProgram is the filter loadSeccomp installs, as sock_filter bytes.
func TestSeccompProgramBytes(t *testing.T) {
	for _, caps := range [][]string{pod.DefaultCapabilities, pod.CapabilityNames} {
		prog, err := SeccompProgram(caps)
		if err != nil {
			t.Fatal(err)
		}
		filter, err := seccompProgram(caps)
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) != 8*len(filter) {
			t.Fatalf("%d bytes for %d instructions", len(prog), len(filter))
		}
		for i, f := range filter {
			b := prog[8*i:]
			if binary.NativeEndian.Uint16(b) != f.Code || b[2] != f.Jt || b[3] != f.Jf || binary.NativeEndian.Uint32(b[4:]) != f.K {
				t.Fatalf("instruction %d: bytes %v, want %+v", i, b[:8], f)
			}
		}
	}
}

func TestEncodeCExec(t *testing.T) {
	id := &CIdentity{UID: 1000, GID: 1001, Groups: []uint32{5, 6}, Bounding: 0xff, Permitted: 0x0f, Effective: 0x07, Inheritable: 0x03, Ambient: 0x01, NoNewPrivs: true}
	data, err := EncodeCExec([]string{"sh", "-c", "true"}, []string{"PATH=/bin"}, "/tmp", id, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	recs := decodeC(t, data)
	var tags []byte
	for _, r := range recs {
		tags = append(tags, r.tag)
	}
	if string(tags) != "VXaaaewIgFZ" {
		t.Fatalf("tags %q", tags)
	}
	if binary.NativeEndian.Uint32([]byte(recs[0].payload)) != CFormatVersion {
		t.Fatalf("version %q", recs[0].payload)
	}
	p := []byte(recs[7].payload)
	if len(p) != 49 || binary.NativeEndian.Uint32(p) != 1000 || binary.NativeEndian.Uint32(p[4:]) != 1001 ||
		binary.NativeEndian.Uint64(p[8:]) != 0xff || binary.NativeEndian.Uint64(p[16:]) != 0x0f ||
		binary.NativeEndian.Uint64(p[24:]) != 0x07 || binary.NativeEndian.Uint64(p[32:]) != 0x03 ||
		binary.NativeEndian.Uint64(p[40:]) != 0x01 || p[48] != 1 {
		t.Fatalf("identity record %x", p)
	}
	// No identity: the namespace's root; no seccomp without one.
	data, err = EncodeCExec([]string{"true"}, nil, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tags = tags[:0]
	for _, r := range decodeC(t, data) {
		tags = append(tags, r.tag)
	}
	if string(tags) != "VXaZ" {
		t.Fatalf("tags %q", tags)
	}
	if _, err := EncodeCExec([]string{"true"}, nil, "", nil, []byte{1}); err == nil {
		t.Fatal("seccomp without an identity: no error")
	}
	if _, err := EncodeCExec([]string{"a\x00b"}, nil, "", nil, nil); err == nil {
		t.Fatal("NUL in argv: no error")
	}
	if _, err := EncodeCExec(nil, nil, "", nil, nil); err == nil {
		t.Fatal("no command: no error")
	}
}
