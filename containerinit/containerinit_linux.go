// Package containerinit is the first Go code that runs inside a pod: the
// process the nsenter constructor left in the pod's namespaces and a fresh
// mount namespace. It reads its Config from the supervisor, brings up
// loopback, builds the container's filesystem, and execs the workload. A
// failure before exec is reported on a close-on-exec pipe, so the supervisor
// tells "could not start" (125/126/127) from the workload's own exit code: a
// successful exec closes the pipe with nothing written.
package containerinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/netsetup"
	"github.com/podsandbox/sandbox/rootfs"
)

// Environment variables naming the descriptors the supervisor passes.
const (
	EnvConfigFD = "_SANDBOX_CONFIG_FD"
	EnvErrorFD  = "_SANDBOX_ERROR_FD"
	// EnvVolumeFD names the unix socket a volume helper (Config.MakeTmpfs)
	// sends its mount descriptors on.
	EnvVolumeFD = "_SANDBOX_VOLUME_FD"
)

// Exit codes of a container that could not start (podman's convention).
const (
	ExitSetupFailed   = 125
	ExitCannotExecute = 126
	ExitNotFound      = 127
)

// DefaultPath is the PATH of a container whose manifest sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config is everything the init needs, sent by the supervisor as JSON.
type Config struct {
	Name string      `json:"name"`
	FS   rootfs.Spec `json:"fs"`
	Argv []string    `json:"argv"`
	// Env is the complete environment of the workload, KEY=VALUE.
	Env        []string `json:"env"`
	WorkingDir string   `json:"workingDir"`
	// Pod, set for the first container started in a pod only, is the
	// pod-wide setup that must happen from inside the pod's namespaces.
	Pod *PodSetup `json:"pod,omitempty"`
	// Security is applied right before exec; nil leaves the init's
	// credentials (root in the pod, every capability) as they are.
	Security *Security `json:"security,omitempty"`
	// BecomeRoot: the init joined the pod's user namespace keeping its host
	// ids (possibly before the namespace had id maps: see nsenter.c, join)
	// and takes uid and gid 0 of the namespace before anything else. Unset
	// in keep-id mode and without a user namespace.
	BecomeRoot bool `json:"becomeRoot,omitempty"`
	// MakeTmpfs turns the init into a volume helper: instead of running a
	// workload it creates these tmpfs instances as detached mounts and
	// sends their descriptors, in order, on the socket EnvVolumeFD names,
	// then exits 0. See supervisor/volumes_linux.go.
	MakeTmpfs []Tmpfs `json:"makeTmpfs,omitempty"`
	// RemoveAll turns the init into a cleanup helper: it removes these host
	// paths (emptyDir volumes in the state directory) as root of the pod's
	// user namespace, which may remove files that subordinate uids own and
	// the invoking user cannot, then exits 0.
	RemoveAll []string `json:"removeAll,omitempty"`
}

// Tmpfs is one Memory emptyDir.
type Tmpfs struct {
	Name string `json:"name"`
	// SizeBytes is the size limit; 0 leaves the kernel's default (half of
	// RAM).
	SizeBytes int64 `json:"sizeBytes,omitempty"`
}

// PodSetup is what the first container init does for the whole pod: the
// pause cannot, as it has no capabilities (see nsenter.c).
type PodSetup struct {
	Hostname string `json:"hostname"`
	// HostNetwork: the pod uses the host's network namespace, whose lo is
	// not ours to configure.
	HostNetwork bool `json:"hostNetwork,omitempty"`
}

// Failure is what the init writes on the error pipe when it cannot start the
// workload.
type Failure struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (f *Failure) Error() string { return f.Message }

// Main runs the container init and never returns: it execs the workload or
// exits with a start-failure code.
func Main() {
	// First of all: this process runs the sandbox binary inside the pod, and
	// the invoking user, who is root in the pod, may own that binary. Non-
	// dumpable, its /proc/PID/exe, mem and fds are reachable only with
	// CAP_SYS_PTRACE over the user namespace its memory belongs to, the
	// host's (CVE-2019-5736). execve resets the flag for the workload.
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	openExplain() // explain_linux.go: sandbox run --explain only
	errPipe := FileFromEnv(EnvErrorFD, "error-pipe")
	err := run(fdFromEnv(EnvConfigFD))
	if errors.Is(err, errHelperDone) {
		os.Exit(0)
	}
	ExitWithFailure(errPipe, "sandbox init", err)
}

// ExitWithFailure reports err, which kept the workload from starting, as a
// Failure (JSON) on errPipe, or on stderr prefixed with who when there is
// no pipe, and exits with the failure's code (125 unless err is a Failure).
func ExitWithFailure(errPipe *os.File, who string, err error) {
	var f *Failure
	if !errors.As(err, &f) {
		f = &Failure{Code: ExitSetupFailed, Message: err.Error()}
	}
	if errPipe != nil {
		data, _ := json.Marshal(f)
		errPipe.Write(data)
	} else {
		fmt.Fprintln(os.Stderr, who+":", f.Message)
	}
	os.Exit(f.Code)
}

