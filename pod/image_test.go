package pod

import (
	"errors"
	"strings"
	"testing"
)

func TestParseImage(t *testing.T) {
	tests := []struct {
		ref  string
		want Image
	}{
		{"", Image{Kind: ImageHost}},
		{"host", Image{Kind: ImageHost}},
		{"dir:/srv/rootfs", Image{Kind: ImageDir, Path: "/srv/rootfs"}},
		{"/srv/rootfs", Image{Kind: ImageDir, Path: "/srv/rootfs"}},
		{"dir:/srv/my:rootfs", Image{Kind: ImageDir, Path: "/srv/my:rootfs"}},
		{"nginx:1.25", Image{Kind: ImageRegistry, Ref: "nginx:1.25"}},
		{"nginx", Image{Kind: ImageRegistry, Ref: "nginx"}},
		{"docker://busybox", Image{Kind: ImageRegistry, Ref: "busybox"}},
		{"127.0.0.1:5000/a/b:v1", Image{Kind: ImageRegistry, Ref: "127.0.0.1:5000/a/b:v1"}},
		{"docker.io/library/busybox@sha256:" + strings.Repeat("ab", 32), Image{Kind: ImageRegistry, Ref: "docker.io/library/busybox@sha256:" + strings.Repeat("ab", 32)}},
		{"oci:/tmp/layout:tag", Image{Kind: ImageOCI, Path: "/tmp/layout", Tag: "tag"}},
		{"oci:/tmp/layout", Image{Kind: ImageOCI, Path: "/tmp/layout"}},
		{"oci-archive:/tmp/x.tar", Image{Kind: ImageOCIArchive, Path: "/tmp/x.tar"}},
		{"docker-archive:/tmp/x.tar", Image{Kind: ImageDockerArchive, Path: "/tmp/x.tar"}},
		{"docker-archive:/tmp/x.tar:busybox:1", Image{Kind: ImageDockerArchive, Path: "/tmp/x.tar", Tag: "busybox:1"}},
	}
	for _, tc := range tests {
		got, err := ParseImage(tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("ParseImage(%q) = %+v, %v; want %+v", tc.ref, got, err, tc.want)
		}
	}
}

func TestParseImageRefuses(t *testing.T) {
	tests := []struct {
		ref, want string
		is        error
	}{
		{"Host", "is not a valid image reference", ErrInvalid},
		{"nginx:bad tag", "is not a valid image reference", ErrInvalid},
		{"docker://", "is not a valid image reference", ErrInvalid},
		{"http://x/y", "unknown transport", ErrImageNotSupported},
		{"oci:relative/layout", "the path must be absolute", ErrInvalid},
		{"oci:/tmp/../layout", `path is not clean, write "/layout"`, ErrInvalid},
		{"oci:/tmp/layout:", "empty tag", ErrInvalid},
		{"./rootfs", "is a relative path", ErrInvalid},
		{"..", "is a relative path", ErrInvalid},
		{"dir:rootfs", "directory must be an absolute path", ErrInvalid},
		{"dir:", "directory must be an absolute path", ErrInvalid},
		{"/srv/rootfs/", `directory path is not clean, write "/srv/rootfs"`, ErrInvalid},
		{"dir:/srv/./rootfs", `directory path is not clean, write "/srv/rootfs"`, ErrInvalid},
		{"//srv", `directory path is not clean, write "/srv"`, ErrInvalid},
		{"/", "the host root is not allowed as a directory image", ErrInvalid},
		{"/a\x00b", "contains a NUL byte", ErrInvalid},
	}
	for _, tc := range tests {
		_, err := ParseImage(tc.ref)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.is) {
			t.Errorf("ParseImage(%q) = %v; want %q (%v)", tc.ref, err, tc.want, tc.is)
		}
	}
}

func TestEffectivePullPolicy(t *testing.T) {
	tests := []struct {
		image, policy string
		want          PullPolicy
	}{
		{"nginx", "", PullAlways},
		{"nginx:latest", "", PullAlways},
		{"localhost:5000/nginx", "", PullAlways},
		{"nginx:1.25", "", PullIfNotPresent},
		{"localhost:5000/nginx:1", "", PullIfNotPresent},
		{"nginx@sha256:" + strings.Repeat("0", 64), "", PullIfNotPresent},
		{"nginx", "Never", PullNever},
		{"oci:/x", "", PullIfNotPresent},
	}
	for _, tc := range tests {
		c := Container{Image: tc.image, ImagePullPolicy: tc.policy}
		if got := c.EffectivePullPolicy(); got != tc.want {
			t.Errorf("%s (%q): %s, want %s", tc.image, tc.policy, got, tc.want)
		}
	}
}

// A stored image brings its own Entrypoint and Cmd: command and args may be
// absent, and args alone may start with an empty string.
func TestValidateStoredImageWithoutCommand(t *testing.T) {
	for _, c := range []Container{
		{Name: "a", Image: "busybox:1.36"},
		{Name: "b", Image: "oci:/srv/layout:v1", Args: []string{"", "x"}},
		{Name: "c", Image: "docker-archive:/srv/x.tar", ImagePullPolicy: "Never"},
	} {
		p := &Pod{APIVersion: APIVersion, Kind: Kind, Metadata: ObjectMeta{Name: "p"}, Spec: PodSpec{Containers: []Container{c}}}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
	p := &Pod{APIVersion: APIVersion, Kind: Kind, Metadata: ObjectMeta{Name: "p"}, Spec: PodSpec{Containers: []Container{{Name: "a", Image: "busybox", ImagePullPolicy: "Sometimes"}}}}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "imagePullPolicy") {
		t.Errorf("bad pull policy: %v", err)
	}
	p.Spec.Containers[0] = Container{Name: "a", Image: "/srv/rootfs"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "command: required") {
		t.Errorf("a dir image without command: %v", err)
	}
}
