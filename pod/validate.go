package pod

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
)

// Compiled on first use, not at package init (see referenceRE).
var (
	// podNameRE: metadata.name becomes a directory name and a cgroup name,
	// so no '/', no NUL, no leading '.', no upper case (cf. runc validateID,
	// Kubernetes DNS-1123 subdomain).
	podNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`) })
	// dnsLabelRE: a DNS-1123 label, for container names and spec.hostname.
	dnsLabelRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`) })
)

// Validate checks the whole pod and returns every problem found, as the
// errors.Join of one *FieldError per problem (at most 50), each naming its
// field path and matching ErrInvalid. It accepts a pod before or after
// SetDefaults: unset fields are valid and mean their default.
func (p *Pod) Validate() error {
	var probs problems
	checkTypeMeta(&probs, p)
	checkPodName(&probs, p.Metadata.Name)
	checkContainers(&probs, &p.Spec)
	checkHostname(&probs, p.Spec.Hostname, p.Metadata.Name)
	checkRestartPolicy(&probs, p.Spec.RestartPolicy)
	checkGracePeriod(&probs, p.Spec.TerminationGracePeriodSeconds)
	checkVolumesAndSecurity(&probs, p) // volumes.go, security.go
	checkResources(&probs, p)          // resources.go
	checkLifecycle(&probs, p)          // lifecycle.go
	checkPorts(&probs, p)              // ports.go
	return probs.err()
}

func checkTypeMeta(probs *problems, p *Pod) {
	switch p.APIVersion {
	case APIVersion:
	case "":
		probs.addf(ErrInvalid, "apiVersion", "required, must be %q", APIVersion)
	default:
		probs.addf(ErrInvalid, "apiVersion", "%q is not supported, must be %q", p.APIVersion, APIVersion)
	}
	switch p.Kind {
	case Kind:
	case "":
		probs.addf(ErrInvalid, "kind", "required, must be %q", Kind)
	default:
		probs.addf(ErrInvalid, "kind", "%q is not supported, must be %q", p.Kind, Kind)
	}
}

func checkPodName(probs *problems, name string) {
	const field = "metadata.name"
	switch {
	case name == "":
		probs.addf(ErrInvalid, field, "required")
	case len(name) > MaxNameLength:
		probs.addf(ErrInvalid, field, "%d characters, must be 1 to %d", len(name), MaxNameLength)
	case !podNameRE().MatchString(name): // also refuses "." and ".."
		probs.addf(ErrInvalid, field, "%q is invalid: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (it names the pod's state directory and cgroup)", name)
	}
}

func checkContainers(probs *problems, spec *PodSpec) {
	if len(spec.Containers) == 0 {
		probs.addf(ErrInvalid, "spec.containers", "required: at least one container")
	}
	if n := len(spec.Containers) + len(spec.InitContainers); n > MaxContainers {
		probs.addf(ErrInvalid, "spec.containers", "%d containers including init containers, must be at most %d", n, MaxContainers)
		return // checking each of thousands of containers would only add noise
	}
	// Names are unique across containers and init containers: they name
	// the container's state and cgroup below the pod's.
	firstPath := map[string]string{}
	for _, group := range []struct {
		field string
		list  []Container
	}{{"spec.initContainers", spec.InitContainers}, {"spec.containers", spec.Containers}} {
		for i := range group.list {
			c := &group.list[i]
			prefix := fmt.Sprintf("%s[%d]", group.field, i)
			checkContainer(probs, prefix, c)
			if c.Name == "" {
				continue
			}
			if first, dup := firstPath[c.Name]; dup {
				probs.addf(ErrInvalid, prefix+".name", "duplicate container name %q: %s and %s", c.Name, first, prefix)
			} else {
				firstPath[c.Name] = prefix
			}
		}
	}
}

