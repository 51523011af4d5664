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
		{"nginx:1.25", "image pulling is not supported yet", ErrImageNotSupported},
		{"nginx", "image pulling is not supported yet", ErrImageNotSupported},
		{"docker.io/library/busybox@sha256:abc", "image pulling is not supported yet", ErrImageNotSupported},
		{"docker://busybox", "image pulling is not supported yet", ErrImageNotSupported},
		{"oci:/tmp/layout:tag", "image pulling is not supported yet", ErrImageNotSupported},
		{"oci-archive:/tmp/x.tar", "image pulling is not supported yet", ErrImageNotSupported},
		{"docker-archive:/tmp/x.tar", "image pulling is not supported yet", ErrImageNotSupported},
		{"Host", "image pulling is not supported yet", ErrImageNotSupported},
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
		// Every refusal tells the user what to write instead.
		if err != nil && !strings.Contains(err.Error(), "/") {
			t.Errorf("ParseImage(%q) = %v; does not name a supported form", tc.ref, err)
		}
	}
}
