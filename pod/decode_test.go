package pod

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// minimalJSON is a valid pod that tests modify.
const minimalJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},
"spec":{"containers":[{"name":"main","command":["/bin/true"]}]}}`

func TestDecodeErrorsNameTheFieldPath(t *testing.T) {
	tests := []struct {
		name, spec, want string
		is               error
	}{
		{"unknown container field", `"containers":[{"name":"a","command":["x"],"comand":["x"]}]`, "spec.containers[0].comand: unknown field", ErrUnknownField},
		{"unknown env field", `"containers":[{"name":"a","command":["x"],"env":[{"name":"A","vaule":"x"}]}]`, "spec.containers[0].env[0].vaule: unknown field", ErrUnknownField},
		{"odd field names are quoted", `"containers":[{"name":"a","command":["x"],"we ird\u001b":1}]`, `spec.containers[0]["we ird\x1b"]: unknown field`, ErrUnknownField},
		{"string for a bool", `"containers":[{"name":"a","command":["x"]}],"hostUsers":"false"`, "spec.hostUsers: expected boolean, got string", ErrWrongType},
		{"number for a string", `"containers":[{"name":7,"command":["x"]}]`, "spec.containers[0].name: expected string, got number 7", ErrWrongType},
		{"object for an array", `"containers":{"name":"a"}`, "spec.containers: expected array, got object", ErrWrongType},
		{"null array element", `"containers":[null]`, "spec.containers[0]: expected object, got null", ErrWrongType},
		{"null string element", `"containers":[{"name":"a","command":[null]}]`, "spec.containers[0].command[0]: expected string, got null", ErrWrongType},
		// This case closes spec itself to add metadata.
		{"number label value", `"containers":[]},"metadata":{"name":"x","labels":{"app.kubernetes.io/name":1}`, `metadata.labels["app.kubernetes.io/name"]: expected string, got number 1`, ErrWrongType},
		{"array for an integer", `"containers":[],"terminationGracePeriodSeconds":[30]`, "spec.terminationGracePeriodSeconds: expected integer, got array", ErrWrongType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := `{"apiVersion":"v1","kind":"Pod","spec":{` + tc.spec + `}}`
			_, _, err := Decode([]byte(in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.is) {
				t.Fatalf("Decode(%s)\n got %v\nwant %q (%v)", in, err, tc.want, tc.is)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Path == "" {
				t.Errorf("error %v is not a *FieldError with a path", err)
			}
		})
	}
}

func TestDecodeReportsAllFieldErrors(t *testing.T) {
	in := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","nmae":"y"},
	"spec":{"containers":[{"name":"a","comand":["x"],"args":"x"}]}}`
	_, _, err := Decode([]byte(in))
	want := "metadata.nmae: unknown field\nspec.containers[0].comand: unknown field\nspec.containers[0].args: expected array, got string"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestDecodeCapsTheNumberOfReportedProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[`)
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"nmae":"a"}`)
	}
	b.WriteString(`]}}`)
	_, _, err := Decode([]byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxReportedProblems+1 || lines[len(lines)-1] != "and 150 more problems not shown" {
		t.Fatalf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	if !errors.Is(err, ErrUnknownField) {
		t.Errorf("error does not match ErrUnknownField")
	}
}

func TestDecodeKindErrorComesFirst(t *testing.T) {
	in := `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":3}}`
	_, _, err := Decode([]byte(in))
	want := "apiVersion: \"apps/v1\" is not supported, must be \"v1\"\nkind: \"Deployment\" is not supported, must be \"Pod\"\nspec.replicas: unknown field"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestDecodeSyntaxErrorsGivePosition(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{\"a\":1,}", "at line 1, column 8"},
		{"{\n  \"a\": 1\n  \"b\": 2}", "at line 3, column 3"},
		{"{\"a\":\"\\x\"}", "at line 1, column 8"},
		{"{\"a\":1} x", "after top-level value at line 1, column 9"},
		{"{\"a\":1,\n \"a\":2}", `duplicate key "a" at line 2, column 2`},
		{"a: 1\nb: [\n", "invalid YAML: line 2:"},
		{"a: 1\na: 2\n", `invalid YAML: line 2: key "a" already set in map`},
		{"a:\n  b: 1\n   c: 2\n", "invalid YAML: line 3:"},
	}
	for _, tc := range tests {
		_, _, err := Decode([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Decode(%q)\n got %v\nwant %q", tc.in, err, tc.want)
		}
	}
}

func TestDecodeRefusesEmptyInput(t *testing.T) {
	for _, in := range []string{"", " \n\t\r\n", "\xef\xbb\xbf", "# comment\n", "---\n", "null\n", "~\n"} {
		_, _, err := Decode([]byte(in))
		if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "empty manifest") {
			t.Errorf("Decode(%q) = %v, want empty manifest", in, err)
		}
	}
}

func TestDecodeRefusesNonObjectDocuments(t *testing.T) {
	for _, in := range []string{"[]", "42", `"pod"`, "true", "- a\n- b\n", "just text"} {
		_, _, err := Decode([]byte(in))
		if !errors.Is(err, ErrWrongType) || !strings.Contains(err.Error(), "expected a Pod object") {
			t.Errorf("Decode(%q) = %v, want expected a Pod object", in, err)
		}
	}
}

func TestDecodeYAMLDocuments(t *testing.T) {
	body := "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: a, command: [x]}]\n"
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"leading separator", "---\n" + body, true},
		{"document end marker", body + "...\n", true},
		{"second document", body + "---\n" + body, false},
		{"empty second document", body + "---\n", false},
		{"second document with an error", body + "---\n[\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := Decode([]byte(tc.in))
			if tc.ok != (err == nil) || (err == nil) != (p != nil) {
				t.Fatalf("Decode = %v, %v; want ok=%v", p, err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not match ErrSyntax", err)
			}
		})
	}
}