func checkContainer(probs *problems, prefix string, c *Container) {
	checkContainerName(probs, prefix+".name", c.Name)
	img, err := ParseImage(c.Image)
	if err != nil {
		probs.addf(ErrInvalid, prefix+".image", "%s", err.Error())
	}
	switch PullPolicy(c.ImagePullPolicy) {
	case "", PullAlways, PullIfNotPresent, PullNever:
	default:
		probs.addf(ErrInvalid, prefix+".imagePullPolicy", "%q is invalid: must be Always, IfNotPresent or Never", c.ImagePullPolicy)
	}
	checkArgv(probs, prefix, c, err == nil && img.IsStored())
	checkEnv(probs, prefix, c.Env)
	if total := argvEnvBytes(c); total > MaxArgvEnvBytes {
		probs.addf(ErrInvalid, prefix, "command, args and env take %d bytes, must be at most %d", total, MaxArgvEnvBytes)
	}
	checkWorkingDir(probs, prefix+".workingDir", c.WorkingDir)
}

func checkContainerName(probs *problems, field, name string) {
	checkDNSLabel(probs, field, name, "a DNS-1123 label")
}

// checkDNSLabel checks a name that must be a DNS-1123 label; why ends the
// message of an invalid one.
func checkDNSLabel(probs *problems, field, name, why string) {
	switch {
	case name == "":
		probs.addf(ErrInvalid, field, "required")
	case len(name) > MaxNameLength:
		probs.addf(ErrInvalid, field, "%d characters, must be 1 to %d", len(name), MaxNameLength)
	case !dnsLabelRE().MatchString(name):
		probs.addf(ErrInvalid, field, "%q is invalid: use lowercase letters, digits and '-', starting and ending with a letter or digit (%s)", name, why)
	}
}

func checkArgv(probs *problems, prefix string, c *Container, imageHasEntrypoint bool) {
	if len(c.Command) == 0 && len(c.Args) == 0 && !imageHasEntrypoint {
		probs.addf(ErrInvalid, prefix+".command", "required: host and dir images have no entrypoint, so command must name the program to run")
		return
	}
	if n := len(c.Command) + len(c.Args); n > MaxArgs {
		probs.addf(ErrInvalid, prefix+".args", "command and args have %d strings, must be at most %d", n, MaxArgs)
		return
	}
	// argv[0] is the program; an empty one can only fail at exec time.
	// With a stored image and no command, args follow the image's Entrypoint.
	if first := firstArgPath(prefix, c); (len(c.Command) > 0 || !imageHasEntrypoint) && c.Argv()[0] == "" {
		probs.addf(ErrInvalid, first, "must not be empty: it is the program to run")
	}
	for _, list := range []struct {
		field string
		args  []string
	}{{"command", c.Command}, {"args", c.Args}} {
		for i, arg := range list.args {
			field := fmt.Sprintf("%s.%s[%d]", prefix, list.field, i)
			checkExecString(probs, field, arg)
		}
	}
}

func firstArgPath(prefix string, c *Container) string {
	if len(c.Command) > 0 {
		return prefix + ".command[0]"
	}
	return prefix + ".args[0]"
}

// checkExecString checks a string that execve(2) gets as one C string: a NUL
// would silently truncate it, and the kernel refuses strings longer than
// MAX_ARG_STRLEN with E2BIG.
func checkExecString(probs *problems, field, s string) {
	if strings.IndexByte(s, 0) >= 0 {
		probs.addf(ErrInvalid, field, "contains a NUL byte")
	}
	if len(s) > MaxArgBytes {
		probs.addf(ErrInvalid, field, "%d bytes, must be at most %d (the kernel's MAX_ARG_STRLEN)", len(s), MaxArgBytes)
	}
}

