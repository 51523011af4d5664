package pod

import (
	"path"
	"strings"
)

// ImageKind says where a container's root filesystem comes from.
type ImageKind string

const (
	// ImageHost is the host's root filesystem, mounted read-only. It is what
	// an absent or empty image, or "host", means.
	ImageHost ImageKind = "host"
	// ImageDir is a directory on the host, given as "dir:/abs/path" or as a
	// plain absolute path.
	ImageDir ImageKind = "dir"
)

// Image is a parsed container image reference.
type Image struct {
	Kind ImageKind
	// Path is the clean absolute directory for ImageDir, empty for ImageHost.
	Path string
}

// supportedImageForms is quoted in every image error so the user learns what
// to write instead.
const supportedImageForms = `use "host" (or no image) for the host root filesystem read-only, or "dir:/absolute/path" or "/absolute/path" for a directory`

// ParseImage parses a container image reference. Registry references
// ("nginx:1.25") and transports ("docker://", "oci:", "oci-archive:",
// "docker-archive:", ...) are refused with ErrImageNotSupported because image
// pulling is not supported yet. A directory path must be absolute and clean
// (path.Clean leaves it unchanged), so that what the user wrote is exactly
// what gets mounted.
func ParseImage(ref string) (Image, error) {
	switch {
	case ref == "" || ref == "host":
		return Image{Kind: ImageHost}, nil
	case strings.HasPrefix(ref, "dir:"):
		return parseDirImage(ref, strings.TrimPrefix(ref, "dir:"))
	case strings.HasPrefix(ref, "/"):
		return parseDirImage(ref, ref)
	case ref == "." || ref == ".." || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../"):
		return Image{}, fieldErrorf(ErrInvalid, "", "%q is a relative path: %s", ref, supportedImageForms)
	default:
		return Image{}, fieldErrorf(ErrImageNotSupported, "", "%q: image pulling is not supported yet: %s", ref, supportedImageForms)
	}
}

func parseDirImage(ref, dir string) (Image, error) {
	switch {
	case strings.IndexByte(dir, 0) >= 0:
		return Image{}, fieldErrorf(ErrInvalid, "", "%q contains a NUL byte", ref)
	case !path.IsAbs(dir):
		return Image{}, fieldErrorf(ErrInvalid, "", "%q: directory must be an absolute path: %s", ref, supportedImageForms)
	case path.Clean(dir) != dir:
		return Image{}, fieldErrorf(ErrInvalid, "", "%q: directory path is not clean, write %q", ref, path.Clean(dir))
	case dir == "/":
		// A read-write "/" would be the host itself; "host" is the
		// read-only way to ask for it.
		return Image{}, fieldErrorf(ErrInvalid, "", `%q: the host root is not allowed as a directory image, use "host"`, ref)
	}
	return Image{Kind: ImageDir, Path: dir}, nil
}