// FileFromEnv is the inherited descriptor (3 or above) that environment
// variable env names, or nil.
func FileFromEnv(env, name string) *os.File {
	fd := fdFromEnv(env)
	if fd < 0 {
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}

func fdFromEnv(name string) int {
	var fd int
	if _, err := fmt.Sscanf(os.Getenv(name), "%d", &fd); err != nil || fd < 3 {
		return -1
	}
	return fd
}

func run(cfgFD int) error {
	if cfgFD < 0 {
		return fmt.Errorf("container init: %s not set", EnvConfigFD)
	}
	cfgFile := os.NewFile(uintptr(cfgFD), "config")
	data, err := io.ReadAll(io.LimitReader(cfgFile, 64<<20))
	cfgFile.Close()
	if err != nil {
		return fmt.Errorf("read container config: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("decode container config: %w", err)
	}
	if cfg.BecomeRoot {
		if err := becomeRoot(); err != nil {
			return err
		}
	}
	if len(cfg.MakeTmpfs) > 0 {
		return makeTmpfs(cfg.MakeTmpfs, fdFromEnv(EnvVolumeFD))
	}
	if len(cfg.RemoveAll) > 0 {
		return removeAll(cfg.RemoveAll)
	}
	if len(cfg.Argv) == 0 {
		return errors.New("container config: empty argv")
	}
	if cfg.Pod != nil {
		if err := unix.Sethostname([]byte(cfg.Pod.Hostname)); err != nil {
			return fmt.Errorf("set pod hostname %q: %w", cfg.Pod.Hostname, err)
		}
		explainf("sethostname(%q): the pod's UTS namespace, shared by every container", cfg.Pod.Hostname)
		if cfg.Pod.HostNetwork {
			// nothing: the host's network is used as it is
		} else if err := netsetup.LoopbackUp(); err != nil {
			return fmt.Errorf("pod network: %w", err)
		} else {
			explainf("netlink RTM_NEWLINK lo IFF_UP: 127.0.0.1 and ::1 work in the pod's network namespace")
		}
	}
	if err := rootfs.Setup(cfg.FS); err != nil {
		return fmt.Errorf("container %s: set up root filesystem: %w", cfg.Name, err)
	}
	if err := enterWorkingDir(cfg.WorkingDir); err != nil {
		return fmt.Errorf("container %s: %w", cfg.Name, err)
	}
	path, err := LookPath(cfg.Argv[0], EnvValue(cfg.Env, "PATH", DefaultPath))
	if err != nil {
		return err
	}
	if cfg.Security != nil {
		if err := applySecurity(cfg.Security); err != nil {
			return fmt.Errorf("container %s: %w", cfg.Name, err)
		}
		if explainOut != nil {
			explainSecurity(cfg.Security)
		}
	}
	// Only 0, 1 and 2 reach the workload (CVE-2024-21626 leaked a directory
	// fd): everything else, including the error pipe, closes on exec.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("mark descriptors close-on-exec: %w", err)
	}
	if explainOut != nil {
		explainf("execve(%q, %s): descriptors above 2 closed, the init becomes the workload", path, shortArgv(cfg.Argv))
	}
	err = unix.Exec(path, cfg.Argv, cfg.Env)
	return ExecFailure(cfg.Argv[0], err)
}

// becomeRoot takes uid and gid 0 of the user namespace the init joined. As
// host root in a pod with hostUsers: false, the ids setns kept are unmapped
// inside and every file created would fail with EOVERFLOW; rootless, the
// invoking user's ids already map to 0 and this changes nothing. setgroups
// is denied in a namespace mapped without newgidmap (EPERM): fine, the
// groups are then the caller's and stay. syscall's calls apply to every
// thread of the process.
func becomeRoot() error {
	if err := syscall.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("setresgid 0 in the pod's user namespace: %w", err)
	}
	if err := syscall.Setgroups(nil); err != nil && !errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("setgroups in the pod's user namespace: %w", err)
	}
	if err := syscall.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("setresuid 0 in the pod's user namespace: %w", err)
	}
	// A change of ids may have made the process dumpable again (see Main).
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	return nil
}

// enterWorkingDir changes to dir inside the new root and checks where it
// landed: a path that resolves elsewhere (through a symlink or a leaked
// descriptor, the CVE-2024-21626 shape) is refused.
func enterWorkingDir(dir string) error {
	if dir == "" {
		dir = "/"
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("workingDir %s: %w", dir, err)
	}
	cwd, err := unix.Getwd()
	if err != nil {
		return fmt.Errorf("workingDir %s: getcwd: %w", dir, err)
	}
	if !strings.HasPrefix(cwd, "/") {
		return fmt.Errorf("workingDir %s: resolves outside the container root (%q)", dir, cwd)
	}
	return nil
}

// EnvValue returns the last value of key in a KEY=VALUE environment.
func EnvValue(env []string, key, fallback string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return fallback
}

// LookPath finds the command in the container's root (the init has already
// pivoted, so "/" is the container's) the way a shell would.
func LookPath(name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", err
		}
		return name, nil
	}
	var firstErr error
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		var f *Failure
		if errors.As(err, &f) && f.Code == ExitCannotExecute && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", &Failure{Code: ExitNotFound, Message: fmt.Sprintf("exec %q: executable file not found in $PATH", name)}
}

func checkExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &Failure{Code: ExitNotFound, Message: fmt.Sprintf("exec %q: no such file or directory", p)}
		}
		return &Failure{Code: ExitCannotExecute, Message: fmt.Sprintf("exec %q: %v", p, err)}
	}
	if st.IsDir() {
		return &Failure{Code: ExitCannotExecute, Message: fmt.Sprintf("exec %q: is a directory", p)}
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return &Failure{Code: ExitCannotExecute, Message: fmt.Sprintf("exec %q: permission denied", p)}
	}
	return nil
}

// ExecFailure classifies a failed execve of name: 127 not found, 126 cannot
// execute, 125 otherwise.
func ExecFailure(name string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return &Failure{Code: ExitNotFound, Message: fmt.Sprintf("exec %q: %v", name, err)}
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EPERM), errors.Is(err, unix.EISDIR):
		return &Failure{Code: ExitCannotExecute, Message: fmt.Sprintf("exec %q: %v", name, err)}
	default:
		return &Failure{Code: ExitSetupFailed, Message: fmt.Sprintf("exec %q: %v", name, err)}
	}
}
