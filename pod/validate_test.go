package pod

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// validPod returns a pod that passes Validate, for tests to break.
func validPod() *Pod {
	return &Pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: ObjectMeta{Name: "web"},
		Spec:     PodSpec{Containers: []Container{{Name: "main", Command: []string{"/bin/true"}}}},
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateAcceptsBoundaryValues(t *testing.T) {
	tests := []struct {
		name   string
		modify func(p *Pod)
	}{
		{"before SetDefaults", func(p *Pod) {}},
		{"name of 63 characters", func(p *Pod) { p.Metadata.Name = strings.Repeat("a", 63) }},
		{"name with dots as hostname", func(p *Pod) { p.Metadata.Name = "web.v1"; p.Spec.Hostname = "web.v1" }},
		{"single character names", func(p *Pod) { p.Metadata.Name = "a"; p.Spec.Containers[0].Name = "b"; p.Spec.Hostname = "c" }},
		{"grace period 0", func(p *Pod) { p.Spec.TerminationGracePeriodSeconds = ptr[int64](0) }},
		{"grace period one day", func(p *Pod) { p.Spec.TerminationGracePeriodSeconds = ptr[int64](MaxGracePeriodSeconds) }},
		{"args only", func(p *Pod) { p.Spec.Containers[0] = Container{Name: "main", Args: []string{"/bin/echo", "hi"}} }},
		{"MaxArgs strings", func(p *Pod) { p.Spec.Containers[0].Args = make([]string, MaxArgs-1) }},
		{"argument of MaxArgBytes", func(p *Pod) { p.Spec.Containers[0].Args = []string{strings.Repeat("a", MaxArgBytes)} }},
		{"env string of MaxArgBytes", func(p *Pod) {
			p.Spec.Containers[0].Env = []EnvVar{{"A", strings.Repeat("a", MaxArgBytes-2)}}
		}},
		{"MaxEnv variables", func(p *Pod) { p.Spec.Containers[0].Env = manyEnv(MaxEnv) }},
		{"MaxContainers containers", func(p *Pod) {
			p.Spec.Containers = nil
			for i := range MaxContainers / 2 {
				p.Spec.Containers = append(p.Spec.Containers, Container{Name: fmt.Sprintf("c%d", i), Command: []string{"x"}})
				p.Spec.InitContainers = append(p.Spec.InitContainers, Container{Name: fmt.Sprintf("i%d", i), Command: []string{"x"}})
			}
		}},
		{"working dir / and non-clean", func(p *Pod) {
			p.Spec.Containers[0].WorkingDir = "/"
			p.Spec.Containers = append(p.Spec.Containers, Container{Name: "b", Command: []string{"x"}, WorkingDir: "/srv//app/"})
		}},
		{"working dir beside /proc", func(p *Pod) { p.Spec.Containers[0].WorkingDir = "/process" }},
		{"all restart policies", func(p *Pod) { p.Spec.RestartPolicy = RestartNever }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.modify(p)
			if err := p.Validate(); err != nil {
				t.Fatalf("before SetDefaults: %v", err)
			}
			p.SetDefaults()
			if err := p.Validate(); err != nil {
				t.Fatalf("after SetDefaults: %v", err)
			}
		})
	}
}

func manyEnv(n int) []EnvVar {
	env := make([]EnvVar, n)
	for i := range env {
		env[i] = EnvVar{Name: fmt.Sprintf("V%d", i)}
	}
	return env
}

