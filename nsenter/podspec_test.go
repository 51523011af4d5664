package nsenter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podsandbox/sandbox/pod"
)

// goVerdict is what `sandbox run POD.yaml` does before it runs a pod: decode
// (a warning counts as a refusal: the fast path never warns), SetDefaults,
// Validate. It returns the pod it would run.
func goVerdict(data []byte) (*pod.Pod, error) {
	p, warnings, err := pod.Decode(data)
	if err != nil {
		return nil, err
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("warnings: %v", warnings)
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkAgreesWithGo is the property the fast path relies on: when the C
// reader accepts a manifest, Go accepts it too, with no warning, and the
// reader's fields and manifest JSON are Go's. It reports the C verdict.
func checkAgreesWithGo(t *testing.T, data []byte) bool {
	t.Helper()
	got, ok := parsePodSpec(data)
	if !ok {
		return false
	}
	p, err := goVerdict(data)
	if err != nil {
		t.Fatalf("C accepts a manifest Go refuses (%v):\n%q", err, data)
	}
	// The JSON pins the whole pod (one host-image container,
	// restartPolicy Never, network none, ...): the C encoder only writes
	// that shape.
	want, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.ManifestJSON, want) {
		t.Fatalf("manifest JSON of %q:\n C: %s\nGo: %s", data, got.ManifestJSON, want)
	}
	if len(p.Spec.Containers) != 1 {
		t.Fatalf("C accepts %d containers in %q", len(p.Spec.Containers), data)
	}
	c := &p.Spec.Containers[0]
	img, err := pod.ParseImage(c.Image)
	if err != nil || img.IsStored() {
		t.Fatalf("C accepts image %q (%v) in %q", c.Image, err, data)
	}
	var env []podSpecEnv
	for _, e := range c.Env {
		env = append(env, podSpecEnv{e.Name, e.Value})
	}
	wantSpec := podSpec{
		Name:         p.Metadata.Name,
		Hostname:     p.PodHostname(),
		Grace:        *p.Spec.TerminationGracePeriodSeconds,
		Container:    c.Name,
		Argv:         c.Argv(),
		Env:          env,
		WorkingDir:   c.WorkingDir,
		Rootfs:       img.Path,
		ManifestJSON: want,
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", wantSpec) {
		t.Fatalf("fields of %q:\n C: %#v\nGo: %#v", data, got, wantSpec)
	}
	return true
}

// oneYAML is /dev/shm/one.yaml, the pod of the e2e tests and benchmarks.
const oneYAML = `apiVersion: v1
kind: Pod
metadata:
  name: one
  annotations:
    sandbox.podsandbox.dev/network: none
spec:
  restartPolicy: Never
  containers:
  - name: main
    command: ["true"]
`

const oneJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"one","annotations":{"sandbox.podsandbox.dev/network":"none"}},"spec":{"restartPolicy":"Never","containers":[{"name":"main","command":["true"]}]}}`

// podYAML builds a YAML manifest of the subset around the container's lines
// (indented by 4) and extra spec lines (indented by 2).
func podYAML(container, spec string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    sandbox.podsandbox.dev/network: none\n" +
		"spec:\n  restartPolicy: Never\n" + spec + "  containers:\n  - name: c\n" + container
}

// podJSON does the same for JSON: container and spec are members to add.
func podJSON(container, spec string) string {
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"sandbox.podsandbox.dev/network":"none"}},` +
		`"spec":{` + spec + `"restartPolicy":"Never","containers":[{"name":"c",` + container + `}]}}`
}

// flowYAML is the manifest of the brief and of bench/run.sh: one-line flow
// mappings for the metadata and the container.
const flowYAML = `apiVersion: v1
kind: Pod
metadata: {name: bench-one, annotations: {sandbox.podsandbox.dev/network: none}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - {name: one, image: "dir:/tmp/x/rootfs", command: ["true"]}
`

// benchRunPods are what bench/run.sh's printf writes (its pod and ctr
// functions, and the 1b and 1c manifests), with a rootfs path like its own.
func benchRunPods() map[string]string {
	const rootfs = "/tmp/sandbox-bench.Xy12/rootfs"
	pod := func(name, restart string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  restartPolicy: %s\n  terminationGracePeriodSeconds: 1\n  containers:\n", name, restart)
	}
	ctr := func(name, argv string) string {
		return fmt.Sprintf("  - {name: %s, image: \"dir:%s\", command: %s}\n", name, rootfs, argv)
	}
	one := func(name string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: one, image: \"dir:%s\", command: [\"true\"]}\n", name, rootfs)
	}
	return map[string]string{
		"one.yaml":       pod("bench-one", "Never") + ctr("one", `["true"]`),
		"two.yaml":       pod("bench-two", "Never") + ctr("a", `["true"]`) + ctr("b", `["true"]`),
		"exec.yaml":      pod("bench-exec", "Always") + ctr("hold", `["sleep", "infinity"]`),
		"nosub/one.yaml": one("bench-one"),
		"ab-one.yaml":    one("bench-ab"),
	}
}

