package pod

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Resource names sandbox maps to cgroup limits.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
)

// AnnotationPidsLimit is the pod annotation that sets the pod's pids limit
// (pids.max of the pod cgroup): Kubernetes sets it per node
// (kubelet --pod-max-pids), a pod has no field for it.
const AnnotationPidsLimit = "sandbox.podsandbox.dev/pids-limit"

// MaxPidsLimit caps the pids limit annotation (the kernel's PID_MAX_LIMIT).
const MaxPidsLimit = 1 << 22

// ResourceList maps a resource name ("cpu", "memory", ...) to a quantity,
// as Kubernetes' core/v1 ResourceList. Quantities decode from strings
// ("500m", "64Mi") and numbers (1, 0.5), as in Kubernetes.
type ResourceList map[string]resource.Quantity

// ResourceRequirements is a container's resources: limits are enforced
// with cgroups; requests.cpu sets the container's CPU weight.
type ResourceRequirements struct {
	Limits   ResourceList `json:"limits,omitempty"`
	Requests ResourceList `json:"requests,omitempty"`
}

// Enforced reports whether sandbox maps resource name to a cgroup limit
// (limits) or weight (requests: only cpu).
func Enforced(name string, isLimit bool) bool {
	if isLimit {
		return name == ResourceCPU || name == ResourceMemory
	}
	return name == ResourceCPU
}

// decodeUnmarshaler decodes in into v when v's type decodes its own JSON
// (resource.Quantity), from the scalar's JSON text. It reports whether v
// was such a type.
func (d *decoder) decodeUnmarshaler(path string, in any, v reflect.Value) bool {
	if !v.CanAddr() {
		return false
	}
	u, ok := v.Addr().Interface().(json.Unmarshaler)
	if !ok {
		return false
	}
	var data []byte
	switch in := in.(type) {
	case string:
		data, _ = json.Marshal(in)
	case json.Number:
		data = []byte(in)
	default:
		d.wrongType(path, "quantity (a string such as \"64Mi\" or a number)", in)
		return true
	}
	if err := u.UnmarshalJSON(data); err != nil {
		d.problems.addf(ErrWrongType, path, "%s is not a quantity (e.g. 500m, 1, 64Mi, 1G)", describe(in))
	}
	return true
}

// checkResources checks every container's resources and the pids limit
// annotation.
func checkResources(probs *problems, p *Pod) {
	for _, group := range []struct {
		field string
		list  []Container
	}{{"spec.initContainers", p.Spec.InitContainers}, {"spec.containers", p.Spec.Containers}} {
		for i := range group.list {
			checkContainerResources(probs, fmt.Sprintf("%s[%d].resources", group.field, i), &group.list[i].Resources)
		}
	}
	if v, ok := p.Metadata.Annotations[AnnotationPidsLimit]; ok {
		if _, err := parsePidsLimit(v); err != nil {
			probs.addf(ErrInvalid, "metadata.annotations["+strconv.Quote(AnnotationPidsLimit)+"]", "%v", err)
		}
	}
}

