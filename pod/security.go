package pod

import (
	"fmt"
	"slices"
	"strings"
)

// SecurityContext is the subset of a container's securityContext that
// sandbox honours; it overrides the pod's for the fields both have.
type SecurityContext struct {
	Capabilities *Capabilities `json:"capabilities,omitempty"`
	// Privileged gives the container every capability of the pod's user
	// namespace, no seccomp filter and no masked or read-only paths. It never
	// gives more than the invoking user has on the host: see docs/SECURITY.md.
	Privileged               *bool           `json:"privileged,omitempty"`
	RunAsUser                *int64          `json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot             *bool           `json:"runAsNonRoot,omitempty"`
	ReadOnlyRootFilesystem   *bool           `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool           `json:"allowPrivilegeEscalation,omitempty"`
	SeccompProfile           *SeccompProfile `json:"seccompProfile,omitempty"`
}

// PodSecurityContext is the subset of spec.securityContext that sandbox
// honours: defaults for every container's securityContext.
type PodSecurityContext struct {
	RunAsUser          *int64          `json:"runAsUser,omitempty"`
	RunAsGroup         *int64          `json:"runAsGroup,omitempty"`
	RunAsNonRoot       *bool           `json:"runAsNonRoot,omitempty"`
	SupplementalGroups []int64         `json:"supplementalGroups,omitempty"`
	SeccompProfile     *SeccompProfile `json:"seccompProfile,omitempty"`
}

// Capabilities to add to and drop from the default set. Names are as in
// Kubernetes ("NET_ADMIN"); the "CAP_" prefix is accepted too, and "ALL".
type Capabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// SeccompProfileType is seccompProfile.type.
type SeccompProfileType string

// The seccomp profile types. Localhost is refused: sandbox has no profile
// directory.
const (
	SeccompRuntimeDefault SeccompProfileType = "RuntimeDefault"
	SeccompUnconfined     SeccompProfileType = "Unconfined"
	SeccompLocalhost      SeccompProfileType = "Localhost"
)

// SeccompProfile selects the container's seccomp filter.
type SeccompProfile struct {
	Type             SeccompProfileType `json:"type"`
	LocalhostProfile *string            `json:"localhostProfile,omitempty"`
}

// MaxID is the largest uid or gid a manifest may name (as in Kubernetes).
const MaxID = 1<<31 - 1

// CapabilityNames are the capabilities Linux defines, without "CAP_", in the
// kernel's numbering (CapabilityNames[n] is capability n).
var CapabilityNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE",
}

// DefaultCapabilities is the bounding, permitted and effective set of a
// container whose securityContext does not change it: Podman's 11
// (containers/common DefaultCapabilities). Notably absent: SYS_ADMIN,
// SYS_PTRACE (CVE-2019-5736: reaching /proc/PID/exe of a non-dumpable
// runtime process), NET_RAW, MKNOD, AUDIT_WRITE.
var DefaultCapabilities = []string{ // in the kernel's order
	"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE",
	"SYS_CHROOT", "SETFCAP",
}

// NormalizeCapability returns the name without "CAP_" in upper case, and
// whether it is a capability Linux defines (or "ALL").
func NormalizeCapability(name string) (string, bool) {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	return n, n == "ALL" || slices.Contains(CapabilityNames, n)
}

// Security is a container's effective security settings: its
// securityContext over the pod's, with sandbox's defaults for what neither
// sets.
type Security struct {
	UID, GID           int64
	SupplementalGroups []int64
	// Capabilities is the bounding set (and the permitted and effective set
	// of a root process), sorted in the kernel's order.
	Capabilities []string
	// NoNewPrivs is set unless allowPrivilegeEscalation is true or the
	// container is privileged.
	NoNewPrivs bool
	Seccomp    bool
	Privileged bool
	// MaskPaths: whether /proc/kcore and the like are masked and /proc/sys
	// and the like are read-only (off for privileged containers).
	MaskPaths      bool
	ReadOnlyRootfs bool
	RunAsNonRoot   bool
	UIDSet, GIDSet bool
}

