package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/image"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/rootfs"
)

// imagePlan is a container's stored image: pulled per its imagePullPolicy by
// prepare and held in use (rmi refuses it) for as long as the plan lives.
type imagePlan struct {
	rec    image.Record
	layers []string
	inUse  io.Closer
	store  *image.Store
}

// removeImageUppers removes the containers' writable layers once every
// container is dead: files a container created as a non-root uid belong to
// subordinate ids, which only the store's user-namespace helper can remove.
func (s *sandbox) removeImageUppers() {
	for name, im := range s.plan.images {
		dir := s.state.Path("containers", name)
		if err := im.store.RemoveTree(dir); err != nil {
			s.opts.Warn(fmt.Sprintf("remove the writable layer of container %q: %v", name, err))
		}
	}
}

// planImage brings container c's image into the store and records it.
func (pl *plan) planImage(c *pod.Container, img pod.Image, o *Options) error {
	root, err := image.DefaultRoot()
	if err != nil {
		return err
	}
	st, err := image.Open(root)
	if err != nil {
		return err
	}
	st.Note = o.Warn
	if exe, err := os.Executable(); err == nil {
		st.EnableHelper(exe) // rootless with a subordinate range: unpack keeping owners
	}
	rec, use, err := st.PullForUse(context.Background(), img, image.PullOptions{Policy: c.EffectivePullPolicy(), Progress: o.Event})
	if err != nil {
		return err
	}
	if pl.images == nil {
		pl.images = map[string]*imagePlan{}
	}
	pl.images[c.Name] = &imagePlan{rec: rec, layers: st.LayerDirs(rec), inUse: use, store: st}
	return nil
}

// imageRootfs makes the container's root an overlay of the image layers
// with its writable layer in the pod's state: containers/NAME/{rootfs,upper,work}.
func (s *sandbox) imageRootfs(c *pod.Container, im *imagePlan, spec *rootfs.Spec) error {
	dir := s.state.Path("containers", c.Name)
	o := &rootfs.Overlay{Lower: im.layers, Upper: path.Join(dir, "upper"), Work: path.Join(dir, "work")}
	spec.Root = path.Join(dir, "rootfs")
	dirs := []string{dir, spec.Root, o.Upper, o.Work}
	idmapped := os.Geteuid() == 0 && s.plan.userns
	if idmapped {
		// Root's store belongs to host ids that the pod's user namespace
		// does not map: the init sees each layer through an idmapped mount
		// (host id N shown as the pod's N) attached on lower/I (idmapLayers).
		o.Lower = nil
		for i := range im.layers {
			o.Lower = append(o.Lower, path.Join(dir, "lower", strconv.Itoa(i)))
		}
		dirs = append(dirs, o.Lower...)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	// The upper directory's root is the container's "/": world-traversable like any root.
	if err := os.Chmod(o.Upper, 0o755); err != nil {
		return err
	}
	if idmapped {
		// Written by the pod's root (copy-ups, the overlay's work files).
		root := s.plan.mapping.UIDs[0].HostID
		rootGID := s.plan.mapping.GIDs[0].HostID
		for _, d := range []string{dir, spec.Root, o.Upper, o.Work, path.Join(dir, "lower")} {
			if err := os.Chown(d, int(root), int(rootGID)); err != nil {
				return err
			}
		}
	}
	spec.Overlay = o
	return nil
}

// idmapsImages reports whether the pod's image layers are seen through
// idmapped mounts: root's store in a pod with its own user namespace.
func (s *sandbox) idmapsImages() bool {
	return os.Geteuid() == 0 && s.plan.userns && len(s.plan.images) > 0
}

// idmapLayers makes, for a container of a root pod with a user namespace,
// one detached idmapped mount per image layer (open_tree + mount_setattr
// MOUNT_ATTR_IDMAP with the pause's user namespace, read-only): the files of
// host id N appear as id N of the pod. The join role attaches them on the
// container's lower/I directories (nsenter.EnvIdmapped); nil otherwise.
func (s *sandbox) idmapLayers(c *pod.Container) ([]*os.File, []string, error) {
	im := s.plan.images[c.Name]
	if im == nil || !s.idmapsImages() {
		return nil, nil, nil
	}
	userns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", s.pausePID))
	if err != nil {
		return nil, nil, fmt.Errorf("idmapped image layers: the pod's user namespace: %w", err)
	}
	defer userns.Close()
	var files []*os.File
	var targets []string
	fail := func(err error) ([]*os.File, []string, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	for i, l := range im.layers {
		fd, err := unix.OpenTree(unix.AT_FDCWD, l, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return fail(fmt.Errorf("idmapped image layers: open_tree %s: %w", l, err))
		}
		files = append(files, os.NewFile(uintptr(fd), l))
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_RDONLY, Userns_fd: uint64(userns.Fd())}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
			return fail(fmt.Errorf("idmapped image layers: mount_setattr(MOUNT_ATTR_IDMAP) on %s (the filesystem of the image store must support idmapped mounts): %w", l, err))
		}
		target := s.state.Path("containers", c.Name, "lower", strconv.Itoa(i))
		// Made here too, not only by imageRootfs: the join attaches the
		// layers before the container's config (and its rootfs spec) exists.
		if err := os.MkdirAll(target, 0o700); err != nil {
			return fail(fmt.Errorf("idmapped image layers: %w", err))
		}
		targets = append(targets, target)
	}
	return files, targets, nil
}

