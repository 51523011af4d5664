package pod

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const fixtureDir = "../testdata/pods"

// loadAndCheck does what the supervisor does with a manifest file before
// touching the system.
func loadAndCheck(path string) (*Pod, []Warning, error) {
	p, warnings, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	return p, warnings, nil
}

type badFixture struct {
	name string // the behaviour
	file string
	want string // substring of the error
	is   error  // sentinel the error matches
}

// badFixtures is the source of truth for testdata/pods/bad-*: each file fails
// for exactly one reason, and the end-to-end tests expect the same substring
// from the real binary (TestFixturesREADMEMatchesTable keeps the README in
// step).
var badFixtures = []badFixture{
	// Decoding (test plan B-1, B-2, B-3).
	{"empty file is refused", "bad-empty.json", "empty manifest", ErrEmpty},
	{"whitespace-only file is refused", "bad-whitespace-only.yaml", "empty manifest", ErrEmpty},
	{"comment-only YAML is refused", "bad-comments-only.yaml", "empty manifest", ErrEmpty},
	{"non-object document is refused", "bad-not-an-object.json", "expected a Pod object, got array", ErrWrongType},
	{"JSON syntax error gives line and column", "bad-syntax.json", "invalid JSON: invalid character '}' looking for beginning of object key string at line 6, column 62", ErrSyntax},
	{"YAML syntax error gives the line", "bad-syntax.yaml", "invalid YAML: line 8:", ErrSyntax},
	{"truncated JSON is refused", "bad-truncated.json", "unexpected end of JSON input at line 13", ErrSyntax},
	{"trailing garbage after the object is refused", "bad-trailing-garbage.json", "after top-level value at line 18, column 1", ErrSyntax},
	{"second JSON object is refused", "bad-two-objects.json", "after top-level value at line 2, column 1", ErrSyntax},
	{"second YAML document is refused", "bad-two-documents.yaml", "one document expected", ErrSyntax},
	{"duplicate JSON key is refused", "bad-duplicate-key.json", `duplicate key "name" at line 4, column 31`, ErrSyntax},
	{"duplicate YAML key is refused", "bad-duplicate-key.yaml", `line 5: key "name" already set in map`, ErrSyntax},
	{"unknown field names its path", "bad-unknown-field.json", "spec.containers[0].comand: unknown field", ErrUnknownField},
	{"unknown YAML field names its path", "bad-unknown-field.yaml", "spec.restartPolcy: unknown field", ErrUnknownField},
	{"field names are case-sensitive", "bad-field-case.json", "spec.containers[0].Command: unknown field", ErrUnknownField},
	{"string for an integer names the field", "bad-wrong-type.json", "spec.terminationGracePeriodSeconds: expected integer, got string", ErrWrongType},
	{"string for an array names the field", "bad-wrong-type-args.yaml", "spec.containers[0].args: expected array, got string", ErrWrongType},
	{"YAML 1.1 boolean is not a string", "bad-yaml-boolean-arg.yaml", "spec.containers[0].command[1]: expected string, got boolean", ErrWrongType},
	{"fraction for an integer is refused", "bad-grace-fraction.json", "spec.terminationGracePeriodSeconds: expected integer, got number 1.5", ErrWrongType},
	{"integer overflow is refused", "bad-grace-overflow.json", "spec.terminationGracePeriodSeconds: expected integer, got number 1e30", ErrWrongType},
	{"deep nesting is refused", "bad-deep-nesting.json", "pod spec too large: nesting deeper than 64 levels at line 5", ErrTooLarge},
	{"apiVersion other than v1 is refused", "bad-api-version.json", `apiVersion: "apps/v1" is not supported, must be "v1"`, ErrInvalid},
	{"apiVersion is required", "bad-api-version-missing.json", `apiVersion: required, must be "v1"`, ErrInvalid},
	{"kind other than Pod is refused", "bad-kind.json", `kind: "Deployment" is not supported, must be "Pod"`, ErrInvalid},

	// Validation (test plan B-4, B-5, B-6, B-13, B-14, B-15).
	{"empty container list is refused", "bad-no-containers.json", "spec.containers: required: at least one container", ErrInvalid},
	{"missing container list is refused", "bad-containers-missing.json", "spec.containers: required: at least one container", ErrInvalid},
	{"pod name is required", "bad-name-missing.json", "metadata.name: required", ErrInvalid},
	{"pod name must be lower case", "bad-name-uppercase.json", `metadata.name: "Web" is invalid`, ErrInvalid},
	{"pod name must not be ..", "bad-name-dotdot.json", `metadata.name: ".." is invalid`, ErrInvalid},
	{"pod name must not contain a slash", "bad-name-slash.json", `metadata.name: "a/b" is invalid`, ErrInvalid},
	{"pod name must not contain NUL", "bad-name-nul.json", `metadata.name: "a\x00b" is invalid`, ErrInvalid},
	{"pod name is at most 63 characters", "bad-name-too-long.json", "metadata.name: 64 characters, must be 1 to 63", ErrInvalid},
	{"container name must be a DNS label", "bad-container-name.json", `spec.containers[0].name: "Main_1" is invalid`, ErrInvalid},
	{"container name must not contain a dot", "bad-container-name-dot.json", `spec.containers[0].name: "main.1" is invalid`, ErrInvalid},
	{"container name is required", "bad-container-name-missing.json", "spec.containers[0].name: required", ErrInvalid},
	{"duplicate container names name both", "bad-duplicate-container.json", `duplicate container name "app": spec.containers[0] and spec.containers[2]`, ErrInvalid},
	{"init and app container names are unique together", "bad-duplicate-init-container.json", `duplicate container name "setup": spec.initContainers[0] and spec.containers[0]`, ErrInvalid},
	{"command is required", "bad-no-command.json", "spec.containers[0].command: required", ErrInvalid},
	{"argv[0] must not be empty", "bad-empty-command.json", "spec.containers[0].command[0]: must not be empty", ErrInvalid},
	{"NUL in an argument is refused", "bad-arg-nul.json", "spec.containers[0].args[0]: contains a NUL byte", ErrInvalid},
	{"argument over MAX_ARG_STRLEN is refused", "bad-arg-too-long.json", "spec.containers[0].args[0]: 131072 bytes, must be at most 131071", ErrInvalid},
	{"too many arguments are refused", "bad-too-many-args.json", "spec.containers[0].args: command and args have 4097 strings, must be at most 4096", ErrInvalid},
	{"too many containers are refused", "bad-too-many-containers.json", "spec.containers: 65 containers including init containers, must be at most 64", ErrInvalid},
	{"registry reference must be lowercase", "bad-image-registry.json", `spec.containers[0].image: "Nginx:1.25" is not a valid image reference`, ErrInvalid},
	{"docker transport needs a valid reference", "bad-image-docker.json", `spec.containers[0].image: "docker://busy box" is not a valid image reference`, ErrInvalid},
	{"oci-archive path must be absolute", "bad-image-oci-archive.json", `"oci-archive:tmp/img.tar": the path must be absolute`, ErrInvalid},
	{"relative image path is refused", "bad-image-relative.json", `spec.containers[0].image: "./rootfs" is a relative path`, ErrInvalid},
	{"non-clean image path is refused", "bad-image-not-clean.json", `spec.containers[0].image: "dir:/srv/../etc": directory path is not clean`, ErrInvalid},
	{"env name is required", "bad-env-name-empty.json", "spec.containers[0].env[0].name: required", ErrInvalid},
	{"env name must not contain =", "bad-env-name-equals.json", `spec.containers[0].env[0].name: "A=B" must not contain '='`, ErrInvalid},
	{"env name must not contain NUL", "bad-env-name-nul.json", "spec.containers[0].env[0].name: contains a NUL byte", ErrInvalid},
	{"env value must not contain NUL", "bad-env-value-nul.json", "spec.containers[0].env[0].value: contains a NUL byte", ErrInvalid},
	{"env string over MAX_ARG_STRLEN is refused", "bad-env-value-too-long.json", "spec.containers[0].env[0].value: NAME=value is 131072 bytes, must be at most 131071", ErrInvalid},
	{"too many env variables are refused", "bad-too-many-env.json", "spec.containers[0].env: 1025 variables, must be at most 1024", ErrInvalid},
	{"relative workingDir is refused", "bad-workdir-relative.json", `spec.containers[0].workingDir: "app" must be an absolute path`, ErrInvalid},
	{"workingDir under /proc is refused", "bad-workdir-proc.json", `spec.containers[0].workingDir: "/proc/self/fd/3" is under /proc`, ErrInvalid},
	{"workingDir that cleans to /proc is refused", "bad-workdir-proc-dotdot.json", "is under /proc", ErrInvalid},
	{"hostname must be an RFC 1123 label", "bad-hostname.json", `spec.hostname: "my_host" is invalid`, ErrInvalid},
	{"hostname is at most 63 characters", "bad-hostname-too-long.json", "spec.hostname: 64 characters, must be 1 to 63", ErrInvalid},
	{"unknown restart policy is refused", "bad-restart-policy.json", `spec.restartPolicy: "Sometimes" is invalid, must be one of "Always", "OnFailure", "Never"`, ErrInvalid},
	{"negative grace period is refused", "bad-grace-negative.json", "spec.terminationGracePeriodSeconds: -1 is out of range, must be 0 to 86400 seconds", ErrInvalid},
	{"grace period over a day is refused", "bad-grace-too-large.json", "spec.terminationGracePeriodSeconds: 86401 is out of range, must be 0 to 86400 seconds", ErrInvalid},
}

