package image

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/pod"
)

// ErrDigestMismatch is wrapped when a blob's content does not match its
// digest; nothing of it is kept.
var ErrDigestMismatch = errors.New("digest mismatch")

// PullOptions tune Pull and Resolve.
type PullOptions struct {
	// Policy applies to registry references; local transports are read
	// every time (their unpacked layers are reused by diff ID).
	Policy pod.PullPolicy
	// InsecureRegistries may be reached over plain HTTP (besides loopback
	// registries, which always may).
	InsecureRegistries []string
	// Keychain resolves registry credentials; default: ~/.docker/config.json,
	// $REGISTRY_AUTH_FILE and containers' auth.json (authn.DefaultKeychain).
	Keychain authn.Keychain
	// Platform to pick from a multi-platform index; default the host's.
	Platform *v1.Platform
	// Progress receives one line per step (layer fetched and unpacked).
	Progress func(string)
	// Bytes, when set, is called while a layer streams in (at most every
	// 100 ms) with the uncompressed bytes so far and the rate, and once
	// more with done set: for a progress display on a terminal.
	Bytes func(layer string, n int64, bytesPerSec float64, done bool)
}

// HostPlatform is the platform images resolve to.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// StoreName is the name an image reference is recorded under: the full
// registry reference ("index.docker.io/library/nginx:1.25") or the local
// transport's canonical form.
func StoreName(img pod.Image) (string, error) {
	if img.Kind != pod.ImageRegistry {
		return img.String(), nil
	}
	ref, err := name.ParseReference(img.Ref)
	if err != nil {
		return "", err
	}
	return ref.Name(), nil
}

// Pull brings the image into the store (honouring the pull policy for a
// registry reference) and returns its record.
func (s *Store) Pull(ctx context.Context, img pod.Image, o PullOptions) (Record, error) {
	shared, err := flock(s.path("lock"), unix.LOCK_SH)
	if err != nil {
		return Record{}, err
	}
	defer shared.Close()
	return s.pullLocked(ctx, img, o)
}

// PullForUse is Pull, and marks the image used by a running pod (as Use)
// before the store lock is released, so no rmi or prune can slip between.
func (s *Store) PullForUse(ctx context.Context, img pod.Image, o PullOptions) (Record, io.Closer, error) {
	shared, err := flock(s.path("lock"), unix.LOCK_SH)
	if err != nil {
		return Record{}, nil, err
	}
	defer shared.Close()
	rec, err := s.pullLocked(ctx, img, o)
	if err != nil {
		return rec, nil, err
	}
	use, err := s.Use(rec)
	if err != nil {
		return rec, nil, err
	}
	return rec, use, nil
}

func (s *Store) pullLocked(ctx context.Context, img pod.Image, o PullOptions) (Record, error) {
	if !img.IsStored() {
		return Record{}, fmt.Errorf("%s is not an image reference", img)
	}
	storeName, err := StoreName(img)
	if err != nil {
		return Record{}, err
	}
	if img.Kind == pod.ImageRegistry && o.Policy != pod.PullAlways {
		if rec, err := s.Lookup(storeName); err == nil && s.complete(rec) {
			return rec, nil
		}
		if o.Policy == pod.PullNever {
			return Record{}, fmt.Errorf("%w: %s (imagePullPolicy is Never: run `sandbox pull %s` first)", ErrNotFound, storeName, img.Ref)
		}
	}
	plat := HostPlatform()
	if o.Platform != nil {
		plat = *o.Platform
	}
	var v1img v1.Image
	cleanup := func() {}
	defer func() { cleanup() }()
	switch img.Kind {
	case pod.ImageOCI:
		v1img, err = fromLayout(img.Path, img.Tag, plat)
	case pod.ImageOCIArchive:
		var dir string
		dir, err = s.extractArchive(img.Path)
		if err == nil {
			cleanup = func() { removeTree(dir) }
			v1img, err = fromLayout(dir, img.Tag, plat)
		}
	case pod.ImageDockerArchive:
		v1img, err = fromDockerArchive(img.Path, img.Tag)
	case pod.ImageRegistry:
		v1img, err = fromRegistry(ctx, img.Ref, plat, o)
	}
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", img, err)
	}
	rec, err := s.importImage(ctx, v1img, o)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", img, err)
	}
	return s.addImage(rec, storeName)
}

// complete reports whether every layer of rec is unpacked.
func (s *Store) complete(rec Record) bool {
	for _, l := range rec.Layers {
		if _, err := os.Stat(s.LayerDir(l)); err != nil {
			return false
		}
	}
	return true
}

