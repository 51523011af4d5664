package pod

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Volume is one entry of spec.volumes. Exactly one source must be set; the
// sources Kubernetes has besides these are reported as unsupported.
type Volume struct {
	Name     string                `json:"name"`
	EmptyDir *EmptyDirVolumeSource `json:"emptyDir,omitempty"`
	HostPath *HostPathVolumeSource `json:"hostPath,omitempty"`
}

// StorageMedium is emptyDir.medium.
type StorageMedium string

// The emptyDir media: "" is a directory in the pod's state directory,
// Memory a tmpfs.
const (
	StorageMediumDefault StorageMedium = ""
	StorageMediumMemory  StorageMedium = "Memory"
)

// EmptyDirVolumeSource is a scratch directory shared by the pod's containers
// and removed with the pod.
type EmptyDirVolumeSource struct {
	Medium StorageMedium `json:"medium,omitempty"`
	// SizeLimit is a Kubernetes quantity ("64Mi", "1G"); it sizes a Memory
	// emptyDir's tmpfs. It must be a string (Kubernetes also takes a bare
	// number; write "1000" then).
	SizeLimit string `json:"sizeLimit,omitempty"`
}

// HostPathType is hostPath.type.
type HostPathType string

// The hostPath types, as in Kubernetes.
const (
	HostPathUnset             HostPathType = ""
	HostPathDirectoryOrCreate HostPathType = "DirectoryOrCreate"
	HostPathDirectory         HostPathType = "Directory"
	HostPathFileOrCreate      HostPathType = "FileOrCreate"
	HostPathFile              HostPathType = "File"
	HostPathSocket            HostPathType = "Socket"
	HostPathCharDev           HostPathType = "CharDevice"
	HostPathBlockDev          HostPathType = "BlockDevice"
)

// HostPathVolumeSource is a host file or directory bind-mounted into the
// containers.
type HostPathVolumeSource struct {
	Path string        `json:"path"`
	Type *HostPathType `json:"type,omitempty"`
}

// PathType returns hostPath.type, "" when unset.
func (h *HostPathVolumeSource) PathType() HostPathType {
	if h.Type == nil {
		return HostPathUnset
	}
	return *h.Type
}

// VolumeMount mounts a volume (or its subPath) into one container.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	// SubPath is a relative path inside the volume; it is resolved inside the
	// volume's root, so a symlink in it cannot lead out of the volume.
	SubPath string `json:"subPath,omitempty"`
}

// HostAlias adds lines to the pod's /etc/hosts.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames,omitempty"`
}

// DNSPolicy is spec.dnsPolicy. There is no cluster DNS: ClusterFirst and
// ClusterFirstWithHostNet mean Default (the host's resolv.conf, minus
// loopback nameservers); None means spec.dnsConfig only.
type DNSPolicy string

// The DNS policies, as in Kubernetes.
const (
	DNSClusterFirst            DNSPolicy = "ClusterFirst"
	DNSClusterFirstWithHostNet DNSPolicy = "ClusterFirstWithHostNet"
	DNSDefault                 DNSPolicy = "Default"
	DNSNone                    DNSPolicy = "None"
)

// PodDNSConfig is merged into the generated /etc/resolv.conf.
type PodDNSConfig struct {
	Nameservers []string             `json:"nameservers,omitempty"`
	Searches    []string             `json:"searches,omitempty"`
	Options     []PodDNSConfigOption `json:"options,omitempty"`
}

// PodDNSConfigOption is one resolv.conf option ("ndots", "2").
type PodDNSConfigOption struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// Limits of the volume and DNS fields.
const (
	// MaxVolumes caps spec.volumes and the mounts of one container.
	MaxVolumes = 256
	// MaxPathBytes caps a path in the manifest (the kernel's PATH_MAX).
	MaxPathBytes = 4095
	// MaxNameservers, MaxSearches: glibc uses 3 nameservers and 6 search
	// domains (Kubernetes enforces the same, with 32 searches since 1.28).
	MaxNameservers = 3
	MaxSearches    = 32
	MaxHostAliases = 256
	// MaxSizeLimit caps emptyDir.sizeLimit (1 PiB: more than any machine's
	// memory, far from int64 overflow).
	MaxSizeLimit = 1 << 50
)