// EffectiveSecurity merges c's securityContext over the pod's. Call it on a
// validated pod.
func (p *Pod) EffectiveSecurity(c *Container) Security {
	psc, csc := p.Spec.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &PodSecurityContext{}
	}
	if csc == nil {
		csc = &SecurityContext{}
	}
	s := Security{Seccomp: true, MaskPaths: true, NoNewPrivs: true}
	if u := firstInt(csc.RunAsUser, psc.RunAsUser); u != nil {
		s.UID, s.UIDSet = *u, true
	}
	if g := firstInt(csc.RunAsGroup, psc.RunAsGroup); g != nil {
		s.GID, s.GIDSet = *g, true
	}
	s.SupplementalGroups = slices.Clone(psc.SupplementalGroups)
	if b := firstBool(csc.RunAsNonRoot, psc.RunAsNonRoot); b != nil {
		s.RunAsNonRoot = *b
	}
	if csc.ReadOnlyRootFilesystem != nil {
		s.ReadOnlyRootfs = *csc.ReadOnlyRootFilesystem
	}
	prof := csc.SeccompProfile
	if prof == nil {
		prof = psc.SeccompProfile
	}
	if prof != nil {
		s.Seccomp = prof.Type != SeccompUnconfined
	}
	s.Privileged = csc.Privileged != nil && *csc.Privileged
	if csc.AllowPrivilegeEscalation != nil {
		s.NoNewPrivs = !*csc.AllowPrivilegeEscalation
	}
	caps := append([]string(nil), DefaultCapabilities...)
	if s.Privileged {
		caps = append([]string(nil), CapabilityNames...)
		s.MaskPaths = false
		if csc.SeccompProfile == nil {
			s.Seccomp = false // as Kubernetes: privileged runs unconfined unless a profile is set
		}
		if csc.AllowPrivilegeEscalation == nil {
			s.NoNewPrivs = false
		}
	}
	if cs := csc.Capabilities; cs != nil {
		drop := map[string]bool{}
		for _, d := range cs.Drop {
			n, _ := NormalizeCapability(d)
			drop[n] = true
		}
		if drop["ALL"] {
			caps = nil
		}
		caps = slices.DeleteFunc(caps, func(c string) bool { return drop[c] })
		for _, a := range cs.Add {
			n, _ := NormalizeCapability(a)
			if n == "ALL" {
				caps = append([]string(nil), CapabilityNames...)
				continue
			}
			if !slices.Contains(caps, n) {
				caps = append(caps, n)
			}
		}
	}
	slices.SortFunc(caps, func(a, b string) int {
		return slices.Index(CapabilityNames, a) - slices.Index(CapabilityNames, b)
	})
	s.Capabilities = caps
	return s
}

func firstInt(vals ...*int64) *int64 {
	for _, v := range vals {
		if v != nil {
			return v
		}
	}
	return nil
}

func firstBool(vals ...*bool) *bool {
	for _, v := range vals {
		if v != nil {
			return v
		}
	}
	return nil
}

func checkPodSecurityContext(probs *problems, sc *PodSecurityContext) {
	if sc == nil {
		return
	}
	const prefix = "spec.securityContext"
	checkID(probs, prefix+".runAsUser", sc.RunAsUser)
	checkID(probs, prefix+".runAsGroup", sc.RunAsGroup)
	for i := range sc.SupplementalGroups {
		checkID(probs, fmt.Sprintf("%s.supplementalGroups[%d]", prefix, i), &sc.SupplementalGroups[i])
	}
	if len(sc.SupplementalGroups) > 64 {
		probs.addf(ErrInvalid, prefix+".supplementalGroups", "%d groups, must be at most 64", len(sc.SupplementalGroups))
	}
	checkSeccompProfile(probs, prefix+".seccompProfile", sc.SeccompProfile)
}

func checkSecurityContext(probs *problems, prefix string, p *Pod, c *Container) {
	field := prefix + ".securityContext"
	if sc := c.SecurityContext; sc != nil {
		checkID(probs, field+".runAsUser", sc.RunAsUser)
		checkID(probs, field+".runAsGroup", sc.RunAsGroup)
		checkSeccompProfile(probs, field+".seccompProfile", sc.SeccompProfile)
		escalationOff := sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
		if sc.Privileged != nil && *sc.Privileged && escalationOff {
			probs.addf(ErrInvalid, field+".allowPrivilegeEscalation", "cannot be false when privileged is true")
		}
		if cs := sc.Capabilities; cs != nil {
			for _, list := range []struct {
				name  string
				names []string
			}{{"add", cs.Add}, {"drop", cs.Drop}} {
				for i, n := range list.names {
					norm, ok := NormalizeCapability(n)
					if !ok {
						probs.addf(ErrInvalid, fmt.Sprintf("%s.capabilities.%s[%d]", field, list.name, i), "%q is not a Linux capability (e.g. NET_ADMIN)", n)
					}
					if list.name == "add" && escalationOff && (norm == "SYS_ADMIN" || norm == "ALL") {
						probs.addf(ErrInvalid, field+".allowPrivilegeEscalation", "cannot be false when capabilities.add has %s", n)
					}
				}
			}
		}
	}
	sec := p.EffectiveSecurity(c)
	if sec.RunAsNonRoot && sec.UID == 0 {
		if sec.UIDSet {
			probs.addf(ErrInvalid, field+".runAsNonRoot", "is true but runAsUser is 0")
		} else {
			probs.addf(ErrInvalid, field+".runAsNonRoot", "is true but the container would run as root: set runAsUser to a non-zero uid (host and dir images have no image user)")
		}
	}
}

func checkID(probs *problems, field string, id *int64) {
	if id != nil && (*id < 0 || *id > MaxID) {
		probs.addf(ErrInvalid, field, "%d is out of range, must be 0 to %d", *id, MaxID)
	}
}

func checkSeccompProfile(probs *problems, field string, sp *SeccompProfile) {
	if sp == nil {
		return
	}
	switch sp.Type {
	case SeccompRuntimeDefault, SeccompUnconfined:
		if sp.LocalhostProfile != nil {
			probs.addf(ErrInvalid, field+".localhostProfile", "must be unset unless type is Localhost")
		}
	case SeccompLocalhost:
		probs.addf(ErrInvalid, field+".type", "Localhost profiles are not supported: use RuntimeDefault or Unconfined")
	case "":
		probs.addf(ErrInvalid, field+".type", "required: RuntimeDefault or Unconfined")
	default:
		probs.addf(ErrInvalid, field+".type", "%q is invalid, must be RuntimeDefault or Unconfined", sp.Type)
	}
}