func TestBadFixturesFailForTheirReason(t *testing.T) {
	for _, tc := range badFixtures {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(fixtureDir, tc.file)
			_, _, err := loadAndCheck(path)
			if err == nil {
				t.Fatalf("%s: no error, want %q", tc.file, tc.want)
			}
			// One reason per file: the e2e tests rely on it.
			if lines := strings.Split(err.Error(), "\n"); len(lines) != 1 {
				t.Errorf("%s: %d problems, want exactly 1:\n%v", tc.file, len(lines), err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %q\ndoes not contain %q", tc.file, err, tc.want)
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("%s: error %q does not match %v", tc.file, err, tc.is)
			}
		})
	}
}

func TestGoodFixturesPass(t *testing.T) {
	want := map[string][]string{ // file -> warnings, in document order
		"good-with-warnings.yaml": {
			"metadata.namespace: not supported, ignored",
			"spec.containers[0].env[0].valueFrom: not supported, ignored",
			"spec.containers[0].livenessProbe: not supported, ignored",
			"spec.containers[0].volumeMounts[0].mountPropagation: not supported, ignored",
			"status: not supported, ignored",
		},
	}
	files, err := filepath.Glob(filepath.Join(fixtureDir, "good-*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no good fixtures: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, warnings, err := loadAndCheck(path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range warnings {
				got = append(got, w.String())
			}
			if !slices.Equal(got, want[filepath.Base(path)]) {
				t.Errorf("warnings\n got %q\nwant %q", got, want[filepath.Base(path)])
			}
		})
	}
}

func TestEveryBadFixtureIsInTheTable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "bad-*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		base := filepath.Base(path)
		if !slices.ContainsFunc(badFixtures, func(tc badFixture) bool { return tc.file == base }) {
			t.Errorf("%s is not in badFixtures", base)
		}
	}
}

// TestFixturesREADMEMatchesTable keeps testdata/pods/README.md, which the
// end-to-end tests read, equal to badFixtures.
func TestFixturesREADMEMatchesTable(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtureDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	readme := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// | `bad-x.json` | `substring` |
		cells := strings.Split(sc.Text(), "|")
		if len(cells) != 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`bad-") {
			continue
		}
		file := strings.Trim(strings.TrimSpace(cells[1]), "`")
		readme[file] = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(cells[2]), "`"), "`")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	table := map[string]string{}
	for _, tc := range badFixtures {
		table[tc.file] = tc.want
	}
	if !reflect.DeepEqual(readme, table) {
		for file, want := range table {
			if readme[file] != want {
				t.Errorf("README row for %s: got %q, want %q", file, readme[file], want)
			}
		}
		for file := range readme {
			if _, ok := table[file]; !ok {
				t.Errorf("README lists %s, which badFixtures does not", file)
			}
		}
	}
}
