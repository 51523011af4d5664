// Package idmap decides how a pod's user namespace maps ids: container root
// is the invoking user, and, when the shadow-utils helpers newuidmap and
// newgidmap exist and /etc/subuid and /etc/subgid give the user a range,
// container ids 1..N map to that subordinate range (as rootless Podman does).
// Parsing is pure; writing the maps is in apply_linux.go.
package idmap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Range maps Size ids starting at ContainerID inside the namespace to the
// ids starting at HostID outside it (one line of /proc/PID/uid_map).
type Range struct {
	ContainerID uint32 `json:"containerID"`
	HostID      uint32 `json:"hostID"`
	Size        uint32 `json:"size"`
}

func (r Range) String() string { return fmt.Sprintf("%d %d %d", r.ContainerID, r.HostID, r.Size) }

// Mapping is the uid and gid map of one user namespace.
type Mapping struct {
	UIDs []Range `json:"uids"`
	GIDs []Range `json:"gids"`
	// UseHelpers says the maps must be written by the setuid helpers
	// newuidmap/newgidmap (more than the caller's own id is mapped and the
	// caller is not root).
	UseHelpers bool `json:"useHelpers,omitempty"`
}

// Contains reports whether container uid and gid are both mapped.
func (m Mapping) Contains(uid, gid uint32) bool {
	return contains(m.UIDs, uid) && contains(m.GIDs, gid)
}

// ContainsUID reports whether the container uid is mapped.
func (m Mapping) ContainsUID(uid uint32) bool { return contains(m.UIDs, uid) }

func contains(rs []Range, id uint32) bool {
	for _, r := range rs {
		if id >= r.ContainerID && uint64(id) < uint64(r.ContainerID)+uint64(r.Size) {
			return true
		}
	}
	return false
}

// ErrNoSubordinate is returned by Subordinate when the file has no range for
// the user.
var ErrNoSubordinate = errors.New("no subordinate id range")

// Subordinate returns the first range that /etc/subuid or /etc/subgid (read
// from r) grants to the user, matched by name or by numeric id as
// shadow-utils does. The result's ContainerID is 0; callers place it.
func Subordinate(r io.Reader, user string, id int) (Range, error) {
	sc := bufio.NewScanner(r)
	idStr := strconv.Itoa(id)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) != 3 {
			continue
		}
		if fields[0] != idStr && (user == "" || fields[0] != user) {
			continue
		}
		start, err1 := strconv.ParseUint(fields[1], 10, 32)
		count, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 || start+count > 1<<32-1 {
			continue
		}
		return Range{HostID: uint32(start), Size: uint32(count)}, nil
	}
	if err := sc.Err(); err != nil {
		return Range{}, fmt.Errorf("read subordinate ids: %w", err)
	}
	return Range{}, fmt.Errorf("%w for %q (uid %d)", ErrNoSubordinate, user, id)
}

// Single maps container root to one host id (uid and gid), nothing else.
func Single(uid, gid uint32) Mapping {
	return Mapping{
		UIDs: []Range{{ContainerID: 0, HostID: uid, Size: 1}},
		GIDs: []Range{{ContainerID: 0, HostID: gid, Size: 1}},
	}
}

// Identity maps the caller's uid and gid to themselves and nothing else
// (keep-id): processes inside run as the caller, with no root.
func Identity(uid, gid uint32) Mapping {
	return Mapping{
		UIDs: []Range{{ContainerID: uid, HostID: uid, Size: 1}},
		GIDs: []Range{{ContainerID: gid, HostID: gid, Size: 1}},
	}
}

// WithSubordinate maps container root to the caller and container ids
// 1..N to the subordinate ranges, capped at 65535 ids (ids 1-65535 are what
// images use; a larger range is left for other pods).
func WithSubordinate(uid, gid uint32, subUID, subGID Range) Mapping {
	capSize := func(n uint32) uint32 { return min(n, 65535) }
	return Mapping{
		UIDs:       []Range{{0, uid, 1}, {1, subUID.HostID, capSize(subUID.Size)}},
		GIDs:       []Range{{0, gid, 1}, {1, subGID.HostID, capSize(subGID.Size)}},
		UseHelpers: true,
	}
}