func checkContainerResources(probs *problems, prefix string, r *ResourceRequirements) {
	for _, l := range []struct {
		kind string
		list ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for _, name := range sortedNames(l.list) {
			field := prefix + "." + l.kind + "." + name
			q := l.list[name]
			if !validResourceName(name) {
				probs.addf(ErrInvalid, field, "%q is not a resource name: use cpu, memory, ephemeral-storage, hugepages-<size> or a domain-prefixed extended resource", name)
				continue
			}
			if q.Sign() < 0 {
				probs.addf(ErrInvalid, field, "%s must not be negative", q.String())
				continue
			}
			switch name {
			case ResourceMemory:
				if _, ok := q.AsInt64(); !ok || q.Cmp(resource.MustParse("8Ei")) >= 0 {
					probs.addf(ErrInvalid, field, "%s is not a whole number of bytes below 8Ei", q.String())
				} else if l.kind == "limits" && q.Value() < 1<<20 {
					probs.addf(ErrInvalid, field, "%s is below 1Mi: no process starts with that little memory", q.String())
				}
			case ResourceCPU:
				if q.Cmp(resource.MustParse("1M")) > 0 {
					probs.addf(ErrInvalid, field, "%s is more CPUs than any machine has", q.String())
				} else if l.kind == "limits" && q.MilliValue() < 1 {
					probs.addf(ErrInvalid, field, "%s is below 1m, the smallest CPU limit", q.String())
				}
			}
		}
	}
	// Kubernetes: a request must not exceed its limit.
	for _, name := range sortedNames(r.Requests) {
		req, lim := r.Requests[name], r.Limits[name]
		if _, hasLimit := r.Limits[name]; hasLimit && validResourceName(name) && req.Cmp(lim) > 0 {
			probs.addf(ErrInvalid, prefix+".requests."+name, "%s must be less than or equal to the %s limit %s", req.String(), name, lim.String())
		}
	}
}

func sortedNames(l ResourceList) []string {
	names := make([]string, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// validResourceName accepts the standard names and domain-prefixed
// extended resources ("example.com/gpu"), as Kubernetes does.
func validResourceName(name string) bool {
	switch {
	case name == ResourceCPU, name == ResourceMemory, name == "ephemeral-storage":
		return true
	case strings.HasPrefix(name, "hugepages-"):
		_, err := resource.ParseQuantity(strings.TrimPrefix(name, "hugepages-"))
		return err == nil
	}
	domain, rest, ok := strings.Cut(name, "/")
	return ok && domain != "" && rest != "" && !strings.ContainsAny(rest, "/ \x00") &&
		strings.Contains(domain, ".") && len(name) <= 253
}

func parsePidsLimit(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > MaxPidsLimit {
		return 0, fmt.Errorf("%q must be an integer from 1 to %d", v, MaxPidsLimit)
	}
	return n, nil
}

// PidsLimit returns the pids limit of the pod's annotation, if set. Call
// it on a validated pod.
func (p *Pod) PidsLimit() (int64, bool) {
	v, ok := p.Metadata.Annotations[AnnotationPidsLimit]
	if !ok {
		return 0, false
	}
	n, err := parsePidsLimit(v)
	return n, err == nil
}

// PodLimit is the pod-level limit of resource name, as kubelet computes the
// pod cgroup's: the larger of the sum over the containers and the largest
// init container's limit (init containers run one at a time, before the
// others). A container without the limit makes the pod unlimited: ok is
// false.
func (p *Pod) PodLimit(name string) (q resource.Quantity, ok bool) {
	return podTotal(p, name, func(c *Container) (resource.Quantity, bool) {
		q, ok := c.Resources.Limits[name]
		return q, ok
	})
}

// PodRequest is the pod-level request of resource name, computed like
// PodLimit; containers without the request count as zero.
func (p *Pod) PodRequest(name string) resource.Quantity {
	q, _ := podTotal(p, name, func(c *Container) (resource.Quantity, bool) {
		q := c.Resources.Requests[name]
		return q, true
	})
	return q
}

func podTotal(p *Pod, name string, get func(*Container) (resource.Quantity, bool)) (resource.Quantity, bool) {
	var sum, initMax resource.Quantity
	for i := range p.Spec.Containers {
		q, ok := get(&p.Spec.Containers[i])
		if !ok {
			return resource.Quantity{}, false
		}
		sum.Add(q)
	}
	for i := range p.Spec.InitContainers {
		q, ok := get(&p.Spec.InitContainers[i])
		if !ok {
			return resource.Quantity{}, false
		}
		if q.Cmp(initMax) > 0 {
			initMax = q
		}
	}
	if initMax.Cmp(sum) > 0 {
		return initMax, true
	}
	return sum, true
}