func checkEnv(probs *problems, prefix string, env []EnvVar) {
	if len(env) > MaxEnv {
		probs.addf(ErrInvalid, prefix+".env", "%d variables, must be at most %d", len(env), MaxEnv)
		return
	}
	for i, e := range env {
		field := fmt.Sprintf("%s.env[%d]", prefix, i)
		switch {
		case e.Name == "":
			probs.addf(ErrInvalid, field+".name", "required")
		case len(e.Name) > MaxEnvNameBytes:
			probs.addf(ErrInvalid, field+".name", "%d bytes, must be at most %d", len(e.Name), MaxEnvNameBytes)
		case strings.IndexByte(e.Name, '=') >= 0:
			// The kernel splits NAME=value at the first '=': the
			// variable would get another name.
			probs.addf(ErrInvalid, field+".name", "%q must not contain '='", e.Name)
		case strings.IndexByte(e.Name, 0) >= 0:
			probs.addf(ErrInvalid, field+".name", "contains a NUL byte")
		}
		if strings.IndexByte(e.Value, 0) >= 0 {
			probs.addf(ErrInvalid, field+".value", "contains a NUL byte")
		}
		// The kernel limit applies to the whole "NAME=value" string.
		if n := len(e.Name) + 1 + len(e.Value); n > MaxArgBytes && len(e.Name) <= MaxEnvNameBytes {
			probs.addf(ErrInvalid, field+".value", "NAME=value is %d bytes, must be at most %d (the kernel's MAX_ARG_STRLEN)", n, MaxArgBytes)
		}
	}
}

// argvEnvBytes is what execve copies for command, args and env, each string
// with its NUL.
func argvEnvBytes(c *Container) int {
	total := 0
	for _, s := range c.Command {
		total += len(s) + 1
	}
	for _, s := range c.Args {
		total += len(s) + 1
	}
	for _, e := range c.Env {
		total += len(e.Name) + 1 + len(e.Value) + 1
	}
	return total
}

// checkWorkingDir refuses relative paths and anything under /proc. A working
// directory such as /proc/self/fd/3 is how CVE-2024-21626 escaped the rootfs
// through a leaked host fd. The check applies to the cleaned path, which is
// what the supervisor uses (SetDefaults stores it), so "/x/../proc" is
// refused too.
func checkWorkingDir(probs *problems, field, dir string) {
	switch {
	case dir == "":
	case strings.IndexByte(dir, 0) >= 0:
		probs.addf(ErrInvalid, field, "contains a NUL byte")
	case !path.IsAbs(dir):
		probs.addf(ErrInvalid, field, "%q must be an absolute path", dir)
	case isUnderProc(path.Clean(dir)):
		probs.addf(ErrInvalid, field, "%q is under /proc, which is refused (CVE-2024-21626: a working directory in /proc/self/fd escapes the container)", dir)
	}
}

func isUnderProc(clean string) bool {
	return clean == "/proc" || strings.HasPrefix(clean, "/proc/")
}

// checkHostname checks spec.hostname as an RFC 1123 label. The default,
// metadata.name, is exempt: it is checked by its own rule, and may contain
// dots, which sethostname(2) accepts (Kubernetes does the same).
func checkHostname(probs *problems, hostname, podName string) {
	const field = "spec.hostname"
	switch {
	case hostname == "" || hostname == podName:
	case len(hostname) > MaxNameLength:
		probs.addf(ErrInvalid, field, "%d characters, must be 1 to %d", len(hostname), MaxNameLength)
	case !dnsLabelRE().MatchString(hostname):
		probs.addf(ErrInvalid, field, "%q is invalid: use lowercase letters, digits and '-', starting and ending with a letter or digit (an RFC 1123 label)", hostname)
	}
}

func checkRestartPolicy(probs *problems, policy RestartPolicy) {
	switch policy {
	case "", RestartAlways, RestartOnFailure, RestartNever:
	default:
		probs.addf(ErrInvalid, "spec.restartPolicy", "%q is invalid, must be one of %q, %q, %q", policy, RestartAlways, RestartOnFailure, RestartNever)
	}
}

func checkGracePeriod(probs *problems, seconds *int64) {
	if seconds != nil && (*seconds < 0 || *seconds > MaxGracePeriodSeconds) {
		probs.addf(ErrInvalid, "spec.terminationGracePeriodSeconds", "%d is out of range, must be 0 to %d seconds", *seconds, MaxGracePeriodSeconds)
	}
}
