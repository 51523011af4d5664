package supervisor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/podfiles"
)

// The manifest fast path (nsenter/fastpod.c) starts a one-container pod
// without the Go supervisor: nsenter/fastpodcfg.c builds what the
// supervisor would give the container (the C init's records and the pod
// files). These tests hold the C to the Go code, byte for byte.

// fastPodBench is the pod of the fast path's benchmark.
const fastPodBench = `apiVersion: v1
kind: Pod
metadata:
  name: one
  annotations:
    sandbox.podsandbox.dev/network: none
spec:
  restartPolicy: Never
  containers:
  - name: main
    command: ["true"]
`

// fastPodManifest is fastPodBench with name, spec.hostname (when set) and
// the container's fields in container (YAML lines at its indentation).
func fastPodManifest(name, hostname, container string) string {
	m := strings.Replace(fastPodBench, "name: one", "name: "+name, 1)
	if hostname != "" {
		m = strings.Replace(m, "  restartPolicy: Never\n", "  restartPolicy: Never\n  hostname: "+hostname+"\n", 1)
	}
	return strings.Replace(m, "    command: [\"true\"]\n", container, 1)
}

// goPodConfig is what the supervisor sends the container's C init for
// manifest (without the mode byte) and the pod files it writes, for a
// rootless pod (a user namespace, no --keep-id) whose state directory is
// dir.
func goPodConfig(t *testing.T, manifest, dir string) (records, hosts, hostname, resolv []byte, err error) {
	t.Helper()
	p, warnings, err := pod.Decode([]byte(manifest))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(warnings) > 0 {
		t.Fatalf("decode warnings: %v", warnings)
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(p.Spec.Containers) != 1 || p.NetworkMode() != pod.NetworkNone {
		t.Fatal("not a fast pod: want one container and network none")
	}
	c := &p.Spec.Containers[0]
	img, err := pod.ParseImage(c.Image)
	if err != nil || img.IsStored() {
		t.Fatalf("not a fast pod's image: %q (%v)", c.Image, err)
	}
	// prepare's roots: "" for the host root, the directory of a dir image.
	s := &sandbox{pod: p, plan: &plan{userns: true, roots: map[string]string{c.Name: img.Path}}, state: &state.Pod{Dir: dir}}
	if !s.cinitCandidate(c) {
		t.Fatal("the supervisor would not start the C init")
	}
	_, data, kind, err := s.initConfig(c, true)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if kind != explainCInit || data[0] != containerinit.CModeC {
		t.Fatalf("the supervisor sends the Go init's config (%s)", kind)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "podfiles", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return data[1:], read("hosts"), read("hostname"), read("resolv.conf"), nil
}

// compareFastPod runs manifest through the supervisor and through the C
// and reports every difference.
func compareFastPod(t *testing.T, manifest string) {
	t.Helper()
	dir := t.TempDir()
	want, wantHosts, wantHostname, wantResolv, err := goPodConfig(t, manifest, dir)
	if err != nil {
		t.Fatalf("supervisor: %v", err)
	}
	got, hosts, hostname, resolv, ok := nsenter.FastPodConfig([]byte(manifest), dir)
	if !ok {
		t.Fatal("the C leaves this pod to Go")
	}
	if !bytes.Equal(got, want) {
		t.Errorf("records differ:\n%s", diffRecords(got, want))
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{{"hosts", hosts, wantHosts}, {"hostname", hostname, wantHostname}, {"resolv.conf", resolv, wantResolv}} {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("podfiles/%s:\n C: %q\nGo: %q", f.name, f.got, f.want)
		}
	}
}

func TestFastPodConfigMatchesSupervisor(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tc := range []struct {
		name, pod, hostname, container string
	}{
		{name: "bench pod", pod: "one", container: "    command: [\"true\"]\n"},
		{name: "command and args", pod: "one", container: "    command: [sh, -c]\n    args: [\"echo $0 $(HOME)\", x, \"\"]\n"},
		{name: "args without command", pod: "one", container: "    args: [/bin/echo, hi]\n"},
		{name: "env after the defaults", pod: "one", container: "    command: [env]\n    env:\n    - name: A\n      value: \"1\"\n    - name: EMPTY\n    - name: B\n      value: \"x=y z\"\n"},
		{name: "later duplicate wins in place", pod: "one", container: "    command: [env]\n    env:\n    - name: A\n      value: first\n    - name: B\n      value: b\n    - name: A\n      value: second\n    - name: C\n    - name: A\n      value: third\n"},
		{name: "manifest PATH replaces the default", pod: "one", container: "    command: [env]\n    env:\n    - name: X\n      value: x\n    - name: PATH\n      value: /opt/bin\n"},
		{name: "manifest HOME and HOSTNAME replace the defaults", pod: "one", container: "    command: [env]\n    env:\n    - name: HOSTNAME\n      value: other\n    - name: HOME\n      value: /home/x\n"},
		{name: "duplicate PATH", pod: "one", container: "    command: [env]\n    env:\n    - name: PATH\n      value: /a\n    - name: HOME\n    - name: PATH\n      value: /b\n"},
		{name: "working directory", pod: "one", container: "    command: [pwd]\n    workingDir: /tmp\n"},
		{name: "working directory cleaned", pod: "one", container: "    command: [pwd]\n    workingDir: /usr/../var//tmp/\n"},
		{name: "working directory root", pod: "one", container: "    command: [pwd]\n    workingDir: /\n"},
		{name: "hostname", pod: "one", hostname: "h-1", container: "    command: [hostname]\n    env:\n    - name: WHO\n      value: \"1\"\n"},
		{name: "long names", pod: "pod-" + long[:40], hostname: long, container: "    command: [\"true\"]\n"},
		{name: "container name", pod: "p0", container: "    command: [\"true\"]\n"},
		{name: "unicode", pod: "one", container: "    command: [echo, \"héllo wörld\"]\n    env:\n    - name: G\n      value: \"ünï\"\n"},
		// An image directory is the root: no scratch directory, and every
		// pod file is bound (the init makes its mount point).
		{name: "dir image", pod: "one", container: "    image: dir:/var/empty/rootfs\n    command: [\"true\"]\n"},
		{name: "path image", pod: "one", container: "    image: /var/empty/rootfs\n    command: [\"true\"]\n    workingDir: /srv\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fastPodManifest(tc.pod, tc.hostname, tc.container)
			if tc.name == "container name" {
				m = strings.Replace(m, "- name: main", "- name: "+long, 1)
			}
			compareFastPod(t, m)
		})
	}
}

// diffRecords describes the first record where got and want differ, and
// both lists.
func diffRecords(got, want []byte) string {
	g, w := describeRecords(got), describeRecords(want)
	var b strings.Builder
	for i := 0; i < max(len(g), len(w)); i++ {
		var gi, wi string
		if i < len(g) {
			gi = g[i]
		}
		if i < len(w) {
			wi = w[i]
		}
		if gi != wi {
			fmt.Fprintf(&b, "first difference at record %d:\n C: %s\nGo: %s\n", i, gi, wi)
			break
		}
	}
	fmt.Fprintf(&b, "C:\n  %s\nGo:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	return b.String()
}

// describeRecords lists the records of the C init's format, one line each.
func describeRecords(data []byte) []string {
	var out []string
	for len(data) > 0 {
		if len(data) < 5 {
			return append(out, fmt.Sprintf("truncated header %q", data))
		}
		tag, n := data[0], binary.NativeEndian.Uint32(data[1:5])
		if uint64(len(data)-5) < uint64(n) {
			return append(out, fmt.Sprintf("%c: truncated, %d bytes of %d", tag, len(data)-5, n))
		}
		p := data[5 : 5+n]
		data = data[5+n:]
		switch tag {
		case 'V', 'S':
			out = append(out, fmt.Sprintf("%c %x", tag, p))
		case 'F':
			out = append(out, fmt.Sprintf("F %d bytes %x...", len(p), p[:min(len(p), 16)]))
		default:
			out = append(out, fmt.Sprintf("%c %q", tag, p))
		}
	}
	return out
}

// The pod's resolv.conf comes from the host's: the C reads it as
// podfiles.parse does, or leaves the pod to Go.
func TestFastPodResolvConfMatchesPodfiles(t *testing.T) {
	p := &pod.Pod{}
	for _, tc := range []struct {
		name, conf string
		goDecides  bool // the C refuses: Go writes it
	}{
		{name: "missing or empty", conf: ""},
		{name: "systemd-resolved stub", conf: "# comment\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n"},
		{name: "servers deduplicated", conf: "nameserver 10.0.0.1\nnameserver 10.0.0.1\nnameserver 10.0.0.2\n"},
		{name: "loopback and unspecified dropped", conf: "nameserver 127.1.2.3\nnameserver 0.0.0.0\nnameserver ::1\nnameserver ::\nnameserver ::ffff:127.0.0.1\nnameserver 1.1.1.1\n"},
		{name: "IPv4-mapped unspecified kept", conf: "nameserver ::ffff:0.0.0.0\nnameserver ::ffff:1.2.3.4\nnameserver ::FFFF:102:304\n"},
		{name: "IPv4-compatible printed as IPv6", conf: "nameserver ::1.2.3.4\nnameserver ::0.0.0.2\nnameserver ::2\n"},
		{name: "IPv6 forms", conf: "nameserver 2001:DB8:0:0:1:0:0:1\nnameserver 2001:0db8::0001\nnameserver fe80:0:0:1::\nnameserver 1:0:0:2:0:0:0:3\nnameserver 0:0:1::\nnameserver 1:2:3:4:5:6:7:8\nnameserver 1::1.2.3.4\nnameserver 0:0:0:0:0:1:0:0\n"},
		{name: "zones and bad addresses skipped", conf: "nameserver fe80::1%eth0\nnameserver 1.2.3.4%x\nnameserver 01.2.3.4\nnameserver 1.2.3\nnameserver 256.1.1.1\nnameserver 1:2:3:4:5:6:7::\nnameserver :::1\nnameserver ::ffff:01.2.3.4\nnameserver host.example\nnameserver 12345::\nnameserver\n"},
		{name: "comments anywhere", conf: "nameserver 9.9.9.9 # quad nine\nnameserver 8.8.8.8;google\n; nameserver 1.1.1.1\n#search a\nsearch b c # d\n"},
		{name: "last search or domain wins", conf: "search a b\ndomain c\nsearch d e d\n"},
		{name: "domain last", conf: "search a b\ndomain c\n"},
		{name: "options deduplicated across lines", conf: "options ndots:2 edns0\noptions edns0 rotate\noptions ndots:3\n"},
		{name: "CRLF and odd spaces", conf: "nameserver\t10.1.1.1\r\n  options\v\fa\tb \r\nsearch x\r\n\r\n"},
		{name: "unknown keywords and short lines", conf: "sortlist 1.2.3.4\nnameserver\noptions\nlookup file bind\n"},
		{name: "no final newline", conf: "nameserver 10.0.0.9"},
		{name: "many fields", conf: "options" + manyWords("opt", 100) + "\nsearch" + manyWords("d", 90) + "\n" + manyServers(80)},
		{name: "a long line Go still reads", conf: "search " + strings.Repeat("x", 60000) + "\nnameserver 10.0.0.1\n"},
		{name: "a line past the Scanner's limit", conf: "search " + strings.Repeat("x", 70000) + "\nnameserver 10.0.0.1\n", goDecides: true},
		{name: "non-ASCII", conf: "nameserver 10.0.0.1\nsearch \u00a0a\n", goDecides: true},
		{name: "non-ASCII in a comment", conf: "nameserver 10.0.0.1 # über\nsearch a;ö\n"},
		{name: "NUL", conf: "nameserver 10.0.0.1\x00\n", goDecides: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := podfiles.ResolvConf(p, []byte(tc.conf))
			got, ok := nsenter.FastPodResolvConf([]byte(tc.conf))
			switch {
			case tc.goDecides && ok:
				t.Errorf("the C wrote %q; want it to leave this file to Go", got)
			case !tc.goDecides && !ok:
				t.Errorf("the C leaves this file to Go; podfiles writes %q", want)
			case ok && !bytes.Equal(got, want):
				t.Errorf("C:  %q\nGo: %q", got, want)
			}
		})
	}
}

func manyWords(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " %s%d", prefix, i)
	}
	return b.String()
}

