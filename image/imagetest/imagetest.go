// Package imagetest builds small OCI images at test time (nothing binary is
// committed): a busybox image from the host's static busybox, and writers for
// the oci, oci-archive and docker-archive transports.
package imagetest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/podsandbox/sandbox/internal/testutil"
)

// BusyboxPath is the static busybox the image is built from (busybox-static).
const BusyboxPath = "/bin/busybox"

// Applets linked to busybox in /bin.
var Applets = []string{"sh", "ls", "cat", "echo", "id", "touch", "mkdir", "sleep", "true", "false", "stat", "pwd", "env", "rm", "test", "grep", "wc"}

// Entry is one file of a layer.
type Entry struct {
	Name, Link, Body string
	Type             byte
	Mode             int64
	UID, GID         int
}

// Tar makes an uncompressed tar stream (PAX format) of the entries: a
// regular file when Type is unset, mode 0644 (0755 for a directory) when Mode
// is unset, a fixed modification time.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode, Uid: e.UID, Gid: e.GID,
			Size: int64(len(e.Body)), ModTime: time.Unix(1700000000, 0), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			io.WriteString(tw, e.Body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer makes an uncompressed-tar layer of the entries (see Tar).
func Layer(t testing.TB, entries ...Entry) v1.Layer {
	t.Helper()
	data := Tar(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Busybox is a two-layer image: busybox with its applets, /etc/passwd (root
// and "app", uid 1000) and a root-owned /data; then a layer that adds
// /etc/motd, deletes /etc/gone with a whiteout and makes /opaque opaque.
// Entrypoint ["/bin/sh", "-c"], Cmd ["echo image-cmd"], Env IMAGE_VAR,
// WorkingDir /data. Without a static busybox the test is skipped (a failure
// under CI).
func Busybox(t testing.TB) v1.Image {
	t.Helper()
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		testutil.SkipOrFailUnlessCI(t, fmt.Sprintf("a static busybox is needed (busybox-static): %v", err))
	}
	base := []Entry{
		{Name: "bin/", Type: tar.TypeDir}, {Name: "etc/", Type: tar.TypeDir}, {Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "proc/", Type: tar.TypeDir}, {Name: "sys/", Type: tar.TypeDir}, {Name: "dev/", Type: tar.TypeDir},
		{Name: "root/", Type: tar.TypeDir, Mode: 0o700},
		{Name: "data/", Type: tar.TypeDir},
		{Name: "home/app/", Type: tar.TypeDir, UID: 1000, GID: 1000},
		{Name: "home/app/.profile", Body: "export APP=1\n", UID: 1000, GID: 1000},
		{Name: "bin/busybox", Body: string(bb), Mode: 0o755},
		{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"},
		{Name: "etc/group", Body: "root:x:0:\napp:x:1000:\n"},
		{Name: "etc/gone", Body: "deleted by the upper layer\n"},
		{Name: "opaque/", Type: tar.TypeDir}, {Name: "opaque/old", Body: "hidden by the upper layer\n"},
	}
	for _, a := range Applets {
		base = append(base, Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
	}
	top := []Entry{
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/motd", Body: "hello from the image\n"},
		{Name: "etc/.wh.gone"},
		{Name: "opaque/", Type: tar.TypeDir},
		{Name: "opaque/.wh..wh..opq"},
		{Name: "opaque/new", Body: "upper\n"},
	}
	img, err := mutate.AppendLayers(empty.Image, Layer(t, base...), Layer(t, top...))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", hostArch()
	cf.Config.Entrypoint = []string{"/bin/sh", "-c"}
	cf.Config.Cmd = []string{"echo image-cmd"}
	cf.Config.Env = []string{"PATH=/bin", "IMAGE_VAR=from-image"}
	cf.Config.WorkingDir = "/data"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// WriteLayout writes img into a new OCI layout dir, tagged tag.
func WriteLayout(t testing.TB, dir string, img v1.Image, tag string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		if p, err = layout.Write(dir, empty.Index); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
}

// WriteDockerArchive writes img as `docker save` does, tagged ref.
func WriteDockerArchive(t testing.TB, file string, img v1.Image, ref string) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		t.Fatal(err)
	}
}

// WriteOCIArchive writes img as an oci-archive (a tar of a layout).
func WriteOCIArchive(t testing.TB, file string, img v1.Image, tag string) {
	t.Helper()
	dir := t.TempDir()
	WriteLayout(t, dir, img, tag)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = rel
		if fi.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}
