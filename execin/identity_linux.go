package execin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/nsenter"
)

// Identity is who a container process is, in its own user namespace: what
// an exec'd command and a hook must be too (runc exec takes the same from
// the container's config).
type Identity struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	// Capability sets as bit masks (CapBnd, CapPrm, CapEff, CapInh, CapAmb).
	Bounding    uint64 `json:"capBnd"`
	Permitted   uint64 `json:"capPrm"`
	Effective   uint64 `json:"capEff"`
	Inheritable uint64 `json:"capInh"`
	Ambient     uint64 `json:"capAmb"`
	NoNewPrivs  bool   `json:"noNewPrivs,omitempty"`
	// Seccomp is set when the process runs under a seccomp filter (mode 2):
	// a filter cannot be copied from another process, so the command gets
	// sandbox's default profile for the same capabilities, which is the
	// only filter a container can have.
	Seccomp bool `json:"seccomp,omitempty"`
}

// IdentityOf reads the identity of process pid from /proc, translating its
// ids into its user namespace with its uid_map and gid_map.
func IdentityOf(pid int) (*Identity, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return nil, fmt.Errorf("identity of pid %d: %w", pid, err)
	}
	uidMap, err := os.ReadFile(dir + "/uid_map")
	if err != nil {
		return nil, fmt.Errorf("identity of pid %d: %w", pid, err)
	}
	gidMap, err := os.ReadFile(dir + "/gid_map")
	if err != nil {
		return nil, fmt.Errorf("identity of pid %d: %w", pid, err)
	}
	id, err := parseIdentity(status, uidMap, gidMap)
	if err != nil {
		return nil, fmt.Errorf("identity of pid %d: %w", pid, err)
	}
	return id, nil
}

// parseIdentity reads /proc/PID/status as seen from the caller's user
// namespace (host ids) and maps the ids back through the process's id maps
// as seen from the caller ("inside outside count" lines).
func parseIdentity(status, uidMap, gidMap []byte) (*Identity, error) {
	fields := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			fields[k] = strings.Fields(v)
		}
	}
	id := &Identity{}
	var err error
	hostUID, err := firstID(fields["Uid"], "Uid")
	if err != nil {
		return nil, err
	}
	hostGID, err := firstID(fields["Gid"], "Gid")
	if err != nil {
		return nil, err
	}
	if id.UID, err = mapToInside(uidMap, hostUID); err != nil {
		return nil, fmt.Errorf("uid %d: %w", hostUID, err)
	}
	if id.GID, err = mapToInside(gidMap, hostGID); err != nil {
		return nil, fmt.Errorf("gid %d: %w", hostGID, err)
	}
	for _, g := range fields["Groups"] {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("groups: %q", g)
		}
		if in, err := mapToInside(gidMap, uint32(n)); err == nil {
			id.Groups = append(id.Groups, in)
		}
	}
	for _, c := range []struct {
		key string
		dst *uint64
	}{{"CapBnd", &id.Bounding}, {"CapPrm", &id.Permitted}, {"CapEff", &id.Effective}, {"CapInh", &id.Inheritable}, {"CapAmb", &id.Ambient}} {
		v := fields[c.key]
		if len(v) != 1 {
			if c.key == "CapAmb" {
				continue // kernels before 4.3
			}
			return nil, fmt.Errorf("status: no %s", c.key)
		}
		n, err := strconv.ParseUint(v[0], 16, 64)
		if err != nil {
			return nil, fmt.Errorf("status: %s %q", c.key, v[0])
		}
		*c.dst = n
	}
	if v := fields["NoNewPrivs"]; len(v) == 1 {
		id.NoNewPrivs = v[0] == "1"
	}
	if v := fields["Seccomp"]; len(v) == 1 {
		id.Seccomp = v[0] == "2"
	}
	return id, nil
}

func firstID(v []string, key string) (uint32, error) {
	// Real, effective, saved, filesystem: the effective id is what counts.
	if len(v) < 2 {
		return 0, fmt.Errorf("status: bad %s line", key)
	}
	n, err := strconv.ParseUint(v[1], 10, 32)
	if err != nil {
		return 0, fmt.Errorf("status: bad %s %q", key, v[1])
	}
	return uint32(n), nil
}

func mapToInside(idMap []byte, outside uint32) (uint32, error) {
	for line := range strings.SplitSeq(string(idMap), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		in, err1 := strconv.ParseUint(f[0], 10, 32)
		out, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		if uint64(outside) >= out && uint64(outside) < out+n {
			return uint32(in + (uint64(outside) - out)), nil
		}
	}
	return 0, fmt.Errorf("not mapped in the process's user namespace")
}

// EnvironOf returns the environment process pid was exec'd with. Reading it
// needs ptrace-read access, which the pod's owner has over its containers;
// a process that switched to a subordinate uid has an environ file only
// that uid may open, so it is then read from inside the process's user
// namespace (environInUserns).
func EnvironOf(pid int) ([]string, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if errors.Is(err, os.ErrPermission) && os.Geteuid() != 0 {
		data, err = environInUserns(pid)
	}
	if err != nil {
		return nil, fmt.Errorf("environment of pid %d: %w", pid, err)
	}
	var env []string
	for kv := range strings.SplitSeq(string(data), "\x00") {
		if strings.Contains(kv, "=") {
			env = append(env, kv)
		}
	}
	return env, nil
}

// environInUserns runs the sandbox binary's environ role (nsenter.c,
// run_environ), which joins only pid's user namespace, where the pod's owner
// has CAP_DAC_READ_SEARCH over the subordinate uid, and prints the file.
func environInUserns(pid int) ([]byte, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	var stderr bytes.Buffer
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"sandbox-environ"},
		Env:        []string{nsenter.EnvRole + "=" + nsenter.RoleEnviron, nsenter.EnvPidFD + "=3"},
		ExtraFiles: []*os.File{f},
		Stderr:     &stderr,
	}
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, err
	}
	return out, nil
}