func manyServers(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "nameserver 10.0.%d.%d\n", i/200, i%200+1)
	}
	return b.String()
}

// Whatever the host's resolv.conf holds, the C writes what Go writes or
// leaves it to Go.
func FuzzFastPodResolvConf(f *testing.F) {
	for _, s := range []string{"", "nameserver 10.0.0.1\nsearch a b\noptions x y\n", "nameserver ::ffff:1.2.3.4\n",
		"nameserver 2001:db8::1\nnameserver ::1.2.3.4\n", "domain x # y\r\n", "nameserver 1:0:0:2:0:0:0:3\n"} {
		f.Add([]byte(s))
	}
	p := &pod.Pod{}
	f.Fuzz(func(t *testing.T, conf []byte) {
		got, ok := nsenter.FastPodResolvConf(conf)
		if want := podfiles.ResolvConf(p, conf); ok && !bytes.Equal(got, want) {
			t.Errorf("host %q\nC:  %q\nGo: %q", conf, got, want)
		}
	})
}

// etcLayoutEnv names the /etc that TestFastPodFollowsTheHostsPodFiles's
// child process builds in its own mount namespace.
const etcLayoutEnv = "SANDBOX_TEST_FASTPOD_ETC"

// volumeBinds mounts a pod file only where the host root has a regular
// file (os.Stat follows symlinks), and the pod's resolv.conf comes from the
// host's: the C must follow the host's /etc as Go does. Each layout of
// /etc is built on a tmpfs in a child process's own mount namespace.
func TestFastPodFollowsTheHostsPodFiles(t *testing.T) {
	if layout := os.Getenv(etcLayoutEnv); layout != "" {
		fastPodWithEtc(t, layout)
		return
	}
	for _, layout := range []string{"empty", "symlinks and a directory", "resolv.conf a directory"} {
		t.Run(layout, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFastPodFollowsTheHostsPodFiles$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), etcLayoutEnv+"="+layout)
			// Go makes / private (MS_REC|MS_PRIVATE) after unsharing a
			// mount namespace this way: the tmpfs on /etc stays the child's.
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
			if os.Geteuid() != 0 {
				cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER
				cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
				cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Skipf("no mount namespace of our own: %v", err)
			}
			if err != nil || !strings.Contains(string(out), "--- PASS: TestFastPodFollowsTheHostsPodFiles") {
				t.Errorf("child: %v\n%s", err, out)
			}
		})
	}
}

