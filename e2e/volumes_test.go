package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Manifests with volumes and security contexts. The harness's podManifest has neither, so these tests write
// generic JSON: a pod is a map built from the harness's newPod plus the fields set here.

// kpod is a pod manifest as generic JSON.
type kpod map[string]any

// newKPod is c.newPod(containers...) as generic JSON, so volumes, volumeMounts, securityContext and
// hostAliases can be added.
func (c *tcase) newKPod(containers ...container) kpod {
	c.t.Helper()
	data, err := json.Marshal(c.newPod(containers...))
	if err != nil {
		c.t.Fatal(err)
	}
	var p kpod
	if err := json.Unmarshal(data, &p); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (p kpod) spec() map[string]any { return p["spec"].(map[string]any) }

// ctr returns container i of the pod.
func (p kpod) ctr(i int) map[string]any { return p.spec()["containers"].([]any)[i].(map[string]any) }

// set sets spec.<key>.
func (p kpod) set(key string, v any) kpod { p.spec()[key] = v; return p }

// mounts sets container i's volumeMounts.
func (p kpod) mounts(i int, m ...map[string]any) kpod { p.ctr(i)["volumeMounts"] = m; return p }

// secctx sets container i's securityContext.
func (p kpod) secctx(i int, sc map[string]any) kpod { p.ctr(i)["securityContext"] = sc; return p }

// image sets every container's image.
func (p kpod) image(img string) kpod {
	for _, c := range p.spec()["containers"].([]any) {
		c.(map[string]any)["image"] = img
	}
	return p
}

func (c *tcase) writeK(p kpod) string {
	c.t.Helper()
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	return c.writeFile(fmt.Sprintf("kpod-%d.json", c.n), data)
}

type obj = map[string]any

func mnt(name, path string, extra ...any) obj {
	m := obj{"name": name, "mountPath": path}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// fileHash is the sha256 of a host file, for canaries.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("canary %s: %v", path, err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// ownedDir creates a directory in the case dir owned by the mode's uid (container root), mode 0755.
func (c *tcase) ownedDir(name string) string {
	c.t.Helper()
	d := filepath.Join(c.dir, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		c.t.Fatal(err)
	}
	c.chown(d)
	return d
}

// emptyDir on disk and medium Memory: shared by two containers, the tmpfs sized by sizeLimit (a quantity),
// full at the limit; both are gone with the pod (the leak check finds no state dir).
func TestEmptyDirSharedBetweenContainers(t *testing.T) {
	forModes(t, "emptydir", func(t *testing.T, c *tcase) {
		root := c.busyboxRootfs("emptydir")
		writer := sh("writer", `echo disk > /scratch/f && echo mem > /mem/f && echo ready > /scratch/ready
dd if=/dev/zero of=/mem/big bs=1024 count=2048; echo "dd=$?"`)
		reader := sh("reader", `i=0; while [ ! -e /scratch/ready ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
echo "got $(cat /scratch/f) $(cat /mem/f)"; df -k /mem | tail -1 | awk '{print "size=" $2}'
grep ' /mem ' /proc/mounts | cut -d' ' -f3`)
		p := c.newKPod(writer, reader).image("dir:"+root).set("volumes", []obj{
			{"name": "scratch", "emptyDir": obj{}},
			{"name": "mem", "emptyDir": obj{"medium": "Memory", "sizeLimit": "1Mi"}},
		})
		for i := range 2 {
			p.mounts(i, mnt("scratch", "/scratch"), mnt("mem", "/mem"))
		}
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "reader | got disk mem", "reader | size=1024", "reader | tmpfs", "writer | dd=1")
		c.expectStderr(r, "No space left on device")
	})
}

// hostPath: each type is checked against the host as kubelet does, a missing path is refused (B-7), the
// *OrCreate types create, readOnly is really read-only (S-2: EROFS, and remount fails), and the host file's
// content is what the container wrote only for a writable mount.
func TestHostPathVolumes(t *testing.T) {
	forModes(t, "hostpath", func(t *testing.T, c *tcase) {
		root := c.busyboxRootfs("hostpath")
		data := c.ownedDir("data")
		roFile := filepath.Join(c.dir, "ro-canary")
		if err := os.WriteFile(roFile, []byte("canary\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c.chown(roFile)
		before := fileHash(t, roFile)
		sock := filepath.Join(c.dir, "sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		created, createdFile := filepath.Join(data, "made", "dir"), filepath.Join(data, "made2", "file")

		script := `echo written > /data/out && echo data-rw
echo x > /ro/ro-canary 2>&1; echo "ro-write=$?"
mount -o remount,rw /ro 2>&1; echo "remount=$?"
[ -S /sock ] && echo sock-ok; [ -d /made ] && echo made-dir; [ -f /made2 ] && echo made-file`
		p := c.newKPod(sh("main", script)).image("dir:"+root).set("volumes", []obj{
			{"name": "data", "hostPath": obj{"path": data, "type": "Directory"}},
			{"name": "ro", "hostPath": obj{"path": c.dir}},
			{"name": "sock", "hostPath": obj{"path": sock, "type": "Socket"}},
			{"name": "made", "hostPath": obj{"path": created, "type": "DirectoryOrCreate"}},
			{"name": "made2", "hostPath": obj{"path": createdFile, "type": "FileOrCreate"}},
		}).mounts(0, mnt("data", "/data"), mnt("ro", "/ro", "readOnly", true), mnt("sock", "/sock"),
			mnt("made", "/made"), mnt("made2", "/made2"))
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "data-rw", "ro-write=1", "permission denied", "remount=1", "sock-ok", "made-dir", "made-file")
		c.expectStderr(r, "can't create /ro/ro-canary: Read-only file system")
		if b, err := os.ReadFile(filepath.Join(data, "out")); err != nil || string(b) != "written\n" {
			t.Errorf("the writable hostPath: %q %v", b, err)
		}
		if after := fileHash(t, roFile); after != before {
			t.Errorf("the read-only hostPath's file changed on the host")
		}
		if st, err := os.Stat(created); err != nil || !st.IsDir() {
			t.Errorf("DirectoryOrCreate did not create %s: %v", created, err)
		}

		// Wrong types and a missing path are refused before anything starts.
		for _, tc := range []struct {
			path, typ, want string
		}{
			{roFile, "Directory", "is not a directory (type Directory), it is a regular file"},
			{data, "File", "is not a regular file (type File), it is a directory"},
			{data, "Socket", "is not a unix socket"},
			{filepath.Join(c.dir, "missing"), "", "does not exist"},
			{filepath.Join(c.dir, "missing"), "Directory", "does not exist"},
		} {
			p := c.newKPod(sh("main", "true")).image("dir:"+root).
				set("volumes", []obj{{"name": "v", "hostPath": obj{"path": tc.path, "type": tc.typ}}}).
				mounts(0, mnt("v", "/v"))
			r := c.run(c.writeK(p), runOpts{})
			c.expectCode(r, 125)
			c.expectStderr(r, tc.want)
			if _, err := os.Stat(filepath.Join(c.dir, "missing")); err == nil {
				t.Errorf("a missing hostPath of type %q was created", tc.typ)
			}
		}
	})
}

// B-7, B-8, B-5: bad volumes and destinations are refused with exit 125 before anything is created.
func TestBadVolumesRefused(t *testing.T) {
	forModes(t, "badvol", func(t *testing.T, c *tcase) {
		for _, tc := range []struct {
			vol  obj
			mnt  obj
			want string
		}{
			{obj{"name": "v", "hostPath": obj{"path": "data"}}, mnt("v", "/v"), `hostPath.path: "data" must be an absolute path`},
			{obj{"name": "v", "hostPath": obj{"path": "/data/../etc"}}, mnt("v", "/v"), `"/data/../etc" is not clean`},
			{obj{"name": "v", "emptyDir": obj{}}, mnt("v", "v"), `mountPath: "v" must be an absolute path`},
			{obj{"name": "v", "emptyDir": obj{}}, mnt("v", "/"), `is the container's root`},
			{obj{"name": "v", "emptyDir": obj{}}, mnt("v", "/../../etc/.."), `is the container's root`},
			{obj{"name": "v", "emptyDir": obj{}}, mnt("v", "/proc/sys"), `is under /proc`},
			{obj{"name": "v", "emptyDir": obj{}}, mnt("v", "/x/../sys"), `is under /sys`},
			{obj{"name": "v", "emptyDir": obj{}}, mnt("v", "/dev/shm"), `is under /dev`},
			{obj{"name": "v", "emptyDir": obj{}}, mnt("v", "/d", "subPath", "../x"), `must not contain '..'`},
			{obj{"name": "v", "emptyDir": obj{"medium": "Memory", "sizeLimit": "500m"}}, mnt("v", "/d"), `not a whole number of bytes`},
			{obj{"name": "v", "emptyDir": obj{"sizeLimit": "lots"}}, mnt("v", "/d"), `"lots" is not a quantity`},
		} {
			p := c.newKPod(sh("main", "true")).set("volumes", []obj{tc.vol}).mounts(0, tc.mnt)
			r := c.run(c.writeK(p), runOpts{})
			c.expectCode(r, 125)
			c.expectStderr(r, tc.want)
		}
		// Two mounts on one destination, two volumes with one name.
		p := c.newKPod(sh("main", "true")).set("volumes", []obj{{"name": "v", "emptyDir": obj{}}, {"name": "v", "emptyDir": obj{}}}).
			mounts(0, mnt("v", "/d"), mnt("v", "/x/../d"))
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 125)
		c.expectStderr(r, `duplicate volume name "v": spec.volumes[0] and spec.volumes[1]`,
			`duplicate mount destination "/d": spec.containers[0].volumeMounts[0] and spec.containers[0].volumeMounts[1]`)
	})
}

// B-10: a rootfs whose /etc is a symlink to the host's /etc cannot make a volume land in the host's /etc: the
// destination is resolved inside the root (an absolute symlink to itself loops: refused). A symlink to a
// directory inside the rootfs is followed inside it.
func TestVolumeDestinationThroughSymlinkStaysInRoot(t *testing.T) {
	forModes(t, "b10", func(t *testing.T, c *tcase) {
		root := c.busyboxRootfs("b10")
		app := "sandbox-b10-" + c.pod
		t.Cleanup(func() { os.Remove("/etc/" + app) })
		os.RemoveAll(filepath.Join(root, "etc"))
		if err := os.Symlink("/etc", filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		vol := obj{"name": "v", "emptyDir": obj{}}
		p := c.newKPod(sh("main", "ls /etc/"+app)).image("dir:"+root).set("volumes", []obj{vol}).mounts(0, mnt("v", "/etc/"+app))
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 125)
		c.expectStderr(r, "too many levels of symbolic links")
		if _, err := os.Lstat("/etc/" + app); err == nil {
			t.Errorf("the host's /etc/%s was created", app)
		}

		os.Remove(filepath.Join(root, "etc"))
		if err := os.Mkdir(filepath.Join(root, "real-etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		c.chown(filepath.Join(root, "real-etc"))
		if err := os.Symlink("/real-etc", filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		p = c.newKPod(sh("main", "touch /etc/"+app+"/x && echo inside")).image("dir:"+root).set("volumes", []obj{vol}).
			mounts(0, mnt("v", "/etc/"+app))
		r = c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "inside")
		if _, err := os.Stat(filepath.Join(root, "real-etc", app)); err != nil {
			t.Errorf("the mount point is not inside the rootfs: %v", err)
		}
		if _, err := os.Lstat("/etc/" + app); err == nil {
			t.Errorf("the host's /etc/%s was created", app)
		}
	})
}

// A symlink one container plants in a shared volume cannot make another container's subPath mount reach
// outside the volume (CVE-2017-1002101, CVE-2021-25741).
func TestSubPathSymlinkCannotEscapeTheVolume(t *testing.T) {
	forModes(t, "subpath", func(t *testing.T, c *tcase) {
		root := c.busyboxRootfs("subpath")
		secret := c.ownedDir("secret")
		if err := os.WriteFile(filepath.Join(secret, "key"), []byte("host secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := fileHash(t, filepath.Join(secret, "key"))
		plant := sh("plant", fmt.Sprintf("ln -s %s /vol/escape && ln -s ../../../../..%s /vol/climb && echo planted", secret, secret))
		victim := sh("victim", `ls -A /a /b; cat /a/key /b/key 2>&1; echo pwned > /a/key; echo victim-done`)
		p := c.newKPod(victim).image("dir:"+root).set("volumes", []obj{{"name": "vol", "emptyDir": obj{}}}).
			mounts(0, mnt("vol", "/a", "subPath", "escape"), mnt("vol", "/b", "subPath", "climb"))
		p.set("initContainers", []any{map[string]any{
			"name": plant.Name, "image": "dir:" + root, "command": plant.Command,
			"volumeMounts": []obj{mnt("vol", "/vol")},
		}})
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "planted", "victim-done")
		c.expectNoStdout(r, "host secret")
		if after := fileHash(t, filepath.Join(secret, "key")); after != before {
			t.Errorf("the host file outside the volume changed")
		}
	})
}

// B-11: /proc or /dev of a rootfs being a symlink is refused.
func TestRootfsProcOrDevSymlinkRefused(t *testing.T) {
	forModes(t, "b11", func(t *testing.T, c *tcase) {
		root := c.busyboxRootfs("b11")
		for _, tc := range []struct{ entry, want string }{
			{"proc", "/proc must be mounted on an ordinary directory, not a symlink"},
			{"dev", "/dev must not be a symlink"},
		} {
			os.Remove(filepath.Join(root, tc.entry))
			if err := os.Symlink("/tmp", filepath.Join(root, tc.entry)); err != nil {
				t.Fatal(err)
			}
			r := c.run(c.write(&podManifest{APIVersion: "v1", Kind: "Pod", Metadata: metadata{Name: c.pod}, Spec: podSpec{
				RestartPolicy: "Never", Containers: []container{{Name: "main", Image: "dir:" + root, Command: []string{"true"}}}}}), runOpts{})
			c.expectCode(r, 125)
			c.expectStderr(r, tc.want)
			os.Remove(filepath.Join(root, tc.entry))
			if err := os.Mkdir(filepath.Join(root, tc.entry), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Pod files: /etc/hosts (localhost, the pod hostname, hostAliases), /etc/hostname and /etc/resolv.conf (no
// loopback nameserver, dnsConfig honoured) are bind-mounted read-only; readOnlyRootFilesystem makes the rest
// of a directory root read-only while /tmp and volumes stay writable.
func TestPodFilesAndReadOnlyRoot(t *testing.T) {
	forModes(t, "podfiles", func(t *testing.T, c *tcase) {
		root := c.busyboxRootfs("podfiles")
		script := `cat /etc/hosts /etc/hostname /etc/resolv.conf
echo x >> /etc/hosts 2>&1
touch /newfile 2>&1; echo "rootfs-write=$?"
touch /tmp/ok && echo tmp-ok; touch /scratch/ok && echo vol-ok`
		p := c.newKPod(sh("main", script)).image("dir:"+root).
			set("hostname", "front").
			set("hostAliases", []obj{{"ip": "10.1.2.3", "hostnames": []string{"db", "db.local"}}}).
			set("dnsConfig", obj{"nameservers": []string{"192.0.2.53"}, "searches": []string{"example.test"},
				"options": []obj{{"name": "ndots", "value": "2"}}}).
			set("volumes", []obj{{"name": "scratch", "emptyDir": obj{}}}).
			mounts(0, mnt("scratch", "/scratch")).
			secctx(0, obj{"readOnlyRootFilesystem": true})
		r := c.run(c.writeK(p), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "127.0.0.1\tlocalhost", "127.0.1.1\tfront", "10.1.2.3\tdb\tdb.local", "\nfront\n",
			"nameserver 192.0.2.53", "example.test", "ndots:2", "rootfs-write=1", "tmp-ok", "vol-ok")
		c.expectStderr(r, "can't create /etc/hosts: Read-only file system", "Read-only file system")
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.Contains(l, "nameserver 127.") || strings.Contains(l, "nameserver ::1") {
				t.Errorf("a loopback nameserver reached the pod: %q", l)
			}
		}
		if _, err := os.Lstat(filepath.Join(root, "newfile")); err == nil {
			t.Errorf("readOnlyRootFilesystem: the container created /newfile in the rootfs")
		}
	})
}
