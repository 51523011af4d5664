package e2e

import (
	"archive/tar"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/podsandbox/sandbox/image/imagetest"
)

// imagePod is a pod manifest with image fields the shared harness types do
// not carry (imagePullPolicy, a command-less container, securityContext).
func (c *tcase) imagePod(containers ...map[string]any) string {
	c.t.Helper()
	m := map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": c.pod, "annotations": map[string]string{"sandbox.podsandbox.dev/network": "none"}},
		"spec": map[string]any{"restartPolicy": "Never", "terminationGracePeriodSeconds": 2, "containers": containers},
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	return c.writeFile("image-pod.json", data)
}

// readable makes the tree readable by the mode's uid.
func (c *tcase) readable(root string) {
	c.t.Helper()
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// ociLayout writes img as an OCI layout named dir in the case's directory,
// readable by the mode's uid, and returns its reference oci:PATH:v1.
func (c *tcase) ociLayout(dir string, img v1.Image) string {
	c.t.Helper()
	layout := filepath.Join(c.dir, dir)
	imagetest.WriteLayout(c.t, layout, img, "v1")
	c.readable(layout)
	return "oci:" + layout + ":v1"
}

// storeEnv gives the case its own image store, owned by the mode's uid.
func (c *tcase) storeEnv() (string, []string) {
	c.t.Helper()
	store := filepath.Join(c.dir, "store")
	if err := os.Mkdir(store, 0o700); err != nil {
		c.t.Fatal(err)
	}
	c.chown(store)
	return store, []string{"SANDBOX_IMAGE_STORE=" + store}
}

// A pod from an OCI layout of a busybox image built at test time: the image
// config applies (Entrypoint, Cmd, Env, WorkingDir), whiteouts and opaque
// directories of the upper layer hide the lower layer's files, each
// container writes into its own upper directory in the pod's state, never
// into the shared layer cache, and does not see the other's writes.
func TestImagePodFromOCILayout(t *testing.T) {
	forModes(t, "img-oci", func(t *testing.T, c *tcase) {
		ref := c.ociLayout("layout", imagetest.Busybox(t))
		store, env := c.storeEnv()
		a := map[string]any{"name": "a", "image": ref, "args": []string{`
echo "a-env=$IMAGE_VAR pwd=$(pwd)"; cat /etc/motd
test ! -e /etc/gone && echo gone-hidden; echo "opaque=$(ls /opaque | tr '\n' ' ')"
echo from-a > /a-file && touch /dev/shm/a-wrote
exec sleep 1000`}}
		b := map[string]any{"name": "b", "image": ref, "command": []string{"/bin/sh", "-c", `
while [ ! -e /dev/shm/a-wrote ]; do sleep 0.1; done
if [ -e /a-file ]; then echo b-sees-a; else echo b-isolated; fi
echo from-b > /b-file; echo b-done`}}
		cmd := map[string]any{"name": "cmd", "image": ref} // Entrypoint + Cmd of the image
		p := c.start(c.imagePod(a, b, cmd), runOpts{env: env})
		p.waitOutput("b-done", 30*time.Second)
		// While the pod runs: the writes are in each container's upper dir.
		var state string
		for _, d := range c.stateDirs(c.pod) {
			if _, err := os.Stat(d); err == nil {
				state = d
			}
		}
		if state == "" {
			t.Fatalf("no state dir among %v", c.stateDirs(c.pod))
		}
		for file, ctr := range map[string]string{"a-file": "a", "b-file": "b"} {
			if data, err := os.ReadFile(filepath.Join(state, "containers", ctr, "upper", file)); err != nil || !strings.HasPrefix(string(data), "from-"+ctr) {
				t.Errorf("%s of container %s is not in its upper dir: %q %v", file, ctr, data, err)
			}
		}
		p.signal(syscall.SIGTERM)
		r := p.wait()
		if testing.Verbose() {
			t.Log(r)
		}
		c.expectCode(r, 143)
		c.expectStdout(r, "a-env=from-image pwd=/data", "hello from the image", "gone-hidden", "opaque=new \n", "b-isolated", "image-cmd")
		c.expectNoStdout(r, "b-sees-a", "old")
		c.expectIn(r, "stderr", r.stderr, false, []string{"overlayfs is not allowed"})
		layers, _ := filepath.Glob(filepath.Join(store, "layers", "*"))
		if len(layers) != 2 {
			t.Errorf("%d layers in the store, want 2", len(layers))
		}
		for _, l := range layers {
			for _, f := range []string{"a-file", "b-file"} {
				if _, err := os.Lstat(filepath.Join(l, f)); err == nil {
					t.Errorf("%s landed in the layer cache %s", f, l)
				}
			}
		}
	})
}

// A pod from a docker-archive (docker save output) with
// readOnlyRootFilesystem: the root cannot be written, /tmp can.
func TestImagePodFromDockerArchive(t *testing.T) {
	forModes(t, "img-docker", func(t *testing.T, c *tcase) {
		archive := filepath.Join(c.dir, "busybox.tar")
		imagetest.WriteDockerArchive(t, archive, imagetest.Busybox(t), "example.com/busybox:1")
		c.readable(archive)
		_, env := c.storeEnv()
		ctr := map[string]any{"name": "ro", "image": "docker-archive:" + archive,
			"securityContext": map[string]any{"readOnlyRootFilesystem": true},
			"command":         []string{"/bin/sh", "-c", `if echo x > /x 2>/dev/null; then echo root-writable; else echo root-readonly; fi; echo t > /tmp/t && echo tmp-writable; stat -c owner=%u:%g /home/app/.profile`}}
		r := c.run(c.imagePod(ctr), runOpts{env: env})
		c.expectCode(r, 0)
		c.expectStdout(r, "root-readonly", "tmp-writable")
		// Owners are kept by root, and rootless with a subordinate range
		// (unpacked in a user namespace with the pod's mapping); without
		// one, everything is container root's, said once.
		if c.m.name == "rootless-nosubuid" {
			c.expectStdout(r, "owner=0:0")
			c.expectStderr(r, "belong to container root instead of their owner")
		} else {
			c.expectStdout(r, "owner=1000:1000")
		}
		c.expectNoStdout(r, "root-writable")
	})
}

// Debian's docker-registry, started by the test on 127.0.0.1 (plain HTTP is
// allowed for loopback): `sandbox pull`, `images` (table and JSON), a pod by
// reference with imagePullPolicy Never, `rmi` (refused while a pod uses the
// image), Never failing once the image is gone, and :latest pulled by `run`.
func TestImagePullFromLoopbackRegistry(t *testing.T) {
	reg := imagetest.StartRegistry(t, imagetest.RegistryOptions{})
	img := imagetest.Busybox(t)
	ref := reg.Push(t, img, "e2e/busybox:1")
	latest := strings.TrimSuffix(reg.Push(t, img, "e2e/busybox:latest"), ":latest")
	forModes(t, "img-reg", func(t *testing.T, c *tcase) {
		_, env := c.storeEnv()
		r := c.startArgs([]string{"pull", ref}, runOpts{env: env}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, ref+": ", "2 layers")
		r = c.startArgs([]string{"images"}, runOpts{env: env}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, "NAME", ref)
		r = c.startArgs([]string{"images", "--format", "json"}, runOpts{env: env}).wait()
		var recs []struct {
			Names  []string `json:"names"`
			Layers []string `json:"layers"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 1 || recs[0].Names[0] != ref {
			t.Errorf("images --format json: %v %+v\n%s", err, recs, r)
		}
		ctr := map[string]any{"name": "app", "image": ref, "imagePullPolicy": "Never",
			"command": []string{"/bin/sh", "-c", "cat /etc/motd; touch /dev/shm/up; exec sleep 1000"}}
		manifest := c.imagePod(ctr)
		p := c.start(manifest, runOpts{env: env})
		p.waitOutput("hello from the image", 30*time.Second)
		r = c.startArgs([]string{"rmi", ref}, runOpts{env: env}).wait()
		c.expectCode(r, 125)
		c.expectStderr(r, "in use by a running pod")
		p.signal(syscall.SIGTERM)
		c.expectCode(p.wait(), 143)
		r = c.startArgs([]string{"rmi", ref}, runOpts{env: env}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, "removed "+ref)
		r = c.run(manifest, runOpts{env: env})
		c.expectCode(r, 125)
		c.expectStderr(r, "imagePullPolicy is Never")
		r = c.startArgs([]string{"image", "prune"}, runOpts{env: env}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, "removed 0 images, 0 layers")
		// No tag means :latest, whose default policy is Always: the run
		// pulls it from the registry.
		r = c.run(c.imagePod(map[string]any{"name": "latest", "image": latest}), runOpts{env: env})
		c.expectCode(r, 0)
		c.expectStdout(r, "image-cmd")
	})
}

// docker-registry with htpasswd authentication: without credentials the
// pull says to log in; with them in ~/.docker/config.json ($DOCKER_CONFIG)
// or $REGISTRY_AUTH_FILE it works. A tag the registry lacks is "manifest
// unknown", a closed loopback port "unreachable", and a layer blob
// corrupted in the registry's storage fails the pull with a digest mismatch
// and nothing of that image cached (no record, no layer, no staging).
func TestImageRegistryAuthAndErrors(t *testing.T) {
	reg := imagetest.StartRegistry(t, imagetest.RegistryOptions{User: "alice", Password: "s3cret"})
	ref := reg.Push(t, imagetest.Busybox(t), "private/busybox:1")
	// Two images with a layer of their own each, corrupted in the
	// registry's storage after the push (the registry serves what it has):
	// one with a flipped byte (a corrupt gzip stream), one replaced by
	// another valid gzip stream of the same size (a digest mismatch).
	flipped := corruptRegistryLayer(t, reg, "private/flipped:1", "x", func(data []byte) []byte {
		data[len(data)/2] ^= 0xff
		return data
	})
	swapped := corruptRegistryLayer(t, reg, "private/swapped:1", "y", func(data []byte) []byte {
		other, err := imagetest.Layer(t, imagetest.Entry{Name: "corrupted-layer", Body: strings.Repeat("z", 4096)}).Compressed()
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		b, err := io.ReadAll(other)
		if err != nil || len(b) != len(data) {
			t.Fatalf("replacement blob: %d bytes, want %d (%v)", len(b), len(data), err)
		}
		return b
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	forModes(t, "img-auth", func(t *testing.T, c *tcase) {
		store, env := c.storeEnv()
		r := c.startArgs([]string{"pull", ref}, runOpts{env: env}).wait()
		c.expectCode(r, 125)
		c.expectStderr(r, "unauthorized: log in to "+reg.Host)
		cfgDir := filepath.Join(c.dir, "docker")
		if err := os.Mkdir(cfgDir, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(cfgDir, "config.json")
		if err := os.WriteFile(cfg, reg.DockerConfig(), 0o600); err != nil {
			t.Fatal(err)
		}
		c.chown(cfgDir)
		c.chown(cfg)
		r = c.startArgs([]string{"pull", ref}, runOpts{env: append(env, "DOCKER_CONFIG="+cfgDir)}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, ref+": ", "2 layers")
		authEnv := append(env, "REGISTRY_AUTH_FILE="+cfg)
		ctr := map[string]any{"name": "app", "image": ref, "imagePullPolicy": "Always", "command": []string{"/bin/cat", "/etc/motd"}}
		r = c.run(c.imagePod(ctr), runOpts{env: authEnv})
		c.expectCode(r, 0)
		c.expectStdout(r, "hello from the image")
		r = c.startArgs([]string{"pull", reg.Host + "/private/busybox:nope"}, runOpts{env: authEnv}).wait()
		c.expectCode(r, 125)
		c.expectStderr(r, "manifest unknown")
		r = c.startArgs([]string{"pull", closed + "/private/busybox:1"}, runOpts{env: authEnv}).wait()
		c.expectCode(r, 125)
		c.expectStderr(r, "registry "+closed+" unreachable")
		before, _ := filepath.Glob(filepath.Join(store, "images", "*.json"))
		for _, bad := range []struct {
			ref, diffID, want string
		}{{flipped[0], flipped[1], "corrupt input"}, {swapped[0], swapped[1], "digest mismatch: the registry sent a blob"}} {
			r = c.startArgs([]string{"pull", bad.ref}, runOpts{env: authEnv}).wait()
			c.expectCode(r, 125)
			c.expectStderr(r, bad.want)
			after, _ := filepath.Glob(filepath.Join(store, "images", "*.json"))
			tmp, _ := filepath.Glob(filepath.Join(store, "tmp", "*"))
			if len(after) != len(before) || len(tmp) != 0 {
				t.Errorf("after %s: images %v (before %v), staging %v", bad.ref, after, before, tmp)
			}
			if _, err := os.Lstat(filepath.Join(store, "layers", bad.diffID)); err == nil {
				t.Errorf("the corrupted layer %s of %s was cached", bad.diffID, bad.ref)
			}
		}
	})
}

// corruptRegistryLayer pushes busybox plus a layer of its own (4 KiB of
// fill) to reg as repoTag, then rewrites that layer's blob in the registry's
// storage with corrupt(blob). It returns the reference and the layer's diff
// ID hex.
func corruptRegistryLayer(t *testing.T, reg *imagetest.Registry, repoTag, fill string, corrupt func([]byte) []byte) [2]string {
	t.Helper()
	layer := imagetest.Layer(t, imagetest.Entry{Name: "corrupted-layer", Body: strings.Repeat(fill, 4096)})
	img, err := mutate.AppendLayers(imagetest.Busybox(t), layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg.Push(t, img, repoTag)
	digest, _ := layer.Digest()
	diffID, _ := layer.DiffID()
	blob := reg.BlobPath(digest)
	data, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blob, corrupt(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return [2]string{ref, diffID.Hex}
}

// An oci-archive whose image config names a USER from its /etc/passwd: the
// container runs as that user (unless the manifest sets runAsUser), with its
// HOME; what it writes as that uid (files of a subordinate id in its upper
// directory) is removed with the pod (the leak check). Without a subordinate range only container root exists, so the mode
// has no uid 1000 to run as and the start fails, naming the uid.
func TestImagePodFromOCIArchiveWithUser(t *testing.T) {
	forModes(t, "img-user", func(t *testing.T, c *tcase) {
		img := imagetest.Busybox(t)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Config.User = "app"
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		archive := filepath.Join(c.dir, "busybox-oci.tar")
		imagetest.WriteOCIArchive(t, archive, img, "v1")
		c.readable(archive)
		_, env := c.storeEnv()
		ctr := map[string]any{"name": "user", "image": "oci-archive:" + archive + ":v1",
			"command": []string{"/bin/sh", "-c", `echo "uid=$(id -u) gid=$(id -g) home=$HOME"; cat $HOME/.profile; mkdir $HOME/d && echo x > $HOME/d/f && echo > $HOME/new`}}
		r := c.run(c.imagePod(ctr), runOpts{env: env})
		if c.m.name == "rootless-nosubuid" {
			if r.code == 0 {
				t.Errorf("uid 1000 is not mapped without a subordinate range, yet the container ran\n%s", r)
			}
			c.expectStderr(r, "1000 mapped in the pod's user namespace")
			return
		}
		c.expectCode(r, 0)
		c.expectStdout(r, "uid=1000 gid=1000 home=/home/app", "export APP=1")
	})
}

// A layout whose layer tries to write outside its root through a symlink is
// refused naming the entry, as the unprivileged user too; the canary next to
// the store stays as it was and no layer is cached.
func TestImageMaliciousLayerRefused(t *testing.T) {
	forModes(t, "img-evil", func(t *testing.T, c *tcase) {
		store, env := c.storeEnv()
		canary := filepath.Join(c.dir, "canary")
		if err := os.WriteFile(canary, []byte("original"), 0o666); err != nil {
			t.Fatal(err)
		}
		evil := imagetest.Layer(t,
			imagetest.Entry{Name: "up", Type: tar.TypeSymlink, Link: "../../../.."},
			imagetest.Entry{Name: "up/canary", Body: "pwned"},
		)
		img, err := mutate.AppendLayers(imagetest.Busybox(t), evil)
		if err != nil {
			t.Fatal(err)
		}
		r := c.startArgs([]string{"pull", c.ociLayout("evil", img)}, runOpts{env: env}).wait()
		c.expectCode(r, 125)
		c.expectStderr(r, `unsafe layer entry "up/canary"`)
		if data, _ := os.ReadFile(canary); string(data) != "original" {
			t.Errorf("canary: %q", data)
		}
		imgs, _ := filepath.Glob(filepath.Join(store, "images", "*.json"))
		tmp, _ := filepath.Glob(filepath.Join(store, "tmp", "*"))
		if len(imgs) != 0 || len(tmp) != 0 {
			t.Errorf("left in the store: images %v, staging %v", imgs, tmp)
		}
	})
}

// Four `sandbox pull` processes of the same image at once all succeed; each
// layer is unpacked once and no staging is left.
func TestImageConcurrentPulls(t *testing.T) {
	forModes(t, "img-conc", func(t *testing.T, c *tcase) {
		ref := c.ociLayout("layout", imagetest.Busybox(t))
		store, env := c.storeEnv()
		var ps []*proc
		for range 4 {
			ps = append(ps, c.startArgs([]string{"pull", ref}, runOpts{env: env}))
		}
		for _, p := range ps {
			c.expectCode(p.wait(), 0)
		}
		layers, _ := filepath.Glob(filepath.Join(store, "layers", "*"))
		imgs, _ := filepath.Glob(filepath.Join(store, "images", "*.json"))
		tmp, _ := filepath.Glob(filepath.Join(store, "tmp", "*"))
		if len(layers) != 2 || len(imgs) != 1 || len(tmp) != 0 {
			t.Errorf("layers %v, images %v, staging %v", layers, imgs, tmp)
		}
	})
}

// A container that writes as uid 1000 leaves files of a subordinate id in
// its writable layer, which the invoking user cannot remove. When the
// supervisor is killed with SIGKILL it cannot remove them from inside the
// pod; the next run of the same pod (stale cleanup) and `sandbox gc` remove
// them through the user-namespace helper, and leave the image store as it
// was. Without a subordinate range there is no uid 1000: the container
// writes as root, and the same cleanup must still work.
func TestImageUpperRemovedAfterSupervisorKilled(t *testing.T) {
	forModes(t, "img-kill", func(t *testing.T, c *tcase) {
		ref := c.ociLayout("layout", imagetest.Busybox(t))
		store, env := c.storeEnv()
		ctr := map[string]any{"name": "w", "image": ref,
			"command": []string{"/bin/sh", "-c", `mkdir /home/app/private && echo x > /home/app/private/f && chmod 700 /home/app/private && echo wrote; exec sleep 1000`}}
		owner := c.m.uid // container root is the invoking user
		switch c.m.name {
		case "rootless-subuid":
			ctr["securityContext"] = map[string]any{"runAsUser": 1000, "runAsGroup": 1000}
			owner = c.m.subUID + 999 // container 1..65535 -> the range
		case "root":
			ctr["securityContext"] = map[string]any{"runAsUser": 1000, "runAsGroup": 1000}
			owner = 1000 // no user namespace
		}
		manifest := c.imagePod(ctr)
		killed := func() {
			t.Helper()
			p := c.start(manifest, runOpts{env: env})
			p.waitOutput("wrote", 30*time.Second)
			p.signal(syscall.SIGKILL)
			if r := p.wait(); !r.signaled {
				t.Fatalf("sandbox did not die of SIGKILL\n%s", r)
			}
			if left := c.waitNoPodProcs(c.pod, 2*time.Second); len(left) > 0 {
				t.Fatalf("pod processes left after kill -9 of the supervisor:\n%s", describeProcs(left))
			}
			private := filepath.Join(c.stateDir(), "containers", "w", "upper", "home", "app", "private")
			var st syscall.Stat_t
			if err := syscall.Lstat(private, &st); err != nil || st.Uid != owner {
				t.Fatalf("the killed pod's writable layer: %s uid %d (want %d): %v", private, st.Uid, owner, err)
			}
		}
		storeFiles := func() []string {
			var out []string
			filepath.WalkDir(store, func(p string, d os.DirEntry, err error) error {
				if err == nil && !strings.HasPrefix(d.Name(), "lock") && filepath.Base(filepath.Dir(p)) != "locks" {
					out = append(out, p)
				}
				return nil
			})
			return out
		}
		killed()
		before := storeFiles()
		// The next run of the pod removes the stale state first.
		ctr["command"] = []string{"/bin/sh", "-c", `test -e /home/app/private && echo stale-upper-seen; echo rerun-ok`}
		manifest = c.imagePod(ctr)
		r := c.run(manifest, runOpts{env: env})
		c.expectCode(r, 0)
		c.expectStdout(r, "rerun-ok")
		c.expectNoStdout(r, "stale-upper-seen")
		c.expectIn(r, "stderr", r.stderr, true, []string{"cleaned stale state"})
		c.expectGone()
		// And `sandbox gc`.
		ctr["command"] = []string{"/bin/sh", "-c", `mkdir /home/app/private && echo x > /home/app/private/f && chmod 700 /home/app/private && echo wrote; exec sleep 1000`}
		manifest = c.imagePod(ctr)
		killed()
		r = c.startArgs([]string{"gc"}, runOpts{env: env}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, c.pod, "removed")
		c.expectGone()
		if after := storeFiles(); !slices.Equal(before, after) {
			t.Errorf("the store changed:\nbefore %v\nafter  %v", before, after)
		}
		r = c.startArgs([]string{"images"}, runOpts{env: env}).wait()
		c.expectCode(r, 0)
		c.expectStdout(r, ref)
	})
}

// Root's pod with hostUsers: false runs an image: the store's files belong
// to host ids, which the pod's user namespace does not map, so each layer
// is an idmapped mount (host id N seen as the pod's N). Owners are those of
// the image; what the containers write lands in their upper directories as
// the pod's mapped ids (root's subordinate range), never in the store.
func TestImageRootPodWithUserNamespace(t *testing.T) {
	onlyMode(t, "root", "img-idmap", func(t *testing.T, c *tcase) {
		if c.m.subUID == 0 {
			requireOrSkip(t, "root has no subordinate id range (hack/setup-test-host.sh adds one)")
		}
		ref := c.ociLayout("layout", imagetest.Busybox(t))
		store, env := c.storeEnv()
		m := map[string]any{
			"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": c.pod, "annotations": map[string]string{"sandbox.podsandbox.dev/network": "none"}},
			"spec": map[string]any{"restartPolicy": "Never", "hostUsers": false, "containers": []map[string]any{
				{"name": "root", "image": ref, "command": []string{"/bin/sh", "-c",
					`echo "map=$(cat /proc/self/uid_map | tr -s ' ')"; stat -c "bin=%u:%g profile=%U:%G" /bin/busybox /home/app/.profile | tr '\n' ' '; echo; echo r > /root-wrote && echo root-wrote; exec sleep 1000`}},
				{"name": "app", "image": ref, "securityContext": map[string]any{"runAsUser": 1000, "runAsGroup": 1000},
					"command": []string{"/bin/sh", "-c", `cat /home/app/.profile && if echo x > /etc/x 2>/dev/null; then echo etc-writable; fi; echo a > /home/app/app-wrote && echo app-wrote; exec sleep 1000`}},
			}},
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		p := c.start(c.writeFile("pod.json", data), runOpts{env: env})
		p.waitOutput("root-wrote", 30*time.Second)
		p.waitOutput("app-wrote", 30*time.Second)
		for file, want := range map[string]uint32{"root/upper/root-wrote": c.m.subUID, "app/upper/home/app/app-wrote": c.m.subUID + 1000} {
			var st syscall.Stat_t
			if err := syscall.Lstat(filepath.Join(c.stateDir(), "containers", file), &st); err != nil || st.Uid != want || st.Gid != want {
				t.Errorf("%s: owner %d:%d, want %d (%v)", file, st.Uid, st.Gid, want, err)
			}
		}
		p.signal(syscall.SIGTERM)
		r := p.wait()
		c.expectCode(r, 143)
		c.expectStdout(r, "map= 0 "+strconv.Itoa(int(c.m.subUID))+" ", "bin=0:0", "profile=app:app", "root-wrote", "export APP=1", "app-wrote")
		c.expectNoStdout(r, "etc-writable")
		c.expectIn(r, "stderr", r.stderr, false, []string{"overlayfs is not allowed"})
		layers, _ := filepath.Glob(filepath.Join(store, "layers", "*", "*-wrote"))
		if len(layers) != 0 {
			t.Errorf("writes landed in the store: %v", layers)
		}
	})
}