// fastPodWithEtc runs in the child: it builds layout on a tmpfs over /etc
// and compares the C with Go for the bench pod.
func fastPodWithEtc(t *testing.T, layout string) {
	mine, err1 := os.Readlink("/proc/self/ns/mnt")
	parents, err2 := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", os.Getppid()))
	if err1 != nil || err2 != nil || mine == parents {
		t.Fatalf("not in a mount namespace of our own (%s, parent's %s: %v %v): /etc is left alone", mine, parents, err1, err2)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make / private: %v", err)
	}
	if err := unix.Mount("tmpfs", "/etc", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatalf("tmpfs on /etc: %v", err)
	}
	write := func(name, data string) {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(target, name string) {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(name string) {
		if err := os.Mkdir(name, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	switch layout {
	case "empty":
		// No pod file is mounted; resolv.conf has no server.
	case "symlinks and a directory":
		mkdir("/etc/hosts")                              // not a file: not mounted
		write("/etc/real-hostname", "h\n")               // a symlink to a file is followed: mounted
		symlink("real-hostname", "/etc/hostname")        //
		symlink("../nowhere/resolv", "/etc/resolv.conf") // dangling: not mounted, and read as missing
	case "resolv.conf a directory":
		mkdir("/etc/resolv.conf") // Go fails to read it: the C must leave the pod to Go
		write("/etc/hosts", "")
		dir := t.TempDir()
		if _, _, _, _, err := goPodConfig(t, fastPodBench, dir); err == nil {
			t.Fatal("the supervisor read a directory as resolv.conf")
		}
		if _, _, _, _, ok := nsenter.FastPodConfig([]byte(fastPodBench), dir); ok {
			t.Fatal("the C made a pod Go refuses")
		}
		return
	default:
		t.Fatalf("unknown layout %q", layout)
	}
	compareFastPod(t, fastPodBench)
	if layout == "symlinks and a directory" {
		// The C and Go agree; check they agree on the right thing.
		got, _, _, _, _ := nsenter.FastPodConfig([]byte(fastPodBench), "/s")
		if recs := strings.Join(describeRecords(got), "\n"); strings.Contains(recs, "/etc/hosts") ||
			!strings.Contains(recs, `b "\x01/s/podfiles/hostname\x00/etc/hostname"`) || strings.Contains(recs, "/etc/resolv.conf") {
			t.Errorf("binds:\n%s", recs)
		}
	}
}

// A nameserver's address: the C keeps and writes what netip.ParseAddr,
// podfiles' filter and Addr.String would.
func FuzzFastPodNameserver(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "127.0.0.53", "::1", "::", "::ffff:1.2.3.4", "::ffff:0.0.0.0", "::1.2.3.4",
		"2001:db8::1", "fe80::1%eth0", "1:0:0:2:0:0:0:3", "0:0:1::", "01.2.3.4", "1::1.2.3.4", "1:2:3:4:5:6:7::"} {
		f.Add(s)
	}
	p := &pod.Pod{}
	f.Fuzz(func(t *testing.T, addr string) {
		conf := []byte("nameserver " + addr + "\n")
		got, ok := nsenter.FastPodResolvConf(conf)
		if want := podfiles.ResolvConf(p, conf); ok && !bytes.Equal(got, want) {
			t.Errorf("nameserver %q\nC:  %q\nGo: %q", addr, got, want)
		}
	})
}