// Volume destinations that are refused: a mount there would hide or
// redirect kernel interfaces (runc checkProcMount, CVE-2019-16884) or the
// device nodes the runtime creates.
var reservedMountPaths = []string{"/proc", "/sys", "/dev"}

func checkVolumes(probs *problems, spec *PodSpec) map[string]*Volume {
	byName := map[string]*Volume{}
	if len(spec.Volumes) > MaxVolumes {
		probs.addf(ErrInvalid, "spec.volumes", "%d volumes, must be at most %d", len(spec.Volumes), MaxVolumes)
		return byName
	}
	firstPath := map[string]string{}
	for i := range spec.Volumes {
		v := &spec.Volumes[i]
		prefix := fmt.Sprintf("spec.volumes[%d]", i)
		checkVolumeName(probs, prefix+".name", v.Name)
		if first, dup := firstPath[v.Name]; dup && v.Name != "" {
			probs.addf(ErrInvalid, prefix+".name", "duplicate volume name %q: %s and %s", v.Name, first, prefix)
		} else if v.Name != "" {
			firstPath[v.Name] = prefix
			byName[v.Name] = v
		}
		switch {
		case v.EmptyDir != nil && v.HostPath != nil:
			probs.addf(ErrInvalid, prefix, "more than one volume source: set only one of emptyDir and hostPath")
		case v.EmptyDir != nil:
			checkEmptyDir(probs, prefix+".emptyDir", v.EmptyDir)
		case v.HostPath != nil:
			checkHostPath(probs, prefix+".hostPath", v.HostPath)
		default:
			probs.addf(ErrInvalid, prefix, "no supported volume source: sandbox supports emptyDir and hostPath")
		}
	}
	return byName
}

func checkVolumeName(probs *problems, field, name string) {
	checkDNSLabel(probs, field, name, "it names a directory in the pod's state")
}

func checkEmptyDir(probs *problems, field string, e *EmptyDirVolumeSource) {
	switch e.Medium {
	case StorageMediumDefault, StorageMediumMemory:
	default:
		probs.addf(ErrInvalid, field+".medium", "%q is not supported, must be \"\" or %q", e.Medium, StorageMediumMemory)
	}
	if e.SizeLimit == "" {
		return
	}
	if _, err := ParseSizeLimit(e.SizeLimit); err != nil {
		probs.addf(ErrInvalid, field+".sizeLimit", "%v", err)
	}
}