func TestDecodeJSONAndYAMLAgree(t *testing.T) {
	read := func(name string) *Pod {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if j, y := read("good-minimal.json"), read("good-minimal.yaml"); !reflect.DeepEqual(j, y) {
		t.Errorf("JSON %+v\n!= YAML %+v", j, y)
	}
}

func TestDecodeFillsEveryField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtureDir, "good-full.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, warnings, err := Decode(data)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Decode: %v %v", warnings, err)
	}
	f, zero := false, int64(0)
	want := &Pod{
		APIVersion: "v1", Kind: "Pod",
		Metadata: ObjectMeta{
			Name:        "full.v1",
			Labels:      map[string]string{"app": "full"},
			Annotations: map[string]string{"example.com/note": "every supported field"},
		},
		Spec: PodSpec{
			Hostname:                      "full-host",
			RestartPolicy:                 RestartOnFailure,
			TerminationGracePeriodSeconds: &zero,
			ShareProcessNamespace:         &f,
			HostUsers:                     &f,
			InitContainers: []Container{{
				Name: "setup", Image: "dir:/srv/rootfs", Command: []string{"/bin/mkdir", "-p", "/tmp/data"},
			}},
			Containers: []Container{{
				Name: "app", Image: "/srv/rootfs", Command: []string{"/usr/bin/env"}, Args: []string{},
				Env:        []EnvVar{{"GREETING", "hello"}, {"EMPTY", ""}, {"lower.case-ok", ""}},
				WorkingDir: "/tmp/",
			}},
		},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
}

