// Package image pulls OCI and Docker images from registries and local
// archives into a content-addressed per-user store, unpacks their layers
// once per diff ID (shared by every pod), and gives the supervisor the layer
// directories and the image config of a container's image.
//
// Store layout (see docs/IMAGES.md):
//
//	ROOT/lock                   flock: shared while pulling or resolving, exclusive for rmi and prune
//	ROOT/meta.lock              flock: exclusive while image records change
//	ROOT/layers/HEX/            an unpacked layer, named by the hex of its diff ID (sha256)
//	ROOT/locks/HEX              flock: one unpacker per layer at a time
//	ROOT/locks/image-HEX        flock: shared by every running pod of image HEX
//	ROOT/images/HEX.json        one image: its names, manifest digest, layers and config
//	ROOT/tmp/                   staging; a layer becomes visible only by rename(2)
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/lockfile"
)

// ErrNotFound is wrapped when no stored image has the asked name or ID.
var ErrNotFound = errors.New("image not found in the store")

// ErrInUse is wrapped when rmi is asked to remove an image a running pod uses.
var ErrInUse = errors.New("image is in use by a running pod")

// Record is one stored image.
type Record struct {
	// ID is the hex of the config digest (as Docker's image ID).
	ID string `json:"id"`
	// Names are the references it was pulled or imported as; a name belongs
	// to one image at a time, so pulling a newer image takes it over.
	Names  []string `json:"names"`
	Digest string   `json:"digest"` // manifest digest
	// Layers are the diff IDs, bottom first.
	Layers   []string  `json:"layers"`
	Size     int64     `json:"size"` // compressed layer bytes
	Created  time.Time `json:"created,omitzero"`
	Pulled   time.Time `json:"pulled"`
	Platform string    `json:"platform,omitempty"`
	Config   v1.Config `json:"config"`
}

// Store is the image store of one user.
type Store struct {
	Root string
	// Note receives one-time remarks for the user (owners not kept, device
	// nodes skipped).
	Note func(string)
	// helper unpacks and removes layers in a user namespace (EnableHelper).
	helper *helper
}

// RemoveTree removes a directory tree whose files may belong to subordinate
// ids (a container's upper directory), through the helper when enabled.
func (s *Store) RemoveTree(dir string) error { return s.removeLayerTree(dir) }

// removeLayerTree removes a layer or staging directory, through the helper
// when its files may belong to subordinate ids.
func (s *Store) removeLayerTree(dir string) error {
	if s.helper != nil {
		if err := s.helper.run(nil, io.Discard, "remove", dir); err == nil {
			return nil
		}
	}
	return removeTree(dir)
}

// EnvStore, when set, overrides DefaultRoot (tests, or a store elsewhere).
const EnvStore = "SANDBOX_IMAGE_STORE"

// DefaultRoot is $SANDBOX_IMAGE_STORE if set, else $XDG_DATA_HOME/sandbox, ~/.local/share/sandbox without it,
// and /var/lib/sandbox for root.
func DefaultRoot() (string, error) {
	if d := os.Getenv(EnvStore); d != "" {
		if !filepath.IsAbs(d) {
			return "", fmt.Errorf("$%s=%q: not an absolute path", EnvStore, d)
		}
		return d, nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/sandbox", nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "sandbox"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("image store: no $XDG_DATA_HOME and no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "sandbox"), nil
}

// Open creates the store's directories if needed.
func Open(root string) (*Store, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("image store %q: not an absolute path", root)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	for _, d := range []string{"layers", "locks", "images", "tmp"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	// Layer directories are lower directories of container mounts: they
	// must be reachable by container root (the caller) and, rootful, by
	// nobody else.
	return &Store{Root: root, Note: func(string) {}}, nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.Root}, elem...)...)
}

// LayerDir is the unpacked directory of the diff ID ("sha256:HEX").
func (s *Store) LayerDir(diffID string) string {
	return s.path("layers", strings.TrimPrefix(diffID, "sha256:"))
}

// lock is a held flock.
type lock struct{ f *os.File }

func (l *lock) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func flock(path string, how int) (*lock, error) {
	f, err := lockfile.Lock(path, how)
	if err != nil {
		return nil, err
	}
	return &lock{f}, nil
}

// Images lists the stored images, newest first.
func (s *Store) Images() ([]Record, error) {
	entries, err := os.ReadDir(s.path("images"))
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, err := s.record(id)
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b Record) int { return b.Pulled.Compare(a.Pulled) })
	return out, nil
}

func (s *Store) record(id string) (Record, error) {
	var rec Record
	data, err := os.ReadFile(s.path("images", id+".json"))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("image record %s: %w", id, err)
	}
	return rec, nil
}

func (s *Store) writeRecord(rec *Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.path("tmp"), "record-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path("images", rec.ID+".json"))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write image record: %w", err)
	}
	return nil
}