// ParseSizeLimit parses a Kubernetes quantity as a byte count with
// k8s.io/apimachinery's resource package: "64Mi", "1G", "1e3". It must be a
// positive whole number of bytes; "500m" (half a byte) is refused.
func ParseSizeLimit(s string) (int64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a quantity (e.g. 64Mi, 1G): %w", s, err)
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	if q.Cmp(*resource.NewQuantity(MaxSizeLimit, resource.BinarySI)) > 0 {
		return 0, fmt.Errorf("%q is too large, must be at most %d bytes", s, int64(MaxSizeLimit))
	}
	n, ok := q.AsInt64()
	if !ok {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return n, nil
}

func checkHostPath(probs *problems, field string, h *HostPathVolumeSource) {
	checkCleanAbs(probs, field+".path", h.Path)
	switch h.PathType() {
	case HostPathUnset, HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate, HostPathFile,
		HostPathSocket, HostPathCharDev, HostPathBlockDev:
	default:
		probs.addf(ErrInvalid, field+".type", "%q is not a hostPath type (\"\", DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice)", h.PathType())
	}
}

// checkCleanAbs refuses a host path that is relative or not in its cleaned
// form: "/data/../etc" says one thing and means another.
func checkCleanAbs(probs *problems, field, p string) {
	switch {
	case p == "":
		probs.addf(ErrInvalid, field, "required")
	case strings.IndexByte(p, 0) >= 0:
		probs.addf(ErrInvalid, field, "contains a NUL byte")
	case len(p) > MaxPathBytes:
		probs.addf(ErrInvalid, field, "%d bytes, must be at most %d", len(p), MaxPathBytes)
	case !path.IsAbs(p):
		probs.addf(ErrInvalid, field, "%q must be an absolute path", p)
	case path.Clean(p) != p:
		probs.addf(ErrInvalid, field, "%q is not clean: write %q", p, path.Clean(p))
	}
}

func checkVolumeMounts(probs *problems, prefix string, c *Container, volumes map[string]*Volume) {
	if len(c.VolumeMounts) > MaxVolumes {
		probs.addf(ErrInvalid, prefix+".volumeMounts", "%d mounts, must be at most %d", len(c.VolumeMounts), MaxVolumes)
		return
	}
	firstPath := map[string]string{}
	for i, m := range c.VolumeMounts {
		field := fmt.Sprintf("%s.volumeMounts[%d]", prefix, i)
		switch _, ok := volumes[m.Name]; {
		case m.Name == "":
			probs.addf(ErrInvalid, field+".name", "required")
		case !ok:
			probs.addf(ErrInvalid, field+".name", "no volume named %q in spec.volumes", m.Name)
		}
		dest, ok := checkMountPath(probs, field+".mountPath", m.MountPath)
		if ok {
			if first, dup := firstPath[dest]; dup {
				probs.addf(ErrInvalid, field+".mountPath", "duplicate mount destination %q: %s and %s", dest, first, field)
			} else {
				firstPath[dest] = field
			}
		}
		checkSubPath(probs, field+".subPath", m.SubPath)
	}
}

// checkMountPath checks a destination inside the container and returns it
// cleaned. "/a/../b" is accepted as "/b" (it cannot leave the root: the
// runtime resolves it inside the root anyway); "/", and anything under
// /proc, /sys or /dev is refused.
func checkMountPath(probs *problems, field, p string) (string, bool) {
	switch {
	case p == "":
		probs.addf(ErrInvalid, field, "required")
		return "", false
	case strings.IndexByte(p, 0) >= 0:
		probs.addf(ErrInvalid, field, "contains a NUL byte")
		return "", false
	case len(p) > MaxPathBytes:
		probs.addf(ErrInvalid, field, "%d bytes, must be at most %d", len(p), MaxPathBytes)
		return "", false
	case !path.IsAbs(p):
		probs.addf(ErrInvalid, field, "%q must be an absolute path", p)
		return "", false
	}
	clean := path.Clean(p)
	if clean == "/" {
		probs.addf(ErrInvalid, field, "%q is the container's root: mount a volume below it", p)
		return "", false
	}
	for _, r := range reservedMountPaths {
		if clean == r || strings.HasPrefix(clean, r+"/") {
			probs.addf(ErrInvalid, field, "%q is under %s, which the runtime owns: a volume there could hide or redirect kernel interfaces", p, r)
			return "", false
		}
	}
	return clean, true
}

// checkSubPath refuses absolute subPaths and any ".." component, as
// Kubernetes does; symlinks inside the volume are handled at mount time.
func checkSubPath(probs *problems, field, p string) {
	switch {
	case p == "":
	case strings.IndexByte(p, 0) >= 0:
		probs.addf(ErrInvalid, field, "contains a NUL byte")
	case len(p) > MaxPathBytes:
		probs.addf(ErrInvalid, field, "%d bytes, must be at most %d", len(p), MaxPathBytes)
	case path.IsAbs(p):
		probs.addf(ErrInvalid, field, "%q must be a relative path", p)
	case slicesContains(strings.Split(p, "/"), ".."):
		probs.addf(ErrInvalid, field, "%q must not contain '..'", p)
	}
}

func slicesContains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func checkHostAliases(probs *problems, aliases []HostAlias) {
	if len(aliases) > MaxHostAliases {
		probs.addf(ErrInvalid, "spec.hostAliases", "%d entries, must be at most %d", len(aliases), MaxHostAliases)
		return
	}
	for i, a := range aliases {
		field := fmt.Sprintf("spec.hostAliases[%d]", i)
		if _, err := netip.ParseAddr(a.IP); err != nil {
			probs.addf(ErrInvalid, field+".ip", "%q is not an IP address", a.IP)
		}
		for j, h := range a.Hostnames {
			if !isHostsName(h) {
				probs.addf(ErrInvalid, fmt.Sprintf("%s.hostnames[%d]", field, j), "%q is not a valid host name (a DNS-1123 subdomain)", h)
			}
		}
	}
}

// isHostsName accepts a DNS-1123 subdomain: what may appear in /etc/hosts
// without breaking the line format.
func isHostsName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) > 63 || !dnsLabelRE().MatchString(label) {
			return false
		}
	}
	return true
}

