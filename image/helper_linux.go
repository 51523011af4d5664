package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strings"

	"github.com/podsandbox/sandbox/internal/idmap"
)

// Rootless unpacking keeps the owners of the image's files when the user has
// a subordinate id range: the layer is unpacked by a helper (this binary,
// HelperCommand) running as root of a user namespace with the same id
// mapping as the user's pods (container uid 0 -> the user, 1..65535 -> the
// subordinate range), entered with util-linux unshare, which writes the map
// through newuidmap/newgidmap. Removing such a layer needs the same user
// namespace (its directories belong to subordinate ids), so rmi and prune use
// the helper too.

// HelperCommand is the hidden command of the sandbox binary that runs
// RunHelper.
const HelperCommand = "__image-helper"

// helper is how the store reaches a user namespace with the user's mapping;
// nil means unpacking in-process (root, or no subordinate range).
type helper struct {
	exe     string
	unshare []string // unshare and its flags
}

// EnableHelper makes the store unpack and remove layers in a user namespace
// when the caller is unprivileged and has a subordinate id range; exe is the
// sandbox binary (it must handle HelperCommand through RunHelper). Without a
// range it does nothing, and unpacking gives every file to container root
// with one note.
func (s *Store) EnableHelper(exe string) {
	h, err := newHelper(exe)
	if err != nil {
		s.Note(fmt.Sprintf("cannot unpack images in a user namespace (%v): files of the image will belong to container root", err))
		return
	}
	s.helper = h
}

// newHelper is the helper for the caller: nil without an error when none is
// needed or possible (root, no subordinate range, no unshare), nil with the
// reason when unshare cannot make the mapping.
func newHelper(exe string) (*helper, error) {
	if os.Geteuid() == 0 || exe == "" {
		return nil, nil
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nil, nil
	}
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	d := idmap.ForUser(os.Geteuid(), os.Getegid(), name)
	if d.Fallback != "" {
		return nil, nil
	}
	args := []string{unshare, "--user", "--map-root-user"}
	for _, r := range d.Mapping.UIDs {
		if r.ContainerID != 0 {
			args = append(args, fmt.Sprintf("--map-users=%d,%d,%d", r.HostID, r.ContainerID, r.Size))
		}
	}
	for _, r := range d.Mapping.GIDs {
		if r.ContainerID != 0 {
			args = append(args, fmt.Sprintf("--map-groups=%d,%d,%d", r.HostID, r.ContainerID, r.Size))
		}
	}
	h := &helper{exe: exe, unshare: args}
	// unshare before util-linux 2.38 has no --map-users: check once.
	if err := h.run(nil, io.Discard, "check"); err != nil {
		return nil, err
	}
	return h, nil
}

// RemoveTree removes dir and everything below it. What the caller cannot
// remove itself (files of its subordinate ids: what a rootless pod's
// containers wrote as a non-root uid, in an image's writable layer or an
// emptyDir, left behind when the supervisor was killed before it removed
// them from inside the pod) is removed by the helper, root of a user
// namespace with the pods' mapping. exe is the sandbox binary.
func RemoveTree(exe, dir string) error {
	err := removeTree(dir)
	if err == nil {
		return nil
	}
	h, herr := newHelper(exe)
	if h == nil {
		if herr != nil {
			return fmt.Errorf("%w (no user-namespace helper: %v)", err, herr)
		}
		return err
	}
	if herr := h.run(nil, io.Discard, "remove", dir); herr != nil {
		return fmt.Errorf("%w (and in a user namespace: %v)", err, herr)
	}
	return nil
}

func (h *helper) run(stdin io.Reader, stdout io.Writer, args ...string) error {
	cmd := exec.Command(h.unshare[0], append(append(h.unshare[1:], "--", h.exe, HelperCommand), args...)...)
	var stderr bytes.Buffer
	var in *readErr
	if stdin != nil {
		in = &readErr{r: stdin}
		cmd.Stdin = in
	}
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	if err := cmd.Run(); err != nil {
		// A stream that failed on this side (a corrupt blob, a digest
		// mismatch) is the cause; the helper only saw its input end early.
		if in != nil && in.err != nil {
			return fmt.Errorf("read layer: %w", in.err)
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return errors.New(strings.TrimPrefix(msg, "sandbox: error: "))
		}
		return err
	}
	return nil
}

// readErr remembers the first error of r other than io.EOF.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// helperStats is unpackStats on the wire.
type helperStats struct {
	Devices      []string `json:"devices,omitempty"`
	OwnersLost   int      `json:"ownersLost,omitempty"`
	XattrsFailed int      `json:"xattrsFailed,omitempty"`
}

// unpack unpacks the tar on r into dir in the user namespace.
func (h *helper) unpack(r io.Reader, dir string) (unpackStats, error) {
	var out bytes.Buffer
	if err := h.run(r, &out, "unpack", dir); err != nil {
		return unpackStats{}, err
	}
	var hs helperStats
	if err := json.Unmarshal(out.Bytes(), &hs); err != nil {
		return unpackStats{}, fmt.Errorf("unpack helper: %w", err)
	}
	return unpackStats{devices: hs.Devices, ownersLost: hs.OwnersLost, xattrsFailed: hs.XattrsFailed}, nil
}

// RunHelper is the body of the hidden HelperCommand: "check", "unpack DIR"
// (a layer tar on stdin, stats as JSON on stdout) or "remove DIR". It runs
// as root of the user namespace unshare made.
func RunHelper(args []string) error {
	switch {
	case len(args) == 1 && args[0] == "check":
		return nil
	case len(args) == 2 && args[0] == "unpack":
		st, err := unpackLayer(os.Stdin, args[1], unpackOptions{keepOwners: true})
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil { // the parent hashes everything it sends
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(helperStats{Devices: st.devices, OwnersLost: st.ownersLost, XattrsFailed: st.xattrsFailed})
	case len(args) == 2 && args[0] == "remove":
		return removeTree(args[1])
	}
	return fmt.Errorf("usage: %s check | unpack DIR | remove DIR", HelperCommand)
}
