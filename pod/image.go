package pod

import (
	"path"
	"regexp"
	"strings"
	"sync"
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
	// ImageOCI is an OCI image layout directory: "oci:PATH[:TAG]".
	ImageOCI ImageKind = "oci"
	// ImageOCIArchive is a tar of an OCI image layout: "oci-archive:PATH[:TAG]".
	ImageOCIArchive ImageKind = "oci-archive"
	// ImageDockerArchive is `docker save` / `podman save` output:
	// "docker-archive:PATH[:REFERENCE]".
	ImageDockerArchive ImageKind = "docker-archive"
	// ImageRegistry is an image in a registry: a plain reference
	// ("nginx:1.25") or "docker://REFERENCE".
	ImageRegistry ImageKind = "docker"
)

// Image is a parsed container image reference.
type Image struct {
	Kind ImageKind
	// Path is the clean absolute directory for ImageDir, the layout or
	// archive for the local transports, empty otherwise.
	Path string
	// Tag is the optional tag (oci, oci-archive) or reference
	// (docker-archive) after the path.
	Tag string
	// Ref is the registry reference of ImageRegistry, without "docker://".
	Ref string
}

// IsStored reports whether the image is unpacked into the image store (every
// kind but the host root and a directory).
func (i Image) IsStored() bool { return i.Kind != ImageHost && i.Kind != ImageDir }

// String is the canonical spelling of the reference.
func (i Image) String() string {
	switch i.Kind {
	case ImageHost:
		return "host"
	case ImageDir:
		return "dir:" + i.Path
	case ImageRegistry:
		return "docker://" + i.Ref
	}
	s := string(i.Kind) + ":" + i.Path
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	return s
}

// PullPolicy is a container's imagePullPolicy.
type PullPolicy string

const (
	PullAlways       PullPolicy = "Always"
	PullIfNotPresent PullPolicy = "IfNotPresent"
	PullNever        PullPolicy = "Never"
)

// EffectivePullPolicy is the container's imagePullPolicy or Kubernetes'
// default for its image: Always for a registry reference tagged :latest or
// not tagged at all (and not pinned by digest), IfNotPresent otherwise.
func (c *Container) EffectivePullPolicy() PullPolicy {
	if c.ImagePullPolicy != "" {
		return PullPolicy(c.ImagePullPolicy)
	}
	img, err := ParseImage(c.Image)
	if err != nil || img.Kind != ImageRegistry {
		return PullIfNotPresent
	}
	if strings.Contains(img.Ref, "@") {
		return PullIfNotPresent
	}
	last := img.Ref[strings.LastIndexByte(img.Ref, '/')+1:]
	if _, tag, ok := strings.Cut(last, ":"); !ok || tag == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

// supportedImageForms is quoted in every image error so the user learns what
// to write instead.
const supportedImageForms = `use "host" (or no image) for the host root filesystem read-only, "dir:/absolute/path" or "/absolute/path" for a directory, a registry reference ("nginx:1.25", "docker://nginx:1.25"), "oci:/path[:tag]", "oci-archive:/path[:tag]" or "docker-archive:/path"`

// referenceRE is the distribution reference grammar (docker/distribution
// reference.ReferenceRegexp), without the 255-character name limit check.
// Compiled on first use: package init runs in every re-execution of the
// binary (pause aside), and this regexp alone cost 0.2 ms of it.
var referenceRE = sync.OnceValue(func() *regexp.Regexp {
	const (
		domainComponent = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		domain          = `(?:` + domainComponent + `(?:\.` + domainComponent + `)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?`
		component       = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
		tag             = `[\w][\w.-]{0,127}`
		digest          = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^(?:` + domain + `/)?` + component + `(?:/` + component + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
})

// ParseImage parses a container image reference in the containers-image
// transport syntax. A directory path must be absolute and clean (path.Clean
// leaves it unchanged), so that what the user wrote is exactly what gets
// mounted; so must the path of a local transport.
func ParseImage(ref string) (Image, error) {
	if strings.IndexByte(ref, 0) >= 0 {
		return Image{}, fieldErrorf(ErrInvalid, "", "%q contains a NUL byte", ref)
	}
	switch {
	case ref == "" || ref == "host":
		return Image{Kind: ImageHost}, nil
	case strings.HasPrefix(ref, "dir:"):
		return parseDirImage(ref, strings.TrimPrefix(ref, "dir:"))
	case strings.HasPrefix(ref, "/"):
		return parseDirImage(ref, ref)
	case ref == "." || ref == ".." || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../"):
		return Image{}, fieldErrorf(ErrInvalid, "", "%q is a relative path: %s", ref, supportedImageForms)
	}
	for _, k := range []ImageKind{ImageOCI, ImageOCIArchive, ImageDockerArchive} {
		if rest, ok := strings.CutPrefix(ref, string(k)+":"); ok {
			return parseLocalImage(ref, k, rest)
		}
	}
	r, docker := strings.CutPrefix(ref, "docker://")
	if !docker && strings.Contains(ref, "://") {
		return Image{}, fieldErrorf(ErrImageNotSupported, "", "%q: unknown transport: %s", ref, supportedImageForms)
	}
	if len(r) > 512 || !referenceRE().MatchString(r) {
		return Image{}, fieldErrorf(ErrInvalid, "", "%q is not a valid image reference (lowercase repository, optional registry host, :tag and @digest): %s", ref, supportedImageForms)
	}
	return Image{Kind: ImageRegistry, Ref: r}, nil
}

// parseLocalImage parses PATH[:TAG] of the oci, oci-archive and
// docker-archive transports; as in containers-image, the path ends at the
// first colon.
func parseLocalImage(ref string, kind ImageKind, rest string) (Image, error) {
	p, tag, _ := strings.Cut(rest, ":")
	switch {
	case !path.IsAbs(p):
		return Image{}, fieldErrorf(ErrInvalid, "", "%q: the path must be absolute: %s", ref, supportedImageForms)
	case path.Clean(p) != p:
		return Image{}, fieldErrorf(ErrInvalid, "", "%q: path is not clean, write %q", ref, path.Clean(p))
	case strings.Contains(rest, ":") && tag == "":
		return Image{}, fieldErrorf(ErrInvalid, "", "%q: empty tag after the path", ref)
	}
	return Image{Kind: kind, Path: p, Tag: tag}, nil
}

func parseDirImage(ref, dir string) (Image, error) {
	switch {
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
