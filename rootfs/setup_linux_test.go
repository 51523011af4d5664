package rootfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/testutil"
)

// fixture is what a parent test prepares on the host and hands to its ReexecInUserNS child.
type fixture struct {
	Spec   Spec
	Canary []string          // host paths that must not exist after the child ran
	Extra  map[string]string // test-specific values
}

const fixtureEnv = "ROOTFS_TEST_FIXTURE"

// inUserNS runs child as root in fresh namespaces (a ReexecInUserNS child; Setup never runs in the test's own
// process). prepare runs only in the parent, which hands its fixture to the child. In the parent inUserNS
// returns the fixture and true once the child passed, so the caller can check the host side; in the child it
// returns false after child ran. ReexecInUserNS also fails the test if the parent's mountinfo changed.
func inUserNS(t *testing.T, prepare func(t *testing.T) fixture, child func(t *testing.T, f fixture),
	opts ...testutil.ReexecOption) (fixture, bool) {
	t.Helper()
	var f fixture
	if !testutil.InUserNSChild() {
		f = prepare(t)
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if !testutil.ReexecInUserNS(t, append(opts, testutil.WithEnv(fixtureEnv, string(b)))...) {
			for _, c := range f.Canary {
				if _, err := os.Lstat(c); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the host path %s exists after the test (err %v): something escaped the root", c, err)
				}
			}
			return f, true
		}
	} else if !testutil.ReexecInUserNS(t) {
		return f, false
	}
	if err := json.Unmarshal([]byte(os.Getenv(fixtureEnv)), &f); err != nil {
		t.Fatalf("decode the fixture: %v", err)
	}
	child(t, f)
	return f, false
}

func setup(t *testing.T, spec Spec) {
	t.Helper()
	if err := Setup(spec); err != nil {
		t.Fatalf("Setup: %v", err)
	}
}

// uniqueName is a name no host path has, for canaries.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func readDirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func isReadOnlyMount(t *testing.T, p string) bool {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Flags&unix.ST_RDONLY != 0
}

// checkCommonMounts asserts what every root built by Setup has: private /tmp, fresh /proc for the PID namespace,
// the /dev Setup populates (plus extra, a bind mounted there, if not ""), and a read-only /sys.
func checkCommonMounts(t *testing.T, extra string) {
	t.Run("tmp_is_an_empty_writable_tmpfs", func(t *testing.T) {
		if names := readDirNames(t, "/tmp"); len(names) != 0 {
			t.Errorf("/tmp has %v", names)
		}
		if err := os.WriteFile("/tmp/x", []byte("x"), 0o644); err != nil {
			t.Errorf("write /tmp/x: %v", err)
		}
	})
	t.Run("proc_shows_only_the_pid_namespace", func(t *testing.T) {
		if self, err := os.Readlink("/proc/self"); err != nil || self != "1" {
			t.Errorf("/proc/self -> %q (%v), want 1", self, err)
		}
		var pids []string
		for _, n := range readDirNames(t, "/proc") {
			if _, err := strconv.Atoi(n); err == nil {
				pids = append(pids, n)
			}
		}
		if !slices.Equal(pids, []string{"1"}) {
			t.Errorf("/proc lists PIDs %v, want only [1]", pids)
		}
	})
	t.Run("dev_has_exactly_the_expected_entries", func(t *testing.T) {
		want := []string{"fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
			"tty", "urandom", "zero"}
		if extra != "" {
			want = append(want, extra)
			slices.Sort(want)
		}
		if got := readDirNames(t, "/dev"); !slices.Equal(got, want) {
			t.Errorf("/dev has %v, want %v", got, want)
		}
		if target, _ := os.Readlink("/dev/ptmx"); target != "pts/ptmx" {
			t.Errorf("/dev/ptmx -> %q, want pts/ptmx", target)
		}
		if target, _ := os.Readlink("/dev/fd"); target != "/proc/self/fd" {
			t.Errorf("/dev/fd -> %q", target)
		}
	})
	t.Run("dev_null_discards_and_reads_empty", func(t *testing.T) {
		if err := os.WriteFile("/dev/null", []byte("gone"), 0); err != nil {
			t.Errorf("write /dev/null: %v", err)
		}
		if b, err := os.ReadFile("/dev/null"); err != nil || len(b) != 0 {
			t.Errorf("read /dev/null: %q %v", b, err)
		}
		b := make([]byte, 8)
		if f, err := os.Open("/dev/zero"); err != nil {
			t.Error(err)
		} else if _, err := f.Read(b); err != nil || string(b) != string(make([]byte, 8)) {
			t.Errorf("read /dev/zero: %q %v", b, err)
		} else {
			f.Close()
		}
	})
	t.Run("devpts_allocates_a_pty", func(t *testing.T) {
		f, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
		if err != nil {
			t.Fatalf("open /dev/ptmx: %v", err)
		}
		defer f.Close()
		n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPTN)
		if err != nil {
			t.Fatalf("TIOCGPTN: %v", err)
		}
		if _, err := os.Stat("/dev/pts/" + strconv.Itoa(n)); err != nil {
			t.Errorf("the new pty's slave: %v", err)
		}
	})
	t.Run("shm_is_writable", func(t *testing.T) {
		if err := os.WriteFile("/dev/shm/seg", []byte("x"), 0o600); err != nil {
			t.Errorf("write /dev/shm/seg: %v", err)
		}
	})
	t.Run("sys_is_read-only", func(t *testing.T) {
		if !isReadOnlyMount(t, "/sys") {
			t.Error("/sys is not mounted read-only")
		}
		wantErrno(t, "write /sys/class/net/lo/mtu", os.WriteFile("/sys/class/net/lo/mtu", []byte("1500"), 0), unix.EROFS)
	})
}