func fromLayout(dir, tag string, plat v1.Platform) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var chosen []v1.Descriptor
	var tags []string
	for _, d := range im.Manifests {
		t := d.Annotations["org.opencontainers.image.ref.name"]
		if t != "" {
			tags = append(tags, t)
		}
		if tag == "" || t == tag {
			chosen = append(chosen, d)
		}
	}
	switch {
	case len(chosen) == 0 && tag != "":
		return nil, fmt.Errorf("no image tagged %q in the layout (tags: %s)", tag, strings.Join(tags, ", "))
	case len(chosen) == 0:
		return nil, errors.New("the layout holds no image")
	case len(chosen) > 1:
		return nil, fmt.Errorf("the layout holds %d images: name one with oci:%s:TAG (tags: %s)", len(chosen), dir, strings.Join(tags, ", "))
	}
	d := chosen[0]
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		return fromIndex(child, plat)
	}
	return idx.Image(d.Digest)
}

// fromIndex picks the image of the platform from a multi-platform index.
func fromIndex(idx v1.ImageIndex, plat v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var seen []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		seen = append(seen, d.Platform.String())
		if d.Platform.OS == plat.OS && d.Platform.Architecture == plat.Architecture &&
			(d.Platform.Variant == "" || plat.Variant == "" || d.Platform.Variant == plat.Variant) {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("no image for platform %s in the index (it has: %s)", plat.String(), strings.Join(seen, ", "))
}

func fromDockerArchive(file, ref string) (v1.Image, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}
	var tag *name.Tag
	if ref != "" {
		t, err := name.NewTag(ref)
		if err != nil {
			return nil, fmt.Errorf("docker-archive reference %q: %w", ref, err)
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(file, tag)
	if err != nil {
		return nil, fmt.Errorf("not a docker archive: %w", err)
	}
	return img, nil
}

// extractArchive unpacks an oci-archive (a tar of a layout) into staging;
// regular files and directories only, every write inside the staging root.
func (s *Store) extractArchive(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	dir, err := os.MkdirTemp(s.path("tmp"), "oci-archive-")
	if err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return dir, nil
		}
		if err != nil {
			removeTree(dir)
			return "", fmt.Errorf("read oci-archive: %w", err)
		}
		n, err := cleanEntryName(hdr.Name)
		if err == nil && n != "." {
			switch hdr.Typeflag {
			case tar.TypeDir:
				err = root.MkdirAll(n, 0o700)
			case tar.TypeReg:
				if err = root.MkdirAll(path.Dir(n), 0o700); err == nil {
					var w *os.File
					if w, err = root.OpenFile(n, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
						_, err = io.Copy(w, tr)
						w.Close()
					}
				}
			}
		}
		if err != nil {
			removeTree(dir)
			return "", fmt.Errorf("oci-archive entry %q: %w", hdr.Name, err)
		}
	}
}

// fromRegistry resolves a registry reference; plain HTTP only to loopback
// registries or those listed as insecure.
func fromRegistry(ctx context.Context, ref string, plat v1.Platform, o PullOptions) (v1.Image, error) {
	var nopts []name.Option
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	host := r.Context().RegistryStr()
	insecure := slices.Contains(o.InsecureRegistries, host)
	if insecure || isLoopback(host) {
		nopts = append(nopts, name.Insecure)
		if r, err = name.ParseReference(ref, nopts...); err != nil {
			return nil, err
		}
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	tr := &httpGuard{base: remote.DefaultTransport, allowed: func(h string) bool {
		return isLoopback(h) || slices.Contains(o.InsecureRegistries, h)
	}}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(plat), remote.WithTransport(tr))
	if err != nil {
		return nil, explainRegistryError(host, err)
	}
	return img, nil
}

// blobMismatch marks go-containerregistry's check of a blob against its
// digest or size (its error type is internal) as ErrDigestMismatch.
func blobMismatch(err error) error {
	if !errors.Is(err, ErrDigestMismatch) && strings.Contains(err.Error(), "error verifying ") {
		return fmt.Errorf("%w: the registry sent a blob that does not match the manifest: %w", ErrDigestMismatch, err)
	}
	return err
}

func explainRegistryError(host string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("unauthorized: log in to %s (credentials are read from ~/.docker/config.json or $REGISTRY_AUTH_FILE): %w", host, err)
		case http.StatusNotFound:
			return fmt.Errorf("manifest unknown: no such image or tag on %s: %w", host, err)
		}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("registry %s unreachable: %w", host, err)
	}
	return err
}