func checkDNS(probs *problems, spec *PodSpec) {
	switch spec.DNSPolicy {
	case "", DNSClusterFirst, DNSClusterFirstWithHostNet, DNSDefault, DNSNone:
	default:
		probs.addf(ErrInvalid, "spec.dnsPolicy", "%q is invalid, must be one of ClusterFirst, ClusterFirstWithHostNet, Default, None", spec.DNSPolicy)
	}
	cfg := spec.DNSConfig
	if spec.DNSPolicy == DNSNone && (cfg == nil || len(cfg.Nameservers) == 0) {
		probs.addf(ErrInvalid, "spec.dnsConfig.nameservers", "required when dnsPolicy is None")
	}
	if cfg == nil {
		return
	}
	if len(cfg.Nameservers) > MaxNameservers {
		probs.addf(ErrInvalid, "spec.dnsConfig.nameservers", "%d nameservers, must be at most %d", len(cfg.Nameservers), MaxNameservers)
	}
	for i, ns := range cfg.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			probs.addf(ErrInvalid, fmt.Sprintf("spec.dnsConfig.nameservers[%d]", i), "%q is not an IP address", ns)
		}
	}
	if len(cfg.Searches) > MaxSearches {
		probs.addf(ErrInvalid, "spec.dnsConfig.searches", "%d search domains, must be at most %d", len(cfg.Searches), MaxSearches)
	}
	for i, s := range cfg.Searches {
		if !isHostsName(strings.TrimSuffix(s, ".")) {
			probs.addf(ErrInvalid, fmt.Sprintf("spec.dnsConfig.searches[%d]", i), "%q is not a valid search domain", s)
		}
	}
	for i, o := range cfg.Options {
		field := fmt.Sprintf("spec.dnsConfig.options[%d]", i)
		if o.Name == "" || strings.ContainsAny(o.Name, " \t\n:\x00") {
			probs.addf(ErrInvalid, field+".name", "%q is not a resolv.conf option name", o.Name)
		}
		if o.Value != nil && strings.ContainsAny(*o.Value, " \t\n\x00") {
			probs.addf(ErrInvalid, field+".value", "%q must not contain white space", *o.Value)
		}
	}
}

// checkVolumesAndSecurity checks volumes, mounts, host aliases, DNS and the
// security contexts.
func checkVolumesAndSecurity(probs *problems, p *Pod) {
	volumes := checkVolumes(probs, &p.Spec)
	checkHostAliases(probs, p.Spec.HostAliases)
	checkDNS(probs, &p.Spec)
	checkPodSecurityContext(probs, p.Spec.SecurityContext)
	if len(p.Spec.Containers)+len(p.Spec.InitContainers) > MaxContainers {
		return
	}
	for _, group := range []struct {
		field string
		list  []Container
	}{{"spec.initContainers", p.Spec.InitContainers}, {"spec.containers", p.Spec.Containers}} {
		for i := range group.list {
			prefix := fmt.Sprintf("%s[%d]", group.field, i)
			checkVolumeMounts(probs, prefix, &group.list[i], volumes)
			checkSecurityContext(probs, prefix, p, &group.list[i])
		}
	}
}
