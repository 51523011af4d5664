package pod

import "time"

// Limits. They keep a hostile or mistaken manifest from exhausting memory or
// the stack while decoding, and make sure that what passes Validate can be
// passed to execve(2) without E2BIG.
const (
	// MaxManifestBytes is the largest manifest Load reads (1 MiB).
	MaxManifestBytes = 1 << 20
	// MaxNesting is the deepest nesting of objects and arrays Decode accepts.
	// A valid Pod needs 5; the cap stops a 1 MiB "[[[[..." early.
	MaxNesting = 64
	// MaxContainers caps containers plus init containers in one pod.
	MaxContainers = 64
	// MaxArgs caps the number of strings in command plus args.
	MaxArgs = 4096
	// MaxArgBytes caps the length of one argument and of one "NAME=value"
	// environment string: the kernel's MAX_ARG_STRLEN is 131072 bytes
	// including the terminating NUL.
	MaxArgBytes = 128<<10 - 1
	// MaxEnv caps the number of environment variables of one container.
	MaxEnv = 1024
	// MaxEnvNameBytes caps the length of an environment variable name.
	MaxEnvNameBytes = 4096
	// MaxArgvEnvBytes caps command, args and env of one container together,
	// counting a NUL per string. The kernel allows a quarter of the stack
	// rlimit (2 MiB with the usual 8 MiB); half of that leaves room for the
	// variables the supervisor adds. A 1 MiB manifest can exceed it through
	// YAML aliases that repeat a long string.
	MaxArgvEnvBytes = 1 << 20
	// MaxGracePeriodSeconds caps spec.terminationGracePeriodSeconds (1 day).
	MaxGracePeriodSeconds = 86400
	// MaxNameLength caps metadata.name, container names and spec.hostname
	// (a DNS label; also fits a file name and a cgroup name).
	MaxNameLength = 63
)

// Defaults applied by SetDefaults.
const (
	DefaultRestartPolicy         = RestartAlways
	DefaultGracePeriodSeconds    = 30
	DefaultShareProcessNamespace = true
)

// Supported values of apiVersion and kind.
const (
	APIVersion = "v1"
	Kind       = "Pod"
)

// Pod is the subset of a Kubernetes v1 Pod that sandbox runs.
type Pod struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       PodSpec    `json:"spec"`
}

// ObjectMeta is the subset of Kubernetes ObjectMeta that sandbox uses.
// Labels and annotations are kept but not interpreted or validated.
type ObjectMeta struct {
	// Name names the pod; it becomes the state directory and cgroup name.
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RestartPolicy says when the supervisor restarts a container that exited.
type RestartPolicy string

// The restart policies, as in Kubernetes.
const (
	RestartAlways    RestartPolicy = "Always"
	RestartOnFailure RestartPolicy = "OnFailure"
	RestartNever     RestartPolicy = "Never"
)

// PodSpec is the subset of a Kubernetes PodSpec that sandbox runs.
type PodSpec struct {
	Containers     []Container `json:"containers"`
	InitContainers []Container `json:"initContainers,omitempty"`
	// Hostname is the pod's UTS hostname; empty means metadata.name.
	Hostname      string        `json:"hostname,omitempty"`
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
	// TerminationGracePeriodSeconds: nil means DefaultGracePeriodSeconds.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// ShareProcessNamespace: nil means true, unlike Kubernetes, because the
	// pod has a single PID namespace with the pause process as PID 1.
	ShareProcessNamespace *bool `json:"shareProcessNamespace,omitempty"`
	// HostUsers is decoded and left to the supervisor to interpret; no
	// default is applied.
	HostUsers *bool `json:"hostUsers,omitempty"`
	// HostNetwork runs the pod in the host's network namespace.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// Volumes, security context, host aliases and DNS: see volumes.go and
	// security.go.
	Volumes         []Volume            `json:"volumes,omitempty"`
	SecurityContext *PodSecurityContext `json:"securityContext,omitempty"`
	HostAliases     []HostAlias         `json:"hostAliases,omitempty"`
	DNSPolicy       DNSPolicy           `json:"dnsPolicy,omitempty"`
	DNSConfig       *PodDNSConfig       `json:"dnsConfig,omitempty"`
}

// Container is the subset of a Kubernetes Container that sandbox runs.
type Container struct {
	Name string `json:"name"`
	// Image is parsed by ParseImage: empty or "host" is the host root
	// filesystem (read-only), "dir:/abs" or "/abs" a directory.
	Image string `json:"image,omitempty"`
	// ImagePullPolicy is Always, IfNotPresent or Never; see
	// EffectivePullPolicy for the default.
	ImagePullPolicy string `json:"imagePullPolicy,omitempty"`
	// Command and Args together are the argv (see Argv): host and directory
	// images have no entrypoint, so argv[0] is the program to run; a stored
	// image's Entrypoint and Cmd fill in what is missing (see image.Argv).
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	Env     []EnvVar `json:"env,omitempty"`
	// WorkingDir is absolute; the supervisor must use path.Clean of it
	// (SetDefaults stores the cleaned form).
	WorkingDir string `json:"workingDir,omitempty"`
	// VolumeMounts and SecurityContext: see volumes.go and security.go.
	VolumeMounts    []VolumeMount    `json:"volumeMounts,omitempty"`
	SecurityContext *SecurityContext `json:"securityContext,omitempty"`
	// Resources: see resources.go.
	Resources ResourceRequirements `json:"resources,omitempty"`
	// Lifecycle: postStart and preStop hooks, see lifecycle.go.
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
	// Ports: see ports.go; hostPort publishes one on the host.
	Ports []ContainerPort `json:"ports,omitempty"`
}

// EnvVar is one environment variable of a container.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Warning is a field Kubernetes has but sandbox does not support yet: it is
// reported, never silently dropped.
type Warning struct {
	Path    string // e.g. "spec.containers[0].livenessProbe"
	Message string // e.g. "not supported, ignored"
}

// String returns e.g. "spec.containers[0].livenessProbe: not supported, ignored".
func (w Warning) String() string { return w.Path + ": " + w.Message }

// Argv returns command followed by args, as a new slice.
func (c *Container) Argv() []string {
	argv := make([]string, 0, len(c.Command)+len(c.Args))
	argv = append(argv, c.Command...)
	return append(argv, c.Args...)
}

// ShareProcessNamespaceEnabled reports spec.shareProcessNamespace, true when
// unset.
func (p *Pod) ShareProcessNamespaceEnabled() bool {
	if p.Spec.ShareProcessNamespace == nil {
		return DefaultShareProcessNamespace
	}
	return *p.Spec.ShareProcessNamespace
}

// GracePeriod returns spec.terminationGracePeriodSeconds as a duration,
// DefaultGracePeriodSeconds when unset. Call it on a validated pod: it does
// not check the range.
func (p *Pod) GracePeriod() time.Duration {
	if p.Spec.TerminationGracePeriodSeconds == nil {
		return DefaultGracePeriodSeconds * time.Second
	}
	return time.Duration(*p.Spec.TerminationGracePeriodSeconds) * time.Second
}

// PodHostname returns spec.hostname, or metadata.name when it is empty.
func (p *Pod) PodHostname() string {
	if p.Spec.Hostname == "" {
		return p.Metadata.Name
	}
	return p.Spec.Hostname
}