func TestDecodeNullMeansAbsent(t *testing.T) {
	in := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":null},
	"spec":{"containers":[{"name":"a","command":["x"],"image":null}],"hostUsers":null,"terminationGracePeriodSeconds":null}}`
	p, _, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if p.Metadata.Labels != nil || p.Spec.HostUsers != nil || p.Spec.TerminationGracePeriodSeconds != nil || p.Spec.Containers[0].Image != "" {
		t.Errorf("null fields were set: %+v", p)
	}
}

func TestDecodeWarnsAboutUnsupportedFields(t *testing.T) {
	in := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","uid":"x"},
	"spec":{"hostPID":true,"containers":[{"name":"a","command":["x"],"securityContext":{"seLinuxOptions":1},"tty":"yes"}],
	"initContainers":[{"name":"b","command":["x"],"restartPolicy":"Always"}]}}`
	_, warnings, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Warning{
		{"metadata.uid", "not supported, ignored"},
		{"spec.hostPID", "not supported, ignored"},
		// The value of an unsupported field is not looked at.
		{"spec.containers[0].securityContext.seLinuxOptions", "not supported, ignored"},
		{"spec.containers[0].tty", "not supported, ignored"},
		{"spec.initContainers[0].restartPolicy", "not supported, ignored"},
	}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("got  %v\nwant %v", warnings, want)
	}
}

func TestWarningString(t *testing.T) {
	w := Warning{Path: "spec.containers[0].livenessProbe", Message: "not supported, ignored"}
	if got, want := w.String(), "spec.containers[0].livenessProbe: not supported, ignored"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDecodeRefusesTooLargeInput(t *testing.T) {
	data := []byte(minimalJSON + strings.Repeat(" ", MaxManifestBytes))
	_, _, err := Decode(data)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "pod spec too large (limit 1 MiB)" {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeRefusesDeepNestingWithFlatMemory(t *testing.T) {
	mib := MaxManifestBytes
	tests := []struct{ name, in, want string }{
		{"JSON arrays", "{\"a\":" + strings.Repeat("[", mib-5), "nesting deeper than 64 levels at line 1, column 69"},
		{"JSON objects", strings.Repeat(`{"a":`, mib/5), "nesting deeper than 64 levels at line 1, column 321"},
		{"JSON just over the cap", "{\"metadata\":{\"labels\":" + strings.Repeat("[", 63) + strings.Repeat("]", 63) + "}}", "nesting deeper than 64 levels"},
		{"YAML flow", "a: " + strings.Repeat("[", mib-3), "exceeded max depth"},
		{"YAML block sequences", "a:\n" + strings.Repeat("- ", mib/2-2), "exceeded max depth"},
		{"YAML within the parser's limit", "a: " + strings.Repeat("[", 100) + strings.Repeat("]", 100), "nesting deeper than 64 levels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := Decode([]byte(tc.in))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v matches neither ErrTooLarge nor ErrSyntax", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d MiB for a %d byte input", alloc>>20, len(tc.in))
			}
		})
	}
	// Exactly MaxNesting levels are fine for the parser (the walk then
	// refuses the arrays as label values).
	ok := "{\"a\":" + strings.Repeat("[", MaxNesting-1) + strings.Repeat("]", MaxNesting-1) + "}"
	if _, err := parseJSON([]byte(ok), false); err != nil {
		t.Errorf("%d levels: %v", MaxNesting, err)
	}
}

func TestDecodeRefusesExcessiveYAMLAliases(t *testing.T) {
	// "Billion laughs": the YAML library refuses it before expanding.
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for range 10 {
			b.WriteString("*a" + string(rune('0'+i-1)) + ",")
		}
		b.WriteString("]\n")
	}
	_, _, err := Decode([]byte(b.String()))
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "excessive aliasing") {
		t.Fatalf("got %v", err)
	}
}

func TestYAMLAliasesCannotBypassTheLimits(t *testing.T) {
	long := strings.Repeat("a", 100_000)
	manifest := func(uses int) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: main\n    command: [&long " + long + "]\n    args: [" +
			strings.Repeat("*long, ", uses) + "]\n"
	}
	// Eleven copies of 100 kB pass decoding but not the argv total.
	p, _, err := Decode([]byte(manifest(10)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "spec.containers[0]: command, args and env take 1100011 bytes, must be at most 1048576") {
		t.Errorf("Validate: %v", err)
	}
	// Fifty copies make 5 MB of JSON: refused while decoding.
	_, _, err = Decode([]byte(manifest(50)))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "once YAML aliases are expanded") {
		t.Errorf("Decode: %v", err)
	}
}
