package pod

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// maxSeedBytes leaves out the fixtures that are large on purpose (limits on
// argument sizes and counts): the fuzzer spends its time minimizing inputs
// that big instead of exploring, and the unit tests cover those limits.
const maxSeedBytes = 8 << 10

// addSeeds seeds a fuzz target with the fixtures in testdata/pods.
func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= maxSeedBytes {
			f.Add(data)
		}
	}
	f.Add([]byte(minimalJSON))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"k":"v"}},"spec":{"containers":[{"name":"a","args":["\u0000"]}]}}`))
}

var sentinels = []error{ErrEmpty, ErrSyntax, ErrTooLarge, ErrUnknownField, ErrWrongType, ErrInvalid}

// FuzzDecodePod: Decode never panics, returns a pod xor an error, every error
// matches a sentinel, and a decoded pod survives a JSON round trip unchanged.
func FuzzDecodePod(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, warnings, err := Decode(data)
		if (p == nil) == (err == nil) {
			t.Fatalf("Decode = %v, %v: want a pod xor an error", p, err)
		}
		if err != nil {
			if warnings != nil {
				t.Errorf("warnings %v returned with error %v", warnings, err)
			}
			matched := false
			for _, s := range sentinels {
				matched = matched || errors.Is(err, s)
			}
			if !matched {
				t.Errorf("error %q matches no sentinel", err)
			}
			return
		}
		for _, w := range warnings {
			if w.Path == "" || w.Message == "" {
				t.Errorf("empty warning %+v", w)
			}
		}
		encoded, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(encoded) > MaxManifestBytes {
			return // escaping can grow it past the input cap
		}
		p2, warnings2, err := Decode(encoded)
		if err != nil || len(warnings2) != 0 {
			t.Fatalf("re-decoding %s: %v %v", encoded, warnings2, err)
		}
		if encoded2, _ := json.Marshal(p2); !bytes.Equal(encoded, encoded2) {
			t.Errorf("round trip changed the pod:\n%s\n%s", encoded, encoded2)
		}
	})
}

// FuzzValidate: a decoded, defaulted pod either fails Validate, or satisfies
// the invariants the supervisor relies on. The invariants are checked here
// with code independent of validate.go.
func FuzzValidate(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := Decode(data)
		if err != nil {
			return
		}
		p.SetDefaults()
		if err := p.Validate(); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate error %q does not match ErrInvalid", err)
			}
			return
		}
		checkInvariants(t, p)
	})
}

func checkInvariants(t *testing.T, p *Pod) {
	t.Helper()
	if p.APIVersion != "v1" || p.Kind != "Pod" {
		t.Errorf("apiVersion %q kind %q", p.APIVersion, p.Kind)
	}
	if !isName(p.Metadata.Name, ".-") || p.Metadata.Name == "." || p.Metadata.Name == ".." {
		t.Errorf("pod name %q", p.Metadata.Name)
	}
	if h := p.PodHostname(); h != p.Metadata.Name && !isName(h, "-") {
		t.Errorf("hostname %q", h)
	}
	if g := *p.Spec.TerminationGracePeriodSeconds; g < 0 || g > MaxGracePeriodSeconds {
		t.Errorf("grace period %d", g)
	}
	switch p.Spec.RestartPolicy {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		t.Errorf("restart policy %q", p.Spec.RestartPolicy)
	}
	all := append(append([]Container(nil), p.Spec.InitContainers...), p.Spec.Containers...)
	if len(p.Spec.Containers) == 0 || len(all) > MaxContainers {
		t.Errorf("%d containers, %d in all", len(p.Spec.Containers), len(all))
	}
	seen := map[string]bool{}
	for _, c := range all {
		if !isName(c.Name, "-") || seen[c.Name] {
			t.Errorf("container name %q (duplicate: %v)", c.Name, seen[c.Name])
		}
		seen[c.Name] = true
		if _, err := ParseImage(c.Image); err != nil {
			t.Errorf("container %q: %v", c.Name, err)
		}
		argv := c.Argv()
		if len(argv) == 0 || argv[0] == "" || len(argv) > MaxArgs {
			t.Errorf("container %q: argv %q", c.Name, argv)
		}
		for _, a := range argv {
			if strings.ContainsRune(a, 0) || len(a) > MaxArgBytes {
				t.Errorf("container %q: argument %q", c.Name, a)
			}
		}
		if len(c.Env) > MaxEnv {
			t.Errorf("container %q: %d env", c.Name, len(c.Env))
		}
		for _, e := range c.Env {
			kv := e.Name + "=" + e.Value
			if e.Name == "" || strings.ContainsAny(e.Name, "=\x00") || strings.ContainsRune(e.Value, 0) || len(kv) > MaxArgBytes {
				t.Errorf("container %q: env %q", c.Name, kv)
			}
		}
		if wd := c.WorkingDir; wd != "" && (!path.IsAbs(wd) || path.Clean(wd) != wd || wd == "/proc" || strings.HasPrefix(wd, "/proc/")) {
			t.Errorf("container %q: working dir %q", c.Name, wd)
		}
	}
}

// isName reports whether s is 1..63 characters of [a-z0-9] and extra,
// starting and ending with [a-z0-9].
func isName(s, extra string) bool {
	if len(s) == 0 || len(s) > MaxNameLength {
		return false
	}
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	for i := range len(s) {
		if !alnum(s[i]) && !strings.ContainsRune(extra, rune(s[i])) {
			return false
		}
	}
	return alnum(s[0]) && alnum(s[len(s)-1])
}