// modes are the two ways the container init runs: root in the pod's user namespace (rootless) and real root
// (rootful). Both get fresh mount, PID, network, IPC and UTS namespaces.
var modes = []struct {
	name string
	opts []testutil.ReexecOption
}{
	{name: "userns"},
	{name: "rootful", opts: []testutil.ReexecOption{testutil.AsRealRoot()}},
}

func TestSetupHostRoot(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { testSetupHostRoot(t, mode.opts) })
	}
}

func testSetupHostRoot(t *testing.T, opts []testutil.ReexecOption) {
	inUserNS(t, func(t *testing.T) fixture {
		return fixture{Spec: Spec{Scratch: t.TempDir()}}
	}, func(t *testing.T, f fixture) {
		setup(t, f.Spec)
		t.Run("root_is_read-only_recursively", func(t *testing.T) {
			wantErrno(t, "create /rootfs-test", os.WriteFile("/rootfs-test", nil, 0o644), unix.EROFS)
			wantErrno(t, "mkdir /etc/rootfs-test", os.Mkdir("/etc/rootfs-test", 0o755), unix.EROFS)
		})
		t.Run("host_binaries_run", func(t *testing.T) {
			if out, err := exec.Command("/bin/sh", "-c", "echo ok").CombinedOutput(); err != nil ||
				string(out) != "ok\n" {
				t.Errorf("/bin/sh: %q %v", out, err)
			}
		})
		t.Run("sys_is_a_fresh_sysfs_of_the_new_netns", func(t *testing.T) {
			if got := readDirNames(t, "/sys/class/net"); !slices.Equal(got, []string{"lo"}) {
				t.Errorf("/sys/class/net has %v, want [lo]", got)
			}
		})
		t.Run("scratch_is_not_visible", func(t *testing.T) {
			if _, err := os.Stat(f.Spec.Scratch); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the scratch dir %s (under the new /tmp) is visible: %v", f.Spec.Scratch, err)
			}
		})
		checkCommonMounts(t, "")
	}, opts...)
}

func TestSetupDirectoryRoot(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { testSetupDirectoryRoot(t, mode.opts) })
	}
}

