package pod

import (
	"errors"
	"strings"
	"testing"
)

const resourcesPod = `apiVersion: v1
kind: Pod
metadata:
  name: res
  annotations:
    sandbox.podsandbox.dev/pids-limit: "%s"
spec:
  initContainers:
  - name: init
    command: [/bin/true]
    resources: {limits: {memory: 300Mi, cpu: 2}}
  containers:
  - name: a
    command: [/bin/true]
    resources:
      limits: {memory: 64Mi, cpu: 500m}
      requests: {cpu: 0.25}
  - name: b
    command: [/bin/true]
    resources:
      limits: {memory: 128Mi, cpu: 1}
      claims: [{name: gpu}]
`

func decodeResources(t *testing.T, pids string) (*Pod, []Warning) {
	t.Helper()
	p, w, err := Decode([]byte(strings.Replace(resourcesPod, "%s", pids, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return p, w
}

func TestResourcesDecodeStringsAndNumbers(t *testing.T) {
	p, w := decodeResources(t, "64")
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	a := p.Spec.Containers[0].Resources
	if m := a.Limits["memory"]; m.Value() != 64<<20 {
		t.Errorf("limits.memory = %v", m.String())
	}
	if c := a.Requests["cpu"]; c.MilliValue() != 250 {
		t.Errorf("requests.cpu = %v (a YAML number)", c.String())
	}
	if len(w) != 1 || w[0].Path != "spec.containers[1].resources.claims" {
		t.Errorf("warnings %v, want one for resources.claims", w)
	}
	if n, ok := p.PidsLimit(); !ok || n != 64 {
		t.Errorf("PidsLimit = %d, %v", n, ok)
	}
}

func TestPodLimitIsLikeKubelet(t *testing.T) {
	p, _ := decodeResources(t, "64")
	// Sum of the containers (192Mi) is below the init container's 300Mi.
	if m, ok := p.PodLimit("memory"); !ok || m.Value() != 300<<20 {
		t.Errorf("pod memory limit %v %v, want 300Mi", m.String(), ok)
	}
	if c, ok := p.PodLimit("cpu"); !ok || c.MilliValue() != 2000 {
		t.Errorf("pod cpu limit %v %v, want 2 (init)", c.String(), ok)
	}
	p.Spec.InitContainers = nil
	if c, ok := p.PodLimit("cpu"); !ok || c.MilliValue() != 1500 {
		t.Errorf("pod cpu limit %v %v, want 1500m", c.String(), ok)
	}
	if r := p.PodRequest("cpu"); r.MilliValue() != 250 {
		t.Errorf("pod cpu request %v, want 250m", r.String())
	}
	delete(p.Spec.Containers[1].Resources.Limits, "memory")
	if m, ok := p.PodLimit("memory"); ok {
		t.Errorf("pod memory limit %v with a container without one, want none", m.String())
	}
}

func TestResourcesValidation(t *testing.T) {
	for _, tc := range []struct{ name, edit, field string }{
		{"negative", "cpu: 500m", "cpu: -1"},
		{"request over limit", "requests: {cpu: 0.25}", "requests: {cpu: 3}"},
		{"tiny memory", "memory: 64Mi, cpu: 500m", "memory: 1Ki, cpu: 500m"},
		{"unknown name", "cpu: 500m}", "cpu: 500m, gpu: 1}"},
		{"bad pids limit", `pids-limit: "64"`, `pids-limit: "0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(strings.Replace(resourcesPod, "%s", "64", 1), tc.edit, tc.field, 1)
			p, _, err := Decode([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestResourcesDecodeRefusesNonQuantities(t *testing.T) {
	for _, v := range []string{"lots", "[1]", "true", "{a: 1}"} {
		src := strings.Replace(strings.Replace(resourcesPod, "%s", "64", 1), "memory: 64Mi", "memory: "+v, 1)
		_, _, err := Decode([]byte(src))
		if !errors.Is(err, ErrWrongType) || !strings.Contains(err.Error(), "spec.containers[0].resources.limits") {
			t.Errorf("%s: Decode = %v, want ErrWrongType naming the field", v, err)
		}
	}
}