func isLoopback(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// httpGuard refuses plain HTTP to registries that are neither loopback nor
// listed as insecure (go-containerregistry also tries HTTP for RFC 1918 and
// .local names).
type httpGuard struct {
	base    http.RoundTripper
	allowed func(host string) bool
}

func (g *httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allowed(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries, or those given with --insecure-registry, may be reached without TLS", req.URL.Host)
	}
	return g.base.RoundTrip(req)
}

// importImage verifies and unpacks every layer not yet in the store and
// returns the image's record (not yet saved).
func (s *Store) importImage(ctx context.Context, img v1.Image, o PullOptions) (Record, error) {
	m, err := img.Manifest()
	if err != nil {
		return Record{}, fmt.Errorf("read manifest: %w", err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return Record{}, fmt.Errorf("read config: %w", err)
	}
	sum := sha256.Sum256(raw)
	if got := "sha256:" + hex.EncodeToString(sum[:]); m.Config.Digest.String() != got {
		return Record{}, fmt.Errorf("config: %w: the manifest says %s, the blob is %s", ErrDigestMismatch, m.Config.Digest, got)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return Record{}, fmt.Errorf("parse config: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return Record{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return Record{}, err
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return Record{}, fmt.Errorf("the manifest has %d layers, the config %d diff IDs", len(layers), len(cfg.RootFS.DiffIDs))
	}
	rec := Record{ID: hex.EncodeToString(sum[:]), Digest: digest.String(), Pulled: time.Now().UTC(),
		Created: cfg.Created.Time, Config: cfg.Config, Platform: cfg.OS + "/" + cfg.Architecture}
	if cfg.Variant != "" {
		rec.Platform += "/" + cfg.Variant
	}
	var notes unpackStats
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
		diffID := cfg.RootFS.DiffIDs[i].String()
		if i < len(m.Layers) {
			rec.Size += m.Layers[i].Size
		}
		st, err := s.ensureLayer(l, diffID, o)
		if err != nil {
			return Record{}, fmt.Errorf("layer %d (%s): %w", i+1, diffID, blobMismatch(err))
		}
		notes.devices = append(notes.devices, st.devices...)
		notes.ownersLost += st.ownersLost
		rec.Layers = append(rec.Layers, diffID)
	}
	if len(notes.devices) > 0 {
		s.Note(fmt.Sprintf("%d device nodes in the image were skipped (an unprivileged container cannot use them): %s", len(notes.devices), strings.Join(notes.devices[:min(3, len(notes.devices))], ", ")))
	}
	if notes.ownersLost > 0 {
		why := "unpacking without root and without a subordinate id range cannot keep owners"
		if s.helper != nil || os.Geteuid() == 0 {
			why = "their ids are beyond the mapped range"
		}
		s.Note(fmt.Sprintf("%d files of the image belong to container root instead of their owner: %s", notes.ownersLost, why))
	}
	return rec, nil
}

// ensureLayer unpacks the layer unless its diff ID is already in the store.
// One unpacker per diff ID at a time (flock); the result appears by rename,
// so a reader sees a whole layer or none.
func (s *Store) ensureLayer(l v1.Layer, diffID string, o PullOptions) (unpackStats, error) {
	hexID, ok := strings.CutPrefix(diffID, "sha256:")
	if !ok || len(hexID) != 64 || strings.Trim(hexID, "0123456789abcdef") != "" {
		return unpackStats{}, fmt.Errorf("unsupported diff ID %q", diffID)
	}
	dest := s.LayerDir(diffID)
	if _, err := os.Stat(dest); err == nil {
		return unpackStats{}, nil
	}
	lk, err := flock(s.path("locks", hexID), unix.LOCK_EX)
	if err != nil {
		return unpackStats{}, err
	}
	defer lk.Close()
	if _, err := os.Stat(dest); err == nil {
		return unpackStats{}, nil // another pull did it while we waited
	}
	tmp, err := os.MkdirTemp(s.path("tmp"), "layer-")
	if err != nil {
		return unpackStats{}, err
	}
	ok = false
	defer func() {
		if !ok {
			s.removeLayerTree(tmp)
		}
	}()
	start := time.Now()
	rc, err := l.Uncompressed()
	if err != nil {
		return unpackStats{}, fmt.Errorf("open: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(rc, h), start: start}
	if o.Bytes != nil {
		cr.report = func(n int64, rate float64, done bool) { o.Bytes(hexID[:12], n, rate, done) }
	}
	var st unpackStats
	if s.helper != nil {
		st, err = s.helper.unpack(cr, tmp)
	} else {
		st, err = unpackLayer(cr, tmp, unpackOptions{keepOwners: os.Geteuid() == 0})
	}
	if err != nil {
		return st, err
	}
	if _, err := io.Copy(io.Discard, cr); err != nil { // the tar's padding: part of the digest
		return st, err
	}
	if cr.report != nil {
		cr.report(cr.n, cr.rate(), true)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return st, fmt.Errorf("%w: content is %s", ErrDigestMismatch, got)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return st, err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return st, err
	}
	ok = true
	if o.Progress != nil {
		d := time.Since(start)
		o.Progress(fmt.Sprintf("layer %s: %.1f MiB unpacked in %s (%.1f MiB/s)", hexID[:12], float64(cr.n)/(1<<20), d.Round(time.Millisecond), float64(cr.n)/(1<<20)/max(d.Seconds(), 1e-3)))
	}
	return st, nil
}

type countingReader struct {
	r      io.Reader
	n      int64
	start  time.Time
	last   time.Time
	report func(n int64, bytesPerSec float64, done bool)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.report != nil && time.Since(c.last) >= 100*time.Millisecond {
		c.last = time.Now()
		c.report(c.n, c.rate(), false)
	}
	return n, err
}

func (c *countingReader) rate() float64 {
	return float64(c.n) / max(time.Since(c.start).Seconds(), 1e-3)
}