func testSetupDirectoryRoot(t *testing.T, opts []testutil.ReexecOption) {
	for _, tc := range []struct {
		name          string
		readOnly      bool
		noMountpoints bool // the rootfs lacks proc, sys, dev and tmp
	}{
		{name: "writable_root"},
		{name: "read-only_root", readOnly: true},
		{name: "missing_mount_points_are_created", noMountpoints: true},
		{name: "read-only_root_without_mount_points", readOnly: true, noMountpoints: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, parent := inUserNS(t, func(t *testing.T) fixture {
				root := testutil.BusyboxRootfs(t)
				if tc.noMountpoints {
					for _, d := range []string{"proc", "sys", "dev", "tmp"} {
						if err := os.Remove(filepath.Join(root, d)); err != nil {
							t.Fatal(err)
						}
					}
				}
				exe, _ := os.Executable()
				// The Kubernetes termination message file: a file bind into the /dev tmpfs, which must work
				// with a read-only root too.
				termLog := filepath.Join(t.TempDir(), "termination-log")
				if err := os.WriteFile(termLog, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return fixture{
					Spec: Spec{Root: root, ReadOnly: tc.readOnly,
						Binds: []Bind{{Source: termLog, Destination: "/dev/termination-log"}}},
					Extra: map[string]string{"hostFile": exe},
				}
			}, func(t *testing.T, f fixture) {
				setup(t, f.Spec)
				t.Run("pivoted_into_the_rootfs", func(t *testing.T) {
					if _, err := os.Stat("/bin/busybox"); err != nil {
						t.Errorf("/bin/busybox: %v", err)
					}
					for _, host := range []string{f.Extra["hostFile"], "/etc/os-release", f.Spec.Root} {
						if _, err := os.Stat(host); !errors.Is(err, os.ErrNotExist) {
							t.Errorf("the host's %s is visible: %v", host, err)
						}
					}
					out, err := exec.Command("/bin/sh", "-c", "id -u; ls /").CombinedOutput()
					if err != nil || !strings.HasPrefix(string(out), "0\n") {
						t.Errorf("busybox sh in the root: %q %v", out, err)
					}
				})
				t.Run("root_writability_follows_ReadOnly", func(t *testing.T) {
					err := os.WriteFile("/newfile", []byte("x"), 0o644)
					if f.Spec.ReadOnly {
						wantErrno(t, "write /newfile", err, unix.EROFS)
					} else if err != nil {
						t.Errorf("write /newfile: %v", err)
					}
					if got := isReadOnlyMount(t, "/"); got != f.Spec.ReadOnly {
						t.Errorf("/ read-only %v, want %v", got, f.Spec.ReadOnly)
					}
				})
				t.Run("termination_log_reaches_the_host", func(t *testing.T) {
					if err := os.WriteFile("/dev/termination-log", []byte("bye"), 0); err != nil {
						t.Errorf("write /dev/termination-log: %v", err)
					}
				})
				checkCommonMounts(t, "termination-log")
			}, opts...)
			if !parent {
				return
			}
			if b, err := os.ReadFile(f.Spec.Binds[0].Source); err != nil || string(b) != "bye" {
				t.Errorf("the termination log on the host: %q %v", b, err)
			}
			for _, d := range []string{"proc", "sys", "dev", "tmp"} {
				if fi, err := os.Lstat(filepath.Join(f.Spec.Root, d)); err != nil || !fi.IsDir() {
					t.Errorf("mount point %s in the rootfs: %v", d, err)
				}
			}
			_, err := os.Stat(filepath.Join(f.Spec.Root, "newfile"))
			if f.Spec.ReadOnly != errors.Is(err, os.ErrNotExist) {
				t.Errorf("rootfs/newfile after the child: %v (read-only %v)", err, f.Spec.ReadOnly)
			}
		})
	}
}