// applyImageConfig applies the image config the Kubernetes way: command
// replaces the Entrypoint, args replace Cmd; the image's Env comes first and
// the manifest's env wins; WorkingDir and User unless the manifest sets them.
func applyImageConfig(cfg *containerinit.Config, c *pod.Container, sec pod.Security, im *imagePlan) error {
	ic := im.rec.Config
	switch {
	case len(c.Command) > 0:
		cfg.Argv = c.Argv()
	case len(c.Args) > 0:
		cfg.Argv = append(slices.Clone(ic.Entrypoint), c.Args...)
	default:
		cfg.Argv = append(slices.Clone(ic.Entrypoint), ic.Cmd...)
	}
	if len(cfg.Argv) == 0 {
		return fmt.Errorf("the image has no Entrypoint or Cmd: set command in the manifest")
	}
	manifestSet := map[string]bool{}
	for _, e := range c.Env {
		manifestSet[e.Name] = true
	}
	imageSet := map[string]bool{}
	env := slices.Clone(ic.Env)
	for _, kv := range ic.Env {
		name, _, _ := strings.Cut(kv, "=")
		imageSet[name] = true
	}
	var user *passwdEntry
	if !sec.UIDSet && ic.User != "" {
		u, err := resolveImageUser(im.layers, ic.User)
		if err != nil {
			return fmt.Errorf("image user %q: %w", ic.User, err)
		}
		user = u
		cfg.Security.UID, cfg.Security.GID = u.uid, u.gid
	}
	for _, kv := range cfg.Env {
		name, _, _ := strings.Cut(kv, "=")
		if !manifestSet[name] && name != "HOSTNAME" {
			if imageSet[name] {
				continue // a default (PATH, HOME) the image sets itself
			}
			if name == "HOME" && user != nil && user.home != "" {
				kv = "HOME=" + user.home
			}
		}
		if i := slices.IndexFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") }); i >= 0 {
			env[i] = kv
		} else {
			env = append(env, kv)
		}
	}
	cfg.Env = env
	if c.WorkingDir == "" && ic.WorkingDir != "" {
		cfg.WorkingDir = path.Clean("/" + ic.WorkingDir)
	}
	return nil
}

type passwdEntry struct {
	uid, gid uint32
	home     string
}

// resolveImageUser resolves USER ("name", "uid", "name:group", "uid:gid")
// in the image's /etc/passwd and /etc/group, read from the topmost layer that
// has them, inside that layer (a symlink cannot reach out of it).
func resolveImageUser(layers []string, spec string) (*passwdEntry, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	e := &passwdEntry{}
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		e.uid = uint32(n)
		if f := lookupDB(layers, "etc/passwd", func(f []string) bool { return len(f) >= 6 && f[2] == userPart }); f != nil {
			g, _ := strconv.ParseUint(f[3], 10, 32)
			e.gid, e.home = uint32(g), f[5]
		}
	} else {
		f := lookupDB(layers, "etc/passwd", func(f []string) bool { return len(f) >= 6 && f[0] == userPart })
		if f == nil {
			return nil, fmt.Errorf("no user %q in the image's /etc/passwd", userPart)
		}
		u, err1 := strconv.ParseUint(f[2], 10, 32)
		g, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad /etc/passwd entry for %q", userPart)
		}
		e.uid, e.gid, e.home = uint32(u), uint32(g), f[5]
	}
	if hasGroup {
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			e.gid = uint32(n)
		} else {
			f := lookupDB(layers, "etc/group", func(f []string) bool { return len(f) >= 3 && f[0] == groupPart })
			if f == nil {
				return nil, fmt.Errorf("no group %q in the image's /etc/group", groupPart)
			}
			g, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad /etc/group entry for %q", groupPart)
			}
			e.gid = uint32(g)
		}
	}
	return e, nil
}

func lookupDB(layers []string, file string, match func([]string) bool) []string {
	for _, l := range slices.Backward(layers) {
		r, err := os.OpenRoot(l)
		if err != nil {
			continue
		}
		f, err := r.Open(file)
		r.Close()
		if err != nil {
			continue
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Split(sc.Text(), ":"); match(fields) {
				return fields
			}
		}
		return nil
	}
	return nil
}
