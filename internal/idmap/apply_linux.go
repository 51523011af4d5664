package idmap

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Files that hold the subordinate ranges (shadow-utils).
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// Decision is the mapping chosen for a rootless pod and, when it had to fall
// back to the single mapping, why.
type Decision struct {
	Mapping Mapping
	// Fallback is non-empty when only container root is mapped; it names
	// what is missing and how to fix it.
	Fallback string
}

// ForUser chooses the mapping for the unprivileged caller uid/gid: the
// subordinate ranges when the helpers and ranges exist, else the single
// mapping with a reason.
func ForUser(uid, gid int, username string) Decision {
	single := Single(uint32(uid), uint32(gid))
	newuidmap, err1 := exec.LookPath("newuidmap")
	newgidmap, err2 := exec.LookPath("newgidmap")
	if err1 != nil || err2 != nil || newuidmap == "" || newgidmap == "" {
		return Decision{Mapping: single, Fallback: "newuidmap/newgidmap not found (install the uidmap package and add a range for the user to /etc/subuid and /etc/subgid)"}
	}
	subUID, err := readSubordinate(SubUIDFile, username, uid)
	if err != nil {
		return Decision{Mapping: single, Fallback: fmt.Sprintf("%v in %s (add one, e.g. with usermod --add-subuids 100000-165535 %s)", err, SubUIDFile, username)}
	}
	subGID, err := readSubordinate(SubGIDFile, username, gid)
	if err != nil {
		return Decision{Mapping: single, Fallback: fmt.Sprintf("%v in %s (add one, e.g. with usermod --add-subgids 100000-165535 %s)", err, SubGIDFile, username)}
	}
	return Decision{Mapping: WithSubordinate(uint32(uid), uint32(gid), subUID, subGID)}
}

// ForRoot is the mapping of a pod with hostUsers: false started by root:
// container ids 0..65535 map to root's subordinate range, so container root
// is not host root.
func ForRoot() (Mapping, error) {
	subUID, err := readSubordinate(SubUIDFile, "root", 0)
	if err != nil {
		return Mapping{}, fmt.Errorf("hostUsers: false needs a subordinate range for root in %s: %w", SubUIDFile, err)
	}
	subGID, err := readSubordinate(SubGIDFile, "root", 0)
	if err != nil {
		return Mapping{}, fmt.Errorf("hostUsers: false needs a subordinate range for root in %s: %w", SubGIDFile, err)
	}
	return Mapping{
		UIDs: []Range{{0, subUID.HostID, min(subUID.Size, 65536)}},
		GIDs: []Range{{0, subGID.HostID, min(subGID.Size, 65536)}},
	}, nil
}

func readSubordinate(path, user string, id int) (Range, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Range{}, fmt.Errorf("%w: %s does not exist", ErrNoSubordinate, path)
		}
		return Range{}, fmt.Errorf("read %s: %w", path, err)
	}
	return Subordinate(bytes.NewReader(data), user, id)
}

// Apply writes the maps of the user namespace of process pid. Maps with more
// than the caller's own id go through newuidmap/newgidmap when the caller is
// not root; the single mapping is written directly after denying setgroups,
// which the kernel requires of an unprivileged writer of gid_map.
func Apply(pid int, m Mapping) error {
	if !m.Direct() {
		// The two setuid helpers are independent and each costs a few
		// milliseconds (a setuid exec, PAM-free but with secure-mode
		// dynamic loading): run them at once.
		gidErr := make(chan error, 1)
		go func() { gidErr <- runHelper("newgidmap", pid, m.GIDs) }()
		uidErr := runHelper("newuidmap", pid, m.UIDs)
		return errors.Join(uidErr, <-gidErr)
	}
	proc := "/proc/" + strconv.Itoa(pid)
	if os.Geteuid() != 0 {
		if err := os.WriteFile(proc+"/setgroups", []byte("deny"), 0); err != nil {
			return fmt.Errorf("write %s/setgroups: %w", proc, err)
		}
	}
	if err := os.WriteFile(proc+"/gid_map", []byte(Format(m.GIDs)), 0); err != nil {
		return fmt.Errorf("write %s/gid_map: %w", proc, err)
	}
	if err := os.WriteFile(proc+"/uid_map", []byte(Format(m.UIDs)), 0); err != nil {
		return fmt.Errorf("write %s/uid_map: %w", proc, err)
	}
	return nil
}

// Direct tells whether the caller may write m itself (root, or only its own
// ids), rather than through newuidmap/newgidmap. An unprivileged writer must
// deny setgroups first.
func (m Mapping) Direct() bool { return !m.UseHelpers || os.Geteuid() == 0 }

// Format is the text of a uid_map or gid_map: one "inside outside size"
// line per range.
func Format(rs []Range) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func runHelper(name string, pid int, rs []Range) error {
	args := []string{strconv.Itoa(pid)}
	for _, r := range rs {
		args = append(args, strconv.FormatUint(uint64(r.ContainerID), 10),
			strconv.FormatUint(uint64(r.HostID), 10), strconv.FormatUint(uint64(r.Size), 10))
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
