package image

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/podsandbox/sandbox/image/imagetest"
	"github.com/podsandbox/sandbox/pod"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func parse(t *testing.T, ref string) pod.Image {
	t.Helper()
	img, err := pod.ParseImage(ref)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// checkBusybox checks the record and the unpacked layers of imagetest.Busybox.
func checkBusybox(t *testing.T, s *Store, rec Record) {
	t.Helper()
	if len(rec.Layers) != 2 || rec.Config.WorkingDir != "/data" || len(rec.Config.Entrypoint) != 2 {
		t.Fatalf("record: %+v", rec)
	}
	dirs := s.LayerDirs(rec)
	if _, err := os.Stat(filepath.Join(dirs[0], "bin/busybox")); err != nil {
		t.Error(err)
	}
	if data, err := os.ReadFile(filepath.Join(dirs[1], "etc/motd")); err != nil || string(data) != "hello from the image\n" {
		t.Errorf("motd: %q %v", data, err)
	}
}

func TestPullLocalTransports(t *testing.T) {
	img := imagetest.Busybox(t)
	src := t.TempDir()
	imagetest.WriteLayout(t, filepath.Join(src, "layout"), img, "v1")
	imagetest.WriteDockerArchive(t, filepath.Join(src, "docker.tar"), img, "example.com/busybox:v1")
	imagetest.WriteOCIArchive(t, filepath.Join(src, "oci.tar"), img, "v1")
	s := newStore(t)
	var first Record
	for i, ref := range []string{"oci:" + src + "/layout:v1", "oci:" + src + "/layout", "docker-archive:" + src + "/docker.tar", "docker-archive:" + src + "/docker.tar:example.com/busybox:v1", "oci-archive:" + src + "/oci.tar"} {
		rec, err := s.Pull(context.Background(), parse(t, ref), PullOptions{})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		checkBusybox(t, s, rec)
		if i == 0 {
			first = rec
		} else if rec.Layers[0] != first.Layers[0] {
			t.Errorf("%s: layers differ from the layout's", ref)
		}
		got, err := s.Lookup(StoreNameOf(t, ref))
		if err != nil || got.ID != rec.ID {
			t.Errorf("lookup %s: %v", ref, err)
		}
	}
	// Every transport shares the unpacked layers.
	ents, _ := os.ReadDir(s.path("layers"))
	if len(ents) != 2 {
		t.Errorf("%d layer dirs, want 2 shared", len(ents))
	}
	if _, err := s.Pull(context.Background(), parse(t, "oci:"+src+"/layout:nope"), PullOptions{}); err == nil || !strings.Contains(err.Error(), `no image tagged "nope"`) {
		t.Errorf("unknown tag: %v", err)
	}
}

func StoreNameOf(t *testing.T, ref string) string {
	n, err := StoreName(parse(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentPullsShareOneUnpack(t *testing.T) {
	img := imagetest.Busybox(t)
	src := t.TempDir()
	imagetest.WriteLayout(t, src, img, "v1")
	s := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Store values, as separate processes would have.
			s2 := &Store{Root: s.Root, Note: func(string) {}}
			_, errs[i] = s2.Pull(context.Background(), parse(t, "oci:"+src+":v1"), PullOptions{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	imgs, _ := s.Images()
	if len(imgs) != 1 || len(imgs[0].Names) != 1 {
		t.Errorf("images: %+v", imgs)
	}
	if tmp, _ := os.ReadDir(s.path("tmp")); len(tmp) != 0 {
		t.Errorf("staging left: %d entries", len(tmp))
	}
}

func TestCorruptedBlobIsNotCached(t *testing.T) {
	img := imagetest.Busybox(t)
	src := t.TempDir()
	imagetest.WriteLayout(t, src, img, "v1")
	layers, _ := img.Layers()
	d, _ := layers[1].Digest()
	blob := filepath.Join(src, "blobs", d.Algorithm, d.Hex)
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte inside the gzip stream: either gzip or the digest check refuses it.
	data[len(data)/2] ^= 0xff
	os.WriteFile(blob, data, 0o644)
	s := newStore(t)
	_, err = s.Pull(context.Background(), parse(t, "oci:"+src+":v1"), PullOptions{})
	if err == nil {
		t.Fatal("a corrupted layer was accepted")
	}
	t.Log(err)
	diffIDs, _ := img.ConfigFile()
	if _, err := os.Stat(s.LayerDir(diffIDs.RootFS.DiffIDs[1].String())); err == nil {
		t.Error("the corrupted layer was cached")
	}
	if imgs, _ := s.Images(); len(imgs) != 0 {
		t.Error("an image record was written")
	}
	if tmp, _ := os.ReadDir(s.path("tmp")); len(tmp) != 0 {
		t.Errorf("staging left: %d entries", len(tmp))
	}
}

func TestDigestMismatchOfUncompressedLayer(t *testing.T) {
	// A layer whose content differs from the config's diff ID.
	img := imagetest.Busybox(t)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[1] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	bad, err := mutateConfig(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	imagetest.WriteLayout(t, src, bad, "v1")
	s := newStore(t)
	_, err = s.Pull(context.Background(), parse(t, "oci:"+src+":v1"), PullOptions{})
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err = %v, want a digest mismatch", err)
	}
	if _, err := os.Stat(s.LayerDir(cf.RootFS.DiffIDs[1].String())); err == nil {
		t.Error("cached anyway")
	}
}

func TestRemoveAndPrune(t *testing.T) {
	img := imagetest.Busybox(t)
	src := t.TempDir()
	imagetest.WriteLayout(t, src, img, "v1")
	s := newStore(t)
	rec, err := s.Pull(context.Background(), parse(t, "oci:"+src+":v1"), PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	use, err := s.Use(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(rec.ID[:12]); !errors.Is(err, ErrInUse) {
		t.Errorf("rmi of an image in use: %v", err)
	}
	use.Close()
	if removed, err := s.Remove("oci:" + src + ":v1"); err != nil || !removed {
		t.Fatalf("rmi: %v %v", removed, err)
	}
	if ents, _ := os.ReadDir(s.path("layers")); len(ents) != 0 {
		t.Errorf("%d layers left after rmi", len(ents))
	}
	if _, err := s.Lookup(rec.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("lookup after rmi: %v", err)
	}
	if _, _, err := s.Prune(); err != nil {
		t.Error(err)
	}
}

// TestPullFromRegistry runs go-containerregistry's registry in-process on
// 127.0.0.1 (plain HTTP is allowed for loopback registries).
func TestPullFromRegistry(t *testing.T) {
	img := imagetest.Busybox(t)
	var hits sync.Map
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
			n, _ := hits.LoadOrStore("manifests", new(int))
			*n.(*int)++
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/test/busybox:1.0"
	tag, _ := name.NewTag(ref)
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	manifestGets := func() int {
		n, ok := hits.Load("manifests")
		if !ok {
			return 0
		}
		return *n.(*int)
	}
	if _, err := s.Pull(context.Background(), parse(t, ref), PullOptions{Policy: pod.PullNever}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Never with nothing stored: %v", err)
	}
	rec, err := s.Pull(context.Background(), parse(t, "docker://"+ref), PullOptions{Policy: pod.PullIfNotPresent})
	if err != nil {
		t.Fatal(err)
	}
	checkBusybox(t, s, rec)
	before := manifestGets()
	if _, err := s.Pull(context.Background(), parse(t, ref), PullOptions{Policy: pod.PullIfNotPresent}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(context.Background(), parse(t, ref), PullOptions{Policy: pod.PullNever}); err != nil {
		t.Fatal(err)
	}
	if manifestGets() != before {
		t.Error("IfNotPresent/Never contacted the registry for a stored image")
	}
	if _, err := s.Pull(context.Background(), parse(t, ref), PullOptions{Policy: pod.PullAlways}); err != nil {
		t.Fatal(err)
	}
	if manifestGets() == before {
		t.Error("Always did not contact the registry")
	}
	if _, err := s.Pull(context.Background(), parse(t, host+"/test/nope:1"), PullOptions{}); err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("unknown image: %v", err)
	}
}

func TestPlainHTTPOnlyToLoopback(t *testing.T) {
	g := &httpGuard{base: http.DefaultTransport, allowed: func(h string) bool { return isLoopback(h) || h == "10.0.0.1:5000" }}
	for host, ok := range map[string]bool{"192.168.1.1:5000": false, "registry.local": false, "10.0.0.1:5000": true} {
		req, _ := http.NewRequest("GET", "http://"+host+"/v2/", nil)
		if ok {
			if !g.allowed(host) {
				t.Errorf("%s should be allowed", host)
			}
			continue
		}
		if _, err := g.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
			t.Errorf("%s: %v", host, err)
		}
	}
	for _, h := range []string{"127.0.0.1:5000", "localhost:5000", "[::1]:5000", "127.1.2.3"} {
		if !isLoopback(h) {
			t.Errorf("%s is loopback", h)
		}
	}
}

// A multi-platform index in a layout resolves to the host's platform (or
// the one asked for); a platform it lacks is named in the error.
func TestPullResolvesPlatformFromIndex(t *testing.T) {
	host := imagetest.Busybox(t)
	other, err := mutate.AppendLayers(empty.Image, imagetest.Layer(t, imagetest.Entry{Name: "other-arch", Body: "x"}))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := other.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "s390x"
	other, _ = mutate.ConfigFile(other, cf)
	hp := HostPlatform()
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: host, Descriptor: v1.Descriptor{Platform: &hp}},
	)
	src := t.TempDir()
	p, err := layout.Write(src, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	rec, err := s.Pull(context.Background(), parse(t, "oci:"+src+":multi"), PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkBusybox(t, s, rec)
	rec, err = s.Pull(context.Background(), parse(t, "oci:"+src+":multi"), PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	if err != nil || rec.Platform != "linux/s390x" {
		t.Errorf("s390x: %+v %v", rec.Platform, err)
	}
	_, err = s.Pull(context.Background(), parse(t, "oci:"+src+":multi"), PullOptions{Platform: &v1.Platform{OS: "linux", Architecture: "riscv64"}})
	if err == nil || !strings.Contains(err.Error(), "no image for platform linux/riscv64") || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("missing platform: %v", err)
	}
}

// Credentials come from the Docker config ($DOCKER_CONFIG here, as
// ~/.docker/config.json) or $REGISTRY_AUTH_FILE; without them the error
// says to log in. A closed port on loopback is "unreachable".
func TestPullCredentialsAndErrors(t *testing.T) {
	img := imagetest.Busybox(t)
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/private/busybox:1"
	tag, _ := name.NewTag(ref)
	auth := `{"auths":{"` + host + `":{"auth":"YWxpY2U6czNjcmV0"}}}` // alice:s3cret
	noCreds := t.TempDir()
	t.Setenv("DOCKER_CONFIG", noCreds)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("HOME", noCreds)
	t.Setenv("XDG_RUNTIME_DIR", noCreds)
	s := newStore(t)
	_, err := s.Pull(context.Background(), parse(t, ref), PullOptions{Policy: pod.PullAlways})
	if err == nil || !strings.Contains(err.Error(), "unauthorized: log in to "+host) {
		t.Errorf("without credentials: %v", err)
	}
	cfgDir := t.TempDir()
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(auth), 0o600)
	t.Setenv("DOCKER_CONFIG", cfgDir)
	if err := remote.Write(tag, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(context.Background(), parse(t, ref), PullOptions{Policy: pod.PullAlways}); err != nil {
		t.Errorf("with ~/.docker/config.json: %v", err)
	}
	authFile := filepath.Join(t.TempDir(), "auth.json")
	os.WriteFile(authFile, []byte(auth), 0o600)
	t.Setenv("DOCKER_CONFIG", noCreds)
	t.Setenv("REGISTRY_AUTH_FILE", authFile)
	if _, err := s.Pull(context.Background(), parse(t, ref), PullOptions{Policy: pod.PullAlways}); err != nil {
		t.Errorf("with $REGISTRY_AUTH_FILE: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(closed.URL, "http://")
	closed.Close()
	if _, err := s.Pull(context.Background(), parse(t, addr+"/x/y:1"), PullOptions{Policy: pod.PullAlways}); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("closed port: %v", err)
	}
}