func TestShmDirIsSharedWithTheHost(t *testing.T) {
	f, parent := inUserNS(t, func(t *testing.T) fixture {
		shm := t.TempDir()
		if err := os.WriteFile(filepath.Join(shm, "from-host"), []byte("host"), 0o644); err != nil {
			t.Fatal(err)
		}
		return fixture{Spec: Spec{Root: testutil.BusyboxRootfs(t), ShmDir: shm}}
	}, func(t *testing.T, f fixture) {
		setup(t, f.Spec)
		if b, err := os.ReadFile("/dev/shm/from-host"); err != nil || string(b) != "host" {
			t.Errorf("read /dev/shm/from-host: %q %v", b, err)
		}
		if err := os.WriteFile("/dev/shm/from-container", []byte("container"), 0o644); err != nil {
			t.Errorf("write /dev/shm/from-container: %v", err)
		}
	})
	if !parent {
		return
	}
	if b, err := os.ReadFile(filepath.Join(f.Spec.ShmDir, "from-container")); err != nil || string(b) != "container" {
		t.Errorf("the container's shm file on the host: %q %v", b, err)
	}
}

func TestBindDestinationIsResolvedInsideTheRoot(t *testing.T) {
	for _, tc := range []struct {
		name string
		// etc is what the rootfs's /etc becomes; $REAL is a unique directory inside the rootfs that, as an absolute
		// path, does not exist on the host.
		etc        string
		fileBind   bool
		readOnly   bool
		wantErr    error
		wantInside string // where the mount point must appear in the rootfs, with $REAL and $APP replaced
	}{
		{name: "absolute_symlink_to_host_etc_fails_closed", etc: "/etc", wantErr: unix.ELOOP},
		{name: "relative_symlink_to_host_etc_fails_closed", etc: "../../../../../../../../etc", wantErr: unix.ELOOP},
		{name: "absolute_symlink_lands_inside", etc: "/$REAL", wantInside: "$REAL/$APP"},
		{name: "relative_symlink_climbing_out_lands_inside", etc: "../../../../../../$REAL", wantInside: "$REAL/$APP"},
		{name: "file_bind_through_symlink_lands_inside", etc: "/$REAL", fileBind: true, wantInside: "$REAL/$APP"},
		{name: "read-only_bind", etc: "", readOnly: true, wantInside: "etc/$APP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, parent := inUserNS(t, func(t *testing.T) fixture {
				root := testutil.BusyboxRootfs(t)
				real, app := uniqueName("rootfs-real-etc"), uniqueName("app")
				if err := os.Mkdir(filepath.Join(root, real), 0o755); err != nil {
					t.Fatal(err)
				}
				if tc.etc != "" {
					if err := os.Remove(filepath.Join(root, "etc")); err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(strings.ReplaceAll(tc.etc, "$REAL", real), filepath.Join(root, "etc")); err != nil {
						t.Fatal(err)
					}
				}
				src := t.TempDir()
				if err := os.WriteFile(filepath.Join(src, "marker"), []byte("bound"), 0o644); err != nil {
					t.Fatal(err)
				}
				if tc.fileBind {
					src = filepath.Join(src, "marker")
				}
				return fixture{
					Spec: Spec{Root: root, Binds: []Bind{{Source: src, Destination: "/etc/" + app, ReadOnly: tc.readOnly}}},
					// The canaries: where a resolver that follows the rootfs's symlinks on the host would create
					// the mount point.
					Canary: []string{"/etc/" + app, "/" + real},
					Extra:  map[string]string{"inside": strings.NewReplacer("$REAL", real, "$APP", app).Replace(tc.wantInside)},
				}
			}, func(t *testing.T, f fixture) {
				err := Setup(f.Spec)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), f.Spec.Binds[0].Destination) {
						t.Fatalf("Setup = %v, want %v naming %s", err, tc.wantErr, f.Spec.Binds[0].Destination)
					}
					return
				}
				if err != nil {
					t.Fatalf("Setup: %v", err)
				}
				marker := f.Spec.Binds[0].Destination
				if !tc.fileBind {
					marker += "/marker"
				}
				if b, err := os.ReadFile(marker); err != nil || string(b) != "bound" {
					t.Errorf("read %s through the bind: %q %v", marker, b, err)
				}
				err = os.WriteFile(marker, []byte("changed"), 0o644)
				if tc.readOnly {
					wantErrno(t, "write to the read-only bind", err, unix.EROFS)
				} else if err != nil {
					t.Errorf("write to the bind: %v", err)
				}
			})
			if !parent || tc.wantErr != nil {
				return
			}
			if _, err := os.Lstat(filepath.Join(f.Spec.Root, f.Extra["inside"])); err != nil {
				t.Errorf("the mount point is not at %s in the rootfs: %v", f.Extra["inside"], err)
			}
		})
	}
}