// addImage records rec under name, taking the name from any other image.
func (s *Store) addImage(rec Record, name string) (Record, error) {
	l, err := flock(s.path("meta.lock"), unix.LOCK_EX)
	if err != nil {
		return rec, err
	}
	defer l.Close()
	all, err := s.Images()
	if err != nil {
		return rec, err
	}
	for _, other := range all {
		if other.ID == rec.ID {
			rec.Names = other.Names
			continue
		}
		if i := slices.Index(other.Names, name); i >= 0 {
			other.Names = slices.Delete(other.Names, i, i+1)
			if err := s.writeRecord(&other); err != nil {
				return rec, err
			}
		}
	}
	if !slices.Contains(rec.Names, name) {
		rec.Names = append(rec.Names, name)
	}
	return rec, s.writeRecord(&rec)
}

// Lookup finds an image by one of its names, or by its ID or a unique
// prefix of at least 4 hex digits (optionally "sha256:").
func (s *Store) Lookup(nameOrID string) (Record, error) {
	all, err := s.Images()
	if err != nil {
		return Record{}, err
	}
	for _, r := range all {
		if slices.Contains(r.Names, nameOrID) {
			return r, nil
		}
	}
	id := strings.TrimPrefix(nameOrID, "sha256:")
	var found []Record
	if len(id) >= 4 && strings.Trim(id, "0123456789abcdef") == "" {
		for _, r := range all {
			if strings.HasPrefix(r.ID, id) {
				found = append(found, r)
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return Record{}, fmt.Errorf("%w: %s", ErrNotFound, nameOrID)
	}
	return Record{}, fmt.Errorf("%s: ambiguous ID prefix (%d images)", nameOrID, len(found))
}

// Remove deletes an image by name or ID, refusing one a running pod uses,
// then garbage-collects layers nothing references. With a name and other
// names left, only the name goes (as docker rmi).
func (s *Store) Remove(nameOrID string) (removed bool, err error) {
	big, err := flock(s.path("lock"), unix.LOCK_EX)
	if err != nil {
		return false, err
	}
	defer big.Close()
	rec, err := s.Lookup(nameOrID)
	if err != nil {
		return false, err
	}
	if i := slices.Index(rec.Names, nameOrID); i >= 0 && len(rec.Names) > 1 {
		rec.Names = slices.Delete(rec.Names, i, i+1)
		return false, s.writeRecord(&rec)
	}
	use, err := flock(s.path("locks", "image-"+rec.ID), unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, fmt.Errorf("%s: %w", nameOrID, ErrInUse)
		}
		return false, err
	}
	defer use.Close()
	if err := os.Remove(s.path("images", rec.ID+".json")); err != nil {
		return false, err
	}
	os.Remove(s.path("locks", "image-"+rec.ID))
	_, err = s.gcLocked()
	return true, err
}

// Prune removes images without names that no running pod uses, layers no
// image references and staging left by interrupted pulls. It returns the
// number of layers removed.
func (s *Store) Prune() (images, layers int, err error) {
	big, err := flock(s.path("lock"), unix.LOCK_EX)
	if err != nil {
		return 0, 0, err
	}
	defer big.Close()
	all, err := s.Images()
	if err != nil {
		return 0, 0, err
	}
	for _, rec := range all {
		if len(rec.Names) > 0 {
			continue
		}
		use, err := flock(s.path("locks", "image-"+rec.ID), unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue
		}
		if os.Remove(s.path("images", rec.ID+".json")) == nil {
			images++
			os.Remove(s.path("locks", "image-"+rec.ID))
		}
		use.Close()
	}
	layers, err = s.gcLocked()
	return images, layers, err
}

// gcLocked removes unreferenced layers and all staging; the caller holds
// the store lock exclusively, so no pull is running.
func (s *Store) gcLocked() (int, error) {
	all, err := s.Images()
	if err != nil {
		return 0, err
	}
	used := map[string]bool{}
	for _, rec := range all {
		for _, l := range rec.Layers {
			used[strings.TrimPrefix(l, "sha256:")] = true
		}
	}
	entries, err := os.ReadDir(s.path("layers"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if used[e.Name()] {
			continue
		}
		if err := s.removeLayerTree(s.path("layers", e.Name())); err != nil {
			return n, err
		}
		os.Remove(s.path("locks", e.Name()))
		n++
	}
	tmp, _ := os.ReadDir(s.path("tmp"))
	for _, e := range tmp {
		s.removeLayerTree(s.path("tmp", e.Name()))
	}
	return n, nil
}

// removeTree removes a tree whose directories may be read-only (image
// layers often have them), making each writable first.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// LayerDirs are the unpacked layer directories of rec, bottom first.
func (s *Store) LayerDirs(rec Record) []string {
	var out []string
	for _, l := range rec.Layers {
		out = append(out, s.LayerDir(l))
	}
	return out
}

// Use marks rec as used by a running pod until the returned lock is closed
// (or the process exits): rmi refuses it meanwhile.
func (s *Store) Use(rec Record) (*lock, error) {
	return flock(s.path("locks", "image-"+rec.ID), unix.LOCK_SH)
}