func TestValidateRefusesBadValues(t *testing.T) {
	tests := []struct {
		name   string
		modify func(p *Pod)
		want   string
	}{
		{"pod name with a leading dot", func(p *Pod) { p.Metadata.Name = ".web" }, `metadata.name: ".web" is invalid`},
		{"pod name .", func(p *Pod) { p.Metadata.Name = "." }, `metadata.name: "." is invalid`},
		{"pod name with underscore", func(p *Pod) { p.Metadata.Name = "a_b" }, `metadata.name: "a_b" is invalid`},
		{"container name with trailing dash", func(p *Pod) { p.Spec.Containers[0].Name = "main-" }, `spec.containers[0].name: "main-" is invalid`},
		{"container name of 64", func(p *Pod) { p.Spec.Containers[0].Name = strings.Repeat("a", 64) }, "spec.containers[0].name: 64 characters, must be 1 to 63"},
		{"init container without command", func(p *Pod) { p.Spec.InitContainers = []Container{{Name: "init"}} }, "spec.initContainers[0].command: required"},
		{"empty args[0] without command", func(p *Pod) { p.Spec.Containers[0] = Container{Name: "main", Args: []string{""}} }, "spec.containers[0].args[0]: must not be empty"},
		{"NUL in command", func(p *Pod) { p.Spec.Containers[0].Command = []string{"/bin/true\x00x"} }, "spec.containers[0].command[0]: contains a NUL byte"},
		{"too many strings", func(p *Pod) { p.Spec.Containers[0].Args = make([]string, MaxArgs) }, "command and args have 4097 strings, must be at most 4096"},
		{"env name too long", func(p *Pod) { p.Spec.Containers[0].Env = []EnvVar{{Name: strings.Repeat("N", MaxEnvNameBytes+1)}} }, "spec.containers[0].env[0].name: 4097 bytes, must be at most 4096"},
		{"argv and env over the total", func(p *Pod) {
			c := &p.Spec.Containers[0]
			for range 9 {
				c.Args = append(c.Args, strings.Repeat("a", MaxArgBytes))
			}
		}, "spec.containers[0]: command, args and env take 1179658 bytes, must be at most 1048576"},
		{"relative working dir with ..", func(p *Pod) { p.Spec.Containers[0].WorkingDir = "../etc" }, `"../etc" must be an absolute path`},
		{"working dir /proc", func(p *Pod) { p.Spec.Containers[0].WorkingDir = "/proc" }, `"/proc" is under /proc`},
		{"working dir //proc/self", func(p *Pod) { p.Spec.Containers[0].WorkingDir = "//proc/self/" }, "is under /proc"},
		{"working dir with NUL", func(p *Pod) { p.Spec.Containers[0].WorkingDir = "/a\x00" }, "workingDir: contains a NUL byte"},
		{"hostname with a dot", func(p *Pod) { p.Spec.Hostname = "a.b" }, `spec.hostname: "a.b" is invalid`},
		{"image / as a directory", func(p *Pod) { p.Spec.Containers[0].Image = "dir:/" }, `spec.containers[0].image: "dir:/": the host root is not allowed`},
		{"lower-case restart policy", func(p *Pod) { p.Spec.RestartPolicy = "always" }, `spec.restartPolicy: "always" is invalid`},
		{"huge grace period", func(p *Pod) { p.Spec.TerminationGracePeriodSeconds = ptr[int64](1 << 62) }, "4611686018427387904 is out of range, must be 0 to 86400 seconds"},
		{"wrong kind", func(p *Pod) { p.Kind = "pod" }, `kind: "pod" is not supported, must be "Pod"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.modify(p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not match ErrInvalid")
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a *FieldError")
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := validPod()
	p.Metadata.Name = "Web"
	p.Spec.Containers = append(p.Spec.Containers, Container{Name: "main", WorkingDir: "tmp"})
	p.Spec.RestartPolicy = "Sometimes"
	err := p.Validate()
	want := `metadata.name: "Web" is invalid: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (it names the pod's state directory and cgroup)
spec.containers[1].command: required: host and dir images have no entrypoint, so command must name the program to run
spec.containers[1].workingDir: "tmp" must be an absolute path
spec.containers[1].name: duplicate container name "main": spec.containers[0] and spec.containers[1]
spec.restartPolicy: "Sometimes" is invalid, must be one of "Always", "OnFailure", "Never"`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

func TestValidateCapsTheNumberOfReportedProblems(t *testing.T) {
	p := validPod()
	p.Spec.Containers[0].Args = make([]string, 100)
	for i := range p.Spec.Containers[0].Args {
		p.Spec.Containers[0].Args[i] = "\x00"
	}
	err := p.Validate()
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxReportedProblems+1 || lines[len(lines)-1] != "and 50 more problems not shown" {
		t.Fatalf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestSetDefaults(t *testing.T) {
	p := validPod()
	p.Spec.Containers[0].WorkingDir = "/srv/../app/"
	p.Spec.Containers = append(p.Spec.Containers, Container{Name: "b", WorkingDir: "rel/../x"})
	p.SetDefaults()
	if p.Spec.RestartPolicy != RestartAlways || *p.Spec.TerminationGracePeriodSeconds != 30 ||
		!*p.Spec.ShareProcessNamespace || p.Spec.Hostname != "web" || p.Spec.HostUsers != nil {
		t.Errorf("defaults: %+v", p.Spec)
	}
	if got := p.Spec.Containers[0].WorkingDir; got != "/app" {
		t.Errorf("working dir %q, want the cleaned /app", got)
	}
	if got := p.Spec.Containers[1].WorkingDir; got != "rel/../x" {
		t.Errorf("relative working dir changed to %q; Validate must still see it", got)
	}

	// Set values are kept.
	p = validPod()
	p.Spec.RestartPolicy = RestartNever
	p.Spec.TerminationGracePeriodSeconds = ptr[int64](0)
	p.Spec.ShareProcessNamespace = ptr(false)
	p.Spec.Hostname = "host"
	p.SetDefaults()
	if p.Spec.RestartPolicy != RestartNever || *p.Spec.TerminationGracePeriodSeconds != 0 ||
		*p.Spec.ShareProcessNamespace || p.Spec.Hostname != "host" {
		t.Errorf("set values overwritten: %+v", p.Spec)
	}
}

func TestAccessorsApplyDefaultsWithoutSetDefaults(t *testing.T) {
	p := validPod()
	if !p.ShareProcessNamespaceEnabled() || p.GracePeriod() != 30*time.Second || p.PodHostname() != "web" {
		t.Errorf("unset: share=%v grace=%v hostname=%q", p.ShareProcessNamespaceEnabled(), p.GracePeriod(), p.PodHostname())
	}
	p.Spec.ShareProcessNamespace = ptr(false)
	p.Spec.TerminationGracePeriodSeconds = ptr[int64](5)
	p.Spec.Hostname = "h"
	if p.ShareProcessNamespaceEnabled() || p.GracePeriod() != 5*time.Second || p.PodHostname() != "h" {
		t.Errorf("set: share=%v grace=%v hostname=%q", p.ShareProcessNamespaceEnabled(), p.GracePeriod(), p.PodHostname())
	}
}

func TestArgvIsCommandThenArgsInANewSlice(t *testing.T) {
	c := Container{Command: make([]string, 1, 10), Args: []string{"b", "c"}}
	c.Command[0] = "a"
	argv := c.Argv()
	if strings.Join(argv, " ") != "a b c" {
		t.Fatalf("argv %q", argv)
	}
	argv[0] = "changed"
	_ = append(c.Argv()[:1], "x")
	if c.Command[0] != "a" || c.Args[0] != "b" {
		t.Errorf("Argv aliases the container: %+v", c)
	}
	if got := (&Container{}).Argv(); got == nil || len(got) != 0 {
		t.Errorf("empty container: %#v", got)
	}
}