var podSpecAccepted = []struct {
	name, manifest string
}{
	{"one.yaml", oneYAML},
	{"one.yaml as JSON", oneJSON},
	{"JSON with blanks and a BOM", "\xef\xbb\xbf \r\n\t{ \"apiVersion\" : \"v1\" ,\n\"kind\":\"Pod\",\"metadata\":{\"name\":\"one\",\"annotations\":{\"sandbox.podsandbox.dev/network\":\"none\"}},\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[ {\"name\":\"main\",\"command\":[\"true\"]} ]}}\n"},
	{"JSON escapes", podJSON(`"command":["/bin/echo","\u00e9\ud83d\ude00","a\nb\tc\"\\\/","\b\f\r\u0001\u001f\u007f","<a href=\"x\">&amp;</a>","\u2028\u2029","\u0085"]`, "")},
	{"JSON raw UTF-8", podJSON(`"command":["/bin/echo","héllo wörld ✓ 😀"]`, "")},
	{"JSON with every field", podJSON(`"image":"host","command":["sh","-c"],"args":["echo $X"],"env":[{"name":"X","value":"1"},{"name":"EMPTY"},{"name":"E2","value":""}],"workingDir":"/tmp/../var//x/."`,
		`"hostname":"h","terminationGracePeriodSeconds":0,"shareProcessNamespace":true,`)},
	{"JSON empty command, args only", podJSON(`"command":[],"args":["/bin/true"],"env":[]`, "")},
	{"JSON keys in another order", `{"spec":{"containers":[{"command":["true"],"name":"main"}],"restartPolicy":"Never"},"metadata":{"annotations":{"sandbox.podsandbox.dev/network":"none"},"name":"one"},"kind":"Pod","apiVersion":"v1"}`},
	{"JSON escaped key", `{"apiVersion":"v1","kind":"Pod","metadata":{"n\u0061me":"one","annotations":{"sandbox.podsandbox.dev\/network":"none"}},"spec":{"restartPolicy":"Never","containers":[{"name":"main","command":["true"]}]}}`},
	{"YAML with BOM, ---, comments and blank lines", "\xef\xbb\xbf# a pod\n---   # start\n\napiVersion: v1 # the version\nkind: Pod\n  # an odd comment\nmetadata:\n  name: one\n\n  annotations:\n    sandbox.podsandbox.dev/network: none   \nspec:\n  restartPolicy: Never\n  containers:\n  # the one\n  - name: main\n    command: [\"true\"]  # done\n"},
	{"YAML without final newline", strings.TrimSuffix(oneYAML, "\n")},
	{"YAML quoted styles", podYAML(`    command: ['/bin/echo', 'it''s', "say \"hi\"\\", "tab\there\nnl", "\u00e9\u2028", '#not a comment', "a: b", '- x', "", 'true', "2", '~']`+"\n", "")},
	{"YAML quoted keys", "\"apiVersion\": v1\n'kind': Pod\nmetadata:\n  \"name\": one\n  annotations:\n    'sandbox.podsandbox.dev/network': \"none\"\nspec:\n  restartPolicy: 'Never'\n  containers:\n  - \"name\": main\n    command: [\"true\"]\n"},
	{"YAML plain strings that are no number or bool", podYAML("    command: [/bin/echo, -c, --flag=1, ./run, ../x, =, héllo, yess, nope, Nevermind, true1, ok, On1, x y  z, -e5, .inf1, nulls]\n", "")},
	{"YAML plain strings in a block sequence", podYAML("    command:\n    - /bin/echo\n    - a, b [c] {d}\n    - it's \"quoted\"\n    - x50%\n    - a:b\n    - a#b\n    - http://x/y?z=1\n    - a&b*c!d|e>f@g`h\n    - -MIO::Socket::INET\n    - x #comment\n", "")},
	{"YAML block sequence indented under its key", podYAML("    command:\n      - /bin/true\n    args:\n        - x\n", "")},
	{"YAML empty flow command, args", podYAML("    command: []\n    args: [ /bin/true ,  x ]\n", "")},
	{"YAML env with and without value", podYAML("    command: [env]\n    env:\n    - name: A\n      value: one two\n    - name: EMPTY\n    - value: 'v'\n      name: B\n    - name: C\n      value: \"\"\n", "")},
	{"YAML every field", podYAML("    image: host\n    command: [sh, -c]\n    args:\n    - echo \"$X\" <&>\n    workingDir: /tmp/./a/../b/\n    env:\n    - name: X\n      value: x\n", "  hostname: other-host\n  terminationGracePeriodSeconds: 0\n  shareProcessNamespace: true\n")},
	{"YAML image empty", podYAML("    image: \"\"\n    command: [x]\n", "")},
	{"YAML image dir:", podYAML("    image: dir:/srv/root.fs\n    command: [x]\n", "")},
	{"JSON image a directory path", podJSON(`"image":"/srv/rootfs","command":["x"]`, "")},
	{"YAML grace at the maximum", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: 86400\n")},
	{"YAML hostname equal to a dotted name", strings.Replace(podYAML("    command: [x]\n", "  hostname: a.b\n"), "name: p\n", "name: a.b\n", 1)},
	{"YAML hostname empty means the name", podYAML("    command: [x]\n", "  hostname: ''\n")},
	{"YAML item keys further right", strings.Replace(oneYAML, "  - name: main\n    command:", "  -   name: main\n      command:", 1)},
	{"YAML sequence of containers more indented", strings.Replace(oneYAML, "  - name: main\n    command:", "    - name: main\n      command:", 1)},
	{"YAML working dir root", podYAML("    command: [x]\n    workingDir: /..//.\n", "")},
	{"YAML 63-character names", strings.NewReplacer("name: p\n", "name: "+strings.Repeat("p", 63)+"\n", "name: c\n", "name: "+strings.Repeat("c", 63)+"\n").Replace(podYAML("    command: [x]\n", ""))},
	{"YAML long argument", podYAML("    command: [x, "+strings.Repeat("y", 10000)+"]\n", "")},
	{"YAML many arguments", podYAML("    command:\n"+strings.Repeat("    - x\n", 1000), "")},
	{"YAML flow mappings", flowYAML},
	{"YAML bench/run.sh one.yaml", benchRunPods()["one.yaml"]},
	{"YAML bench/run.sh nosub/one.yaml", benchRunPods()["nosub/one.yaml"]},
	{"YAML bench/run.sh ab-one.yaml", benchRunPods()["ab-one.yaml"]},
	{"YAML flow mappings, quoted keys and values", strings.NewReplacer("{name: bench-one, annotations: {sandbox.podsandbox.dev/network: none}}",
		`{"name": 'bench-one', 'annotations': {"sandbox.podsandbox.dev/network": "none"}}`,
		"{name: one, image:", `{'name': "one", "image":`).Replace(flowYAML)},
	{"YAML flow mappings, odd blanks and a comment", strings.NewReplacer("{name: bench-one, annotations: {sandbox.podsandbox.dev/network: none}}",
		"{   name:    bench-one   ,annotations:  {  sandbox.podsandbox.dev/network:   none  }  }   # the pod",
		`{name: one, image: "dir:/tmp/x/rootfs", command: ["true"]}`,
		`{ name: one ,image: "dir:/tmp/x/rootfs",command: [ "true" ] }  `).Replace(flowYAML)},
	{"YAML flow mapping for the annotations only", strings.Replace(oneYAML, "  annotations:\n    sandbox.podsandbox.dev/network: none\n", "  annotations: {sandbox.podsandbox.dev/network: none}\n", 1)},
	{"YAML flow mapping values of every kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: a.b, annotations: {sandbox.podsandbox.dev/network: none}}\nspec:\n  restartPolicy: Never\n  containers:\n" +
		"  - {name: c, image: dir:/srv/root.fs, command: [/bin/echo, a:b, http://x/y, 'it''s'], args: [], workingDir: /tmp/../x, env: []}\n"},
	{"YAML env items as flow mappings", podYAML("    command: [env]\n    env:\n    - {name: A, value: \"1\"}\n    - {name: EMPTY}\n    - {value: one two, name: B}\n    - {\"name\": C, 'value': ''}\n    - name: D\n      value: d\n", "")},
	{"YAML flow mapping item with keys further right", strings.Replace(flowYAML, "  - {name: one", "    -   {name: one", 1)},
	{"YAML flow mapping with spec scalars", strings.Replace(flowYAML, "  containers:\n", "  hostname: bench-one\n  shareProcessNamespace: true\n  containers:\n", 1)},
}

var podSpecRefused = []struct {
	name, manifest string
	// goOK says whether Go runs the manifest (decoded without error or
	// warning, valid): the reader refuses both what Go refuses and what
	// the subset does not cover.
	goOK bool
}{
	{"second container", oneYAML + "  - name: two\n    command: [\"true\"]\n", true},
	{"init container", strings.Replace(oneYAML, "spec:\n", "spec:\n  initContainers:\n  - name: init\n    command: [x]\n", 1), true},
	{"restartPolicy missing: Always", strings.Replace(oneYAML, "  restartPolicy: Never\n", "", 1), true},
	{"restartPolicy Always", strings.Replace(oneYAML, "Never", "Always", 1), true},
	{"restartPolicy OnFailure", strings.Replace(oneYAML, "Never", "OnFailure", 1), true},
	{"restartPolicy invalid", strings.Replace(oneYAML, "Never", "never", 1), false},
	{"network annotation missing: bridge", strings.Replace(oneYAML, "  annotations:\n    sandbox.podsandbox.dev/network: none\n", "", 1), true},
	{"network bridge", strings.Replace(oneYAML, ": none", ": bridge", 1), true},
	{"network host", strings.Replace(oneYAML, ": none", ": host", 1), true},
	{"network invalid", strings.Replace(oneYAML, ": none", ": None", 1), false},
	{"another annotation", strings.Replace(oneYAML, "network: none\n", "network: none\n    example.com/x: z\n", 1), true},
	{"labels", strings.Replace(oneYAML, "  name: one\n", "  name: one\n  labels:\n    app: one\n", 1), true},
	{"namespace: a warning", strings.Replace(oneYAML, "  name: one\n", "  name: one\n  namespace: default\n", 1), false},
	{"livenessProbe: a warning", oneYAML + "    livenessProbe: {}\n", false},
	{"image docker://x", podYAML("    image: docker://busybox\n    command: [x]\n", ""), true},
	{"image dir, not clean", podYAML("    image: dir:/srv/\n    command: [x]\n", ""), false},
	{"image dir, relative", podYAML("    image: dir:srv\n    command: [x]\n", ""), false},
	{"image /", podYAML("    image: /\n    command: [x]\n", ""), false},
	{"image /srv/..", podYAML("    image: /srv/..\n    command: [x]\n", ""), false},
	{"image HOST", podYAML("    image: HOST\n    command: [x]\n", ""), false},
	{"image oci:", podYAML("    image: oci:/srv/layout\n    command: [x]\n", ""), true},
	{"image with a space", podYAML("    image: 'host '\n    command: [x]\n", ""), false},
	{"imagePullPolicy", podYAML("    imagePullPolicy: Never\n    command: [x]\n", ""), true},
	{"unknown field", podYAML("    comand: [x]\n", ""), false},
	{"field in upper case", podYAML("    Command: [x]\n", ""), false},
	{"JSON field in upper case", podJSON(`"Command":["x"]`, ""), false},
	{"hostNetwork", podYAML("    command: [x]\n", "  hostNetwork: false\n"), true},
	{"shareProcessNamespace false", podYAML("    command: [x]\n", "  shareProcessNamespace: false\n"), true},
	{"shareProcessNamespace yes (a YAML 1.1 true)", podYAML("    command: [x]\n", "  shareProcessNamespace: yes\n"), true},
	{"plain true in a string list", podYAML("    command: [echo, true]\n", ""), false},
	{"plain yes in a string list", podYAML("    command: [echo, yes]\n", ""), false},
	{"plain On in a string list", podYAML("    command:\n    - echo\n    - On\n", ""), false},
	{"plain 2 in a string list", podYAML("    command: [sleep, 2]\n", ""), false},
	{"plain ~ in a string list", podYAML("    command: [echo, ~]\n", ""), false},
	{"plain null in a string list", podYAML("    command: [echo, null]\n", ""), false},
	{"plain 1.5 in a string list", podYAML("    command: [echo, 1.5]\n", ""), false},
	{"plain .5 in a string list", podYAML("    command: [echo, .5]\n", ""), false},
	{"plain 1e3 in a string list", podYAML("    command: [echo, 1e3]\n", ""), false},
	{"plain 0x1f in a string list", podYAML("    command: [echo, 0x1f]\n", ""), false},
	{"plain -1 in a string list", podYAML("    command: [echo, -1]\n", ""), false},
	{"plain .inf in a string list", podYAML("    command: [echo, .inf]\n", ""), false},
	{"plain date: a string for Go, not vouched for", podYAML("    command: [echo, 2024-01-02]\n", ""), true},
	{"plain 1_000 as the pod name", strings.Replace(oneYAML, "name: one", "name: 1_000", 1), false},
	{"plain integer as the pod name", strings.Replace(oneYAML, "name: one", "name: 1", 1), false},
	{"plain digits-first pod name (a string, but not vouched for)", strings.Replace(oneYAML, "name: one", "name: 1a", 1), true},
	{"empty value: null", podYAML("    command: [x]\n    workingDir:\n", ""), true},
	{"JSON null", podJSON(`"command":["x"],"workingDir":null`, ""), true},
	{"duplicate key", podYAML("    command: [x]\n    command: [y]\n", ""), false},
	{"duplicate key, one quoted", podYAML("    command: [x]\n    \"command\": [y]\n", ""), false},
	{"JSON duplicate key through an escape", podJSON(`"command":["x"],"comm\u0061nd":["y"]`, ""), false},
	{"tab in indentation", strings.Replace(oneYAML, "    command", "\tcommand", 1), false},
	{"tab after a value", strings.Replace(oneYAML, "kind: Pod", "kind: Pod\t", 1), true},
	{"CRLF line ends", strings.ReplaceAll(oneYAML, "\n", "\r\n"), true},
	{"anchor and alias", podYAML("    command: &c [x]\n    args: *c\n", ""), true},
	{"tag", podYAML("    command: [!!str x]\n", ""), true},
	{"block scalar", podYAML("    command:\n    - |\n      echo hi\n", ""), true},
	{"folded scalar", podYAML("    command:\n    - >\n      echo hi\n", ""), true},
	{"multi-line plain scalar", podYAML("    command:\n    - echo\n      hi\n", ""), true},
	{"multi-line quoted scalar", podYAML("    command:\n    - \"echo\n      hi\"\n", ""), true},
	{"multi-line flow sequence", podYAML("    command: [echo,\n      hi]\n", ""), true},
	{"flow mapping in a flow sequence", podYAML("    command: [x]\n    env: [{name: A, value: b}]\n", ""), true},
	{"bench/run.sh two.yaml: two containers", benchRunPods()["two.yaml"], true},
	{"bench/run.sh exec.yaml: restartPolicy Always", benchRunPods()["exec.yaml"], true},
	{"multi-line flow mapping", strings.Replace(flowYAML, "bench-one, annotations", "bench-one,\n  annotations", 1), true},
	{"flow mapping on the next line", strings.Replace(flowYAML, "metadata: {", "metadata:\n  {", 1), true},
	{"flow mapping with a ? key", strings.Replace(flowYAML, "{name: one,", "{? name: one,", 1), true},
	{"flow mapping key without a value", strings.Replace(flowYAML, `command: ["true"]}`, `command: ["true"], image2}`, 1), false},
	{"flow mapping key without a value, a known field", strings.Replace(flowYAML, `image: "dir:/tmp/x/rootfs", command: ["true"]}`, `command: ["true"], image}`, 1), true},
	{"flow mapping empty value: null", strings.Replace(flowYAML, `image: "dir:/tmp/x/rootfs",`, `image: ,`, 1), true},
	{"flow mapping key with no space: a:b is the key", strings.Replace(flowYAML, "{name: one,", "{name:one,", 1), false},
	{"flow mapping quoted key then a colon without a space", strings.Replace(flowYAML, "{name: one,", `{"name":one,`, 1), true},
	{"flow mapping key then a space before the colon", strings.Replace(flowYAML, "{name: one,", `{name : one,`, 1), true},
	{"flow mapping with a trailing comma", strings.Replace(flowYAML, `["true"]}`, `["true"],}`, 1), true},
	{"flow mapping with an empty member", strings.Replace(flowYAML, "{name: one,", "{name: one,,", 1), false},
	{"flow mapping, data after the }", strings.Replace(flowYAML, `["true"]}`, `["true"]} x`, 1), false},
	{"flow mapping, comment right after the }", strings.Replace(flowYAML, `["true"]}`, `["true"]}# c`, 1), true},
	{"flow mapping as a key", strings.Replace(flowYAML, `["true"]}`, `["true"]}: x`, 1), false},
	{"flow mapping not closed", strings.Replace(flowYAML, `["true"]}`, `["true"]`, 1), false},
	{"flow mapping closed by ]", strings.Replace(flowYAML, `["true"]}`, `["true"]]`, 1), false},
	{"flow sequence closed by }", strings.Replace(flowYAML, `["true"]}`, `["true"}`, 1), false},
	{"flow mapping with a duplicate key", strings.Replace(flowYAML, `["true"]}`, `["true"], name: two}`, 1), false},
	{"flow mapping with a duplicate quoted key", strings.Replace(flowYAML, `["true"]}`, `["true"], "name": two}`, 1), false},
	{"flow mapping value with ': '", strings.Replace(flowYAML, "{name: one,", "{name: one: two,", 1), false},
	{"flow mapping value ending in ':'", strings.Replace(flowYAML, `command: ["true"]}`, `command: ["true", x:]}`, 1), true},
	{"flow mapping value with '#'", strings.Replace(flowYAML, `command: ["true"]}`, `command: ["true", a#b]}`, 1), true},
	{"flow mapping plain value with a quote", strings.Replace(flowYAML, `command: ["true"]}`, `command: ["true", it's]}`, 1), true},
	{"flow mapping for an empty metadata", strings.Replace(flowYAML, "{name: bench-one, annotations: {sandbox.podsandbox.dev/network: none}}", "{}", 1), false},
	{"flow mapping for empty annotations: bridge", strings.Replace(flowYAML, "{sandbox.podsandbox.dev/network: none}", "{ }", 1), true},
	{"flow mapping for the container, empty", strings.Replace(flowYAML, `{name: one, image: "dir:/tmp/x/rootfs", command: ["true"]}`, "{}", 1), false},
	{"flow mapping item with block lines after it", strings.Replace(flowYAML, `command: ["true"]}`+"\n", `command: ["true"]}`+"\n    args: [x]\n", 1), false},
	{"flow mapping with a plain true value", strings.Replace(flowYAML, "{name: one,", "{name: one, x: true,", 1), false},
	{"flow mapping with a yes key", strings.Replace(flowYAML, "{name: one,", "{name: one, yes: x,", 1), false},
	{"flow mapping nested too deep", strings.Replace(flowYAML, "{sandbox.podsandbox.dev/network: none}", strings.Repeat("{a: ", 20)+"b"+strings.Repeat("}", 20), 1), false},
	{"flow mapping with an anchor", strings.Replace(flowYAML, "{name: one,", "&a {name: one,", 1), true},
	{"flow sequence with a trailing comma", podYAML("    command: [x, ]\n", ""), true},
	{"sequence item on the next line", podYAML("    command:\n    -\n      x\n", ""), true},
	{"nested compact sequence", podYAML("    command:\n    - - x\n", ""), false},
	{"unknown escape \\/ in YAML", podYAML("    command: [\"\\/bin/true\"]\n", ""), false},
	{"escape \\x41 in YAML", podYAML("    command: [\"\\x41\"]\n", ""), true},
	{"escape \\0 in YAML: a NUL", podYAML("    command: [\"x\\0\"]\n", ""), false},
	{"comment right after a quote", podYAML("    command: [x]\n    args: [\"y\"]# c\n", ""), true},
	{"key without a space after the colon", podYAML("    command: [x]\n    workingDir:/tmp\n", ""), false},
	{"value that is a mapping", podYAML("    command: [x]\n    workingDir: a: b\n", ""), false},
	{"indented root", "  " + strings.ReplaceAll(oneYAML, "\n", "\n  "), true},
	{"document end marker", oneYAML + "...\n", true},
	{"two documents", oneYAML + "---\n" + oneYAML, false},
	{"directive", "%YAML 1.1\n---\n" + oneYAML, true},
	{"top level sequence", "- " + strings.ReplaceAll(oneYAML, "\n", "\n  "), false},
	{"empty", "", false},
	{"only comments", "# nothing\n", false},
	{"only ---", "---\n", false},
	{"invalid UTF-8 in YAML", podYAML("    command: [\"\xff\"]\n", ""), false},
	{"invalid UTF-8 in JSON: Go reads U+FFFD", podJSON("\"command\":[\"\xff\"]", ""), true},
	{"lone surrogate in JSON: Go reads U+FFFD", podJSON(`"command":["\ud800"]`, ""), true},
	{"NUL in JSON", podJSON(`"command":["x\u0000"]`, ""), false},
	{"control character in YAML", podYAML("    command: [\"x\x01\"]\n", ""), false},
	{"NEL in YAML: a line break, Go folds it to a space", podYAML("    command: [\"x\u0085y\"]\n", ""), true},
	{"JSON trailing data", oneJSON + "{}", false},
	{"JSON trailing comma", strings.Replace(oneJSON, `"true"]`, `"true",]`, 1), false},
	{"JSON deep nesting", podJSON(`"command":["x"],"x":`+strings.Repeat("[", 20)+strings.Repeat("]", 20), ""), false},
	{"bad pod name: upper case", strings.Replace(oneYAML, "name: one", "name: One", 1), false},
	{"bad pod name: 64 characters", strings.Replace(oneYAML, "name: one", "name: "+strings.Repeat("a", 64), 1), false},
	{"bad pod name: leading dot", strings.Replace(oneYAML, "name: one", "name: .one", 1), false},
	{"bad container name: dot", strings.Replace(oneYAML, "name: main", "name: ma.in", 1), false},
	{"bad container name: 64 characters", strings.Replace(oneYAML, "name: main", "name: "+strings.Repeat("a", 64), 1), false},
	{"bad hostname", podYAML("    command: [x]\n", "  hostname: a.b\n"), false},
	{"pod name missing", strings.Replace(oneYAML, "  name: one\n", "", 1), false},
	{"container name missing", strings.Replace(oneYAML, "  - name: main\n    command", "  - command", 1), false},
	{"relative workingDir", podYAML("    command: [x]\n    workingDir: tmp\n", ""), false},
	{"workingDir under /proc", podYAML("    command: [x]\n    workingDir: /proc/self/fd/3\n", ""), false},
	{"workingDir /x/../proc", podYAML("    command: [x]\n    workingDir: /x/../proc\n", ""), false},
	{"no command and no args", podYAML("    image: host\n", ""), false},
	{"empty command and args", podYAML("    command: []\n    args: []\n", ""), false},
	{"empty program", podYAML("    command: ['']\n", ""), false},
	{"command a string, not a list", podYAML("    command: x\n", ""), false},
	{"env name with =", podYAML("    command: [x]\n    env:\n    - name: A=B\n", ""), false},
	{"env name empty", podYAML("    command: [x]\n    env:\n    - name: ''\n", ""), false},
	{"env valueFrom: a warning", podYAML("    command: [x]\n    env:\n    - name: A\n      valueFrom: x\n", ""), false},
	{"grace negative", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: -1\n"), false},
	{"grace above a day", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: 86401\n"), false},
	{"grace fraction", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: 1.5\n"), false},
	{"grace quoted", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: \"30\"\n"), false},
	{"grace 030: YAML 1.1 octal, Go reads 24", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: 030\n"), true},
	{"grace 1e2: a float, Go reads 100", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: 1e2\n"), true},
	{"grace +30", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: +30\n"), true},
	{"grace 30.0: a float, Go reads 30", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: 30.0\n"), true},
	{"JSON grace -0: Go reads 0", podJSON(`"command":["x"]`, `"terminationGracePeriodSeconds":-0,`), true},
	{"JSON grace 3e1", podJSON(`"command":["x"]`, `"terminationGracePeriodSeconds":3e1,`), false},
	{"apiVersion v2", strings.Replace(oneYAML, "apiVersion: v1", "apiVersion: v2", 1), false},
	{"kind Deployment", strings.Replace(oneYAML, "kind: Pod", "kind: Deployment", 1), false},
	{"status: a warning", oneYAML + "status: {}\n", false},
	{"more arguments than the reader takes", podYAML("    command:\n"+strings.Repeat("    - x\n", 1025), ""), true},
	{"argument longer than the reader takes", podYAML("    command: [x, "+strings.Repeat("y", 64<<10+1)+"]\n", ""), true},
}

func TestPodSpecAcceptsTheSubset(t *testing.T) {
	for _, tt := range podSpecAccepted {
		t.Run(tt.name, func(t *testing.T) {
			if !checkAgreesWithGo(t, []byte(tt.manifest)) {
				_, err := goVerdict([]byte(tt.manifest))
				t.Fatalf("refused (Go says %v):\n%s", err, tt.manifest)
			}
		})
	}
}

// The benchmark's manifest must take the fast path.
func TestPodSpecAcceptsBenchManifest(t *testing.T) {
	data, err := os.ReadFile("../bench/true-pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !checkAgreesWithGo(t, data) {
		t.Fatal("bench/true-pod.yaml refused")
	}
}

func TestPodSpecRefusesOutsideTheSubset(t *testing.T) {
	for _, tt := range podSpecRefused {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.manifest)
			if _, ok := parsePodSpec(data); ok {
				t.Errorf("accepted:\n%s", tt.manifest)
			}
			// Keep the table honest about why.
			if _, err := goVerdict(data); (err == nil) != tt.goOK {
				t.Errorf("Go verdict %v, the table says goOK=%v", err, tt.goOK)
			}
		})
	}
}

// podSpecCorpus returns the tables' manifests and the repository's
// (testdata, bench).
func podSpecCorpus(t testing.TB) [][]byte {
	var corpus [][]byte
	for _, tt := range podSpecAccepted {
		corpus = append(corpus, []byte(tt.manifest))
	}
	for _, tt := range podSpecRefused {
		corpus = append(corpus, []byte(tt.manifest))
	}
	var files []string
	for _, pattern := range []string{"../testdata/pods/*", "../testdata/*.yaml", "../testdata/lab/*.yaml", "../bench/*.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 10 {
		t.Fatalf("found only %d manifests in the repository", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus = append(corpus, data)
	}
	return corpus
}

func TestPodSpecAgreesWithGoOnCorpus(t *testing.T) {
	for _, data := range podSpecCorpus(t) {
		checkAgreesWithGo(t, data)
		// and two neighbours: blank lines doubled, blanks around trimmed
		for _, v := range [][]byte{bytes.ReplaceAll(data, []byte("\n"), []byte("\n\n")), bytes.TrimSpace(data)} {
			checkAgreesWithGo(t, v)
		}
	}
}

// A C reader that accepted nothing would pass every agreement test.
func TestPodSpecCorpusHasBothVerdicts(t *testing.T) {
	var accepted, refused int
	for _, data := range podSpecCorpus(t) {
		if _, ok := parsePodSpec(data); ok {
			accepted++
		} else {
			refused++
		}
	}
	if accepted < len(podSpecAccepted) || refused < len(podSpecRefused) {
		t.Errorf("accepted %d, refused %d of the corpus", accepted, refused)
	}
}

// scalarTemplates are manifests with a hole, "@@", where the readers
// classify scalars: plain and quoted items and values, a flow item, a key, a
// whole line, the rest of a line. The first scalarKinds hold one scalar.
var scalarTemplates = []struct{ name, tmpl string }{
	{"flow item", podYAML("    command: [x, @@]\n", "")},
	{"block item", podYAML("    command:\n    - x\n    - @@\n", "")},
	{"flow mapping value", podYAML("    command: [x]\n    env:\n    - {name: A, value: @@}\n", "")},
	{"plain value", podYAML("    command: [x]\n    env:\n    - name: A\n      value: @@\n", "")},
	{"double-quoted", podYAML("    command: [x]\n    env:\n    - name: A\n      value: \"@@\"\n", "")},
	{"single-quoted", podYAML("    command: [x]\n    env:\n    - name: A\n      value: '@@'\n", "")},
	{"JSON string", podJSON(`"command":["x","@@"]`, "")},
	{"key", podYAML("    command: [x]\n    @@: [y]\n", "")},
	{"line", podYAML("    command: [x]\n@@\n", "")},
	{"rest of a line", podYAML("    command: [x] @@\n", "")},
	{"hostname", podYAML("    command: [x]\n", "  hostname: @@\n")},
	{"image", podYAML("    image: @@\n    command: [x]\n", "")},
	{"integer", podYAML("    command: [x]\n", "  terminationGracePeriodSeconds: @@\n")},
	{"flow mapping member", strings.Replace(flowYAML, `command: ["true"]}`, `command: ["true"], @@}`, 1)},
	{"flow mapping key", strings.Replace(flowYAML, `command: ["true"]}`, `command: ["true"], @@: [y]}`, 1)},
	{"flow mapping, first member", strings.Replace(flowYAML, `{name: one,`, `{@@, name: one,`, 1)},
	{"flow mapping, rest of the line", strings.Replace(flowYAML, `command: ["true"]}`, `command: ["true"]}@@`, 1)},
	{"flow mapping, the annotations", strings.Replace(flowYAML, `{sandbox.podsandbox.dev/network: none}`, `@@`, 1)},
	{"flow mapping item in a flow sequence", podYAML("    command: [x, @@]\n    env:\n    - {name: A, value: b}\n", "")},
	{"JSON member", podJSON(`"command":["x"],@@`, "")},
}

const scalarKinds = 7

func fillHole(tmpl, s string) []byte {
	return []byte(strings.Replace(tmpl, "@@", s, 1))
}

// The spellings of YAML 1.1's other types and other odd scalars in every
// template, and every string of one or two printable ASCII characters as a
// scalar.
func TestPodSpecScalarsAgreeWithGo(t *testing.T) {
	words := []string{
		"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "true", "True", "TRUE",
		"false", "False", "FALSE", "null", "Null", "NULL", "yEs", "nO", "oN", ".nan", ".NaN", ".inf", "-.inf",
		"+.INF", ".Inf1", "<<", "0o17", "0b101", "-0b101", "0x1F", "-0x1f", "1_000", "+1", "-1", "+.5", "-.5e3",
		"1e3", "1E+3", "._5", "0.", "1.", "09", "010", "12345678901234567890", "2001-12-14", "2001-12-14t21:59:43.10Z",
		"2001-12-14 21:59:43.10", "1:20", "inf", "-inf", "nan", "Infinity", "-Infinity", "-e5", "-E", "--1",
		"-_1", "-a_1", "a b", "a  b", "a #b", "a#b", "a: b", "a:b", "a:", "é", "\\u00e9", "\\\\", "\\\"", "''", "x'y",
		"args", "\"args\"", "'args'", "command", "86400", "86401", "0", "00", "30",
		"host", "dir:/x", "/x", "/x/", "dir:/", "//x", "/x/.", "/x/..", "dir:x", "dir:dir:/x", "/é", "\"/x y\"",
	}
	for _, w := range words {
		for _, tt := range scalarTemplates {
			checkAgreesWithGo(t, fillHole(tt.tmpl, w))
		}
	}
	if testing.Short() {
		t.Skip("the two-character sweep takes seconds")
	}
	for _, tt := range scalarTemplates[:scalarKinds] {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			accepted := 0
			for a := byte(' '); a <= '~'; a++ {
				for b := byte(' ' - 1); b <= '~'; b++ {
					s := string([]byte{a, b})
					if b < ' ' {
						s = string(a)
					}
					if checkAgreesWithGo(t, fillHole(tt.tmpl, s)) {
						accepted++
					}
				}
			}
			// A reader that refused them all would agree too.
			if accepted < 2000 {
				t.Errorf("only %d short scalars accepted", accepted)
			}
		})
	}
}

// FuzzPodSpecScalarAgreesWithGo is FuzzPodSpecAgreesWithGo with the fuzzer's
// string in the templates' hole: most of its inputs stay manifests of the
// subset, so it explores the scalar readers rather than the shape check.
func FuzzPodSpecScalarAgreesWithGo(f *testing.F) {
	for _, s := range []string{"x", "-c", "'a''b'", `"a\"b"`, "[a, b]", "true", "2", "a: b", "# c", "- y", "args", `\u00e9`,
		"{a: b}", "{}", "a}", "x, y: z", `"a": b`, "a:b", "dir:/x", "{name: B, value: x}", " # c", "{sandbox.podsandbox.dev/network: none}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tt := range scalarTemplates {
			checkAgreesWithGo(t, fillHole(tt.tmpl, s))
		}
	})
}

// The C reader never returns 1 for a manifest Go refuses, warns about, or
// reads differently.
func FuzzPodSpecAgreesWithGo(f *testing.F) {
	for _, data := range podSpecCorpus(f) {
		if len(data) <= 8<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkAgreesWithGo(t, data)
	})
}