func TestUnsafeMountpointsAreRejected(t *testing.T) {
	for _, tc := range []struct {
		name, entry, link string // link "" means a regular file
		readOnly          bool
		wantMsg           string
	}{
		{name: "dev_symlink_to_host_dir", entry: "dev", link: "/tmp", wantMsg: "rootfs: /dev must not be a symlink"},
		{name: "dev_symlink_inside_root", entry: "dev", link: "root", wantMsg: "rootfs: /dev must not be a symlink"},
		{name: "dev_symlink_read-only_root", entry: "dev", link: "/tmp", readOnly: true,
			wantMsg: "rootfs: /dev must not be a symlink"},
		{name: "dev_regular_file", entry: "dev", wantMsg: "rootfs: /dev must be a directory"},
		{name: "proc_symlink", entry: "proc", link: "/proc",
			wantMsg: "rootfs: /proc must be mounted on an ordinary directory, not a symlink"},
		{name: "sys_symlink", entry: "sys", link: "/sys", wantMsg: "rootfs: /sys must not be a symlink"},
		{name: "tmp_symlink", entry: "tmp", link: "/var/tmp", wantMsg: "rootfs: /tmp must not be a symlink"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inUserNS(t, func(t *testing.T) fixture {
				root := testutil.BusyboxRootfs(t)
				p := filepath.Join(root, tc.entry)
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				var err error
				if tc.link != "" {
					err = os.Symlink(tc.link, p)
				} else {
					err = os.WriteFile(p, nil, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
				return fixture{Spec: Spec{Root: root, ReadOnly: tc.readOnly}}
			}, func(t *testing.T, f fixture) {
				err := Setup(f.Spec)
				if !errors.Is(err, ErrUnsafeMountpoint) || err.Error() != tc.wantMsg {
					t.Fatalf("Setup = %v, want %q (ErrUnsafeMountpoint)", err, tc.wantMsg)
				}
			})
		})
	}
}

// Without a network namespace of its own (hostNetwork), a user-namespaced container may not mount sysfs; Setup
// binds the host's /sys read-only instead.
func TestSysFallsBackToReadOnlyHostSysInTheHostNetns(t *testing.T) {
	inUserNS(t, func(t *testing.T) fixture {
		ents, err := os.ReadDir("/sys/class/net")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return fixture{Spec: Spec{Root: testutil.BusyboxRootfs(t)}, Extra: map[string]string{
			"net":       strings.Join(names, " "),
			"submounts": strconv.Itoa(len(sysSubmounts(t))),
		}}
	}, func(t *testing.T, f fixture) {
		setup(t, f.Spec)
		if got := strings.Join(readDirNames(t, "/sys/class/net"), " "); got != f.Extra["net"] {
			t.Errorf("/sys/class/net = %q, want the host's %q", got, f.Extra["net"])
		}
		if !isReadOnlyMount(t, "/sys") {
			t.Error("/sys is writable")
		}
		// A fresh sysfs would have no submounts; the host's /sys brings its own (cgroup hierarchies here), and
		// every one of them must be read-only too.
		subs := sysSubmounts(t)
		if strconv.Itoa(len(subs)) != f.Extra["submounts"] {
			t.Errorf("/sys has %d submounts, the host's %s: not the host's /sys", len(subs), f.Extra["submounts"])
		}
		for mp, opts := range subs {
			if !slices.Contains(strings.Split(opts, ","), "ro") {
				t.Errorf("%s is mounted %s, want ro", mp, opts)
			}
		}
	}, testutil.WithoutCloneflags(unix.CLONE_NEWNET))
}

// In the host's mount namespace, Setup must not change anything: in a user namespace the kernel refuses the
// very first mount (the namespace belongs to the initial user namespace), and as real root Setup's own check
// refuses (TestCheckOwnMountNamespaceDetectsTheHosts).
func TestSetupChangesNothingInTheHostMountNamespace(t *testing.T) {
	inUserNS(t, func(t *testing.T) fixture {
		return fixture{Spec: Spec{Root: testutil.BusyboxRootfs(t)}}
	}, func(t *testing.T, f fixture) {
		err := Setup(f.Spec)
		if !errors.Is(err, ErrHostMountNamespace) && !errors.Is(err, unix.EPERM) {
			t.Fatalf("Setup in the host's mount namespace = %v, want ErrHostMountNamespace or EPERM", err)
		}
	}, testutil.WithoutCloneflags(unix.CLONE_NEWNS|unix.CLONE_NEWPID))
}

// checkOwnMountNamespace only reads /proc, so it is safe to call in the test's own process.
func TestCheckOwnMountNamespaceDetectsTheHosts(t *testing.T) {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, pid := range []string{"1", "2"} {
		if ns, err := os.Readlink("/proc/" + pid + "/ns/mnt"); err == nil {
			refs = append(refs, ns)
		}
	}
	if len(refs) == 0 {
		t.Skip("cannot read the mount namespace of PID 1 or 2 (not root, or not the host's PID namespace)")
	}
	err = checkOwnMountNamespace()
	if slices.Contains(refs, self) && !errors.Is(err, ErrHostMountNamespace) {
		t.Errorf("in the host's mount namespace %s: got %v, want ErrHostMountNamespace", self, err)
	}
	if !slices.Contains(refs, self) && err != nil {
		t.Errorf("in mount namespace %s (PID 1/2: %v): got %v, want nil", self, refs, err)
	}
}

func TestValidateRejectsBadSpecs(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		spec        Spec
	}{
		{"host_root_without_scratch", "Scratch", Spec{}},
		{"relative_scratch", "Scratch", Spec{Scratch: "state/scratch"}},
		{"relative_root", "Root", Spec{Root: "rootfs"}},
		{"relative_shm_dir", "ShmDir", Spec{Root: "/r", ShmDir: "shm"}},
		{"relative_bind_source", "Binds[0].Source", Spec{Root: "/r", Binds: []Bind{{Source: "x", Destination: "/x"}}}},
		{"relative_bind_destination", "Binds[1].Destination",
			Spec{Root: "/r", Binds: []Bind{{Source: "/x", Destination: "/x"}, {Source: "/x", Destination: "x"}}}},
		{"bind_on_root", "Binds[0].Destination", Spec{Root: "/r", Binds: []Bind{{Source: "/x", Destination: "/a/.."}}}},
		{"bind_under_proc", "Binds[0].Destination",
			Spec{Root: "/r", Binds: []Bind{{Source: "/x", Destination: "/proc/sys/kernel"}}}},
		{"bind_on_sys", "Binds[0].Destination", Spec{Root: "/r", Binds: []Bind{{Source: "/x", Destination: "/sys/"}}}},
		{"nul_in_destination", "Binds[0].Destination", Spec{Root: "/r", Binds: []Bind{{Source: "/x", Destination: "/a\x00b"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.validate()
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("validate = %v, want ErrInvalidSpec naming %s", err, tc.field)
			}
		})
	}
	for _, ok := range []Spec{
		{Scratch: "/state/scratch"},
		{Root: "/r", ReadOnly: true, ShmDir: "/state/shm", Binds: []Bind{{Source: "/v", Destination: "/data/../var/x"}}},
		{Root: "/r", Binds: []Bind{{Source: "/v", Destination: "/processes"}, {Source: "/f", Destination: "/dev/termination-log"}}},
	} {
		if err := ok.validate(); err != nil {
			t.Errorf("validate(%+v) = %v, want nil", ok, err)
		}
	}
}

// sysSubmounts returns the mount points below /sys with their per-mount options, from /proc/self/mountinfo.
func sysSubmounts(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	subs := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if fields := strings.Fields(line); len(fields) > 5 && strings.HasPrefix(fields[4], "/sys/") {
			subs[fields[4]] = fields[5]
		}
	}
	return subs
}
