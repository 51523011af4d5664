package supervisor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/image"
	"github.com/podsandbox/sandbox/pod"
)

func imageFixture(t *testing.T, cfg v1.Config) *imagePlan {
	t.Helper()
	lower, upper := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(lower, "etc"), 0o755)
	os.MkdirAll(filepath.Join(upper, "etc"), 0o755)
	os.WriteFile(filepath.Join(lower, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nold:x:5:5::/old:/bin/sh\n"), 0o644)
	// The upper layer's passwd wins; a symlink cannot reach out of its layer.
	os.WriteFile(filepath.Join(upper, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(upper, "etc/group"), []byte("root:x:0:\nstaff:x:50:\n"), 0o644)
	return &imagePlan{rec: image.Record{Config: cfg}, layers: []string{lower, upper}}
}

func TestApplyImageConfigKubernetesRules(t *testing.T) {
	ic := v1.Config{Entrypoint: []string{"/ep"}, Cmd: []string{"cmd1", "cmd2"}, Env: []string{"PATH=/img/bin", "A=image", "B=image"}, WorkingDir: "/work", User: "app"}
	cases := []struct {
		c        pod.Container
		wantArgv []string
	}{
		{pod.Container{}, []string{"/ep", "cmd1", "cmd2"}},
		{pod.Container{Args: []string{"x"}}, []string{"/ep", "x"}},
		{pod.Container{Command: []string{"/bin/sh"}}, []string{"/bin/sh"}},
		{pod.Container{Command: []string{"/bin/sh"}, Args: []string{"-c", "true"}}, []string{"/bin/sh", "-c", "true"}},
	}
	for _, tc := range cases {
		tc.c.Env = []pod.EnvVar{{Name: "B", Value: "manifest"}, {Name: "C", Value: "manifest"}}
		cfg := containerinit.Config{Argv: tc.c.Argv(), Env: containerEnv(&tc.c, "podhost", 0), Security: &containerinit.Security{}}
		if err := applyImageConfig(&cfg, &tc.c, pod.Security{}, imageFixture(t, ic)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Argv, tc.wantArgv) {
			t.Errorf("command %q args %q: argv %q, want %q", tc.c.Command, tc.c.Args, cfg.Argv, tc.wantArgv)
		}
		env := strings.Join(cfg.Env, " ")
		for _, want := range []string{"PATH=/img/bin", "A=image", "B=manifest", "C=manifest", "HOSTNAME=podhost", "HOME=/home/app"} {
			if !slices.Contains(cfg.Env, want) {
				t.Errorf("env %s lacks %s", env, want)
			}
		}
		if cfg.WorkingDir != "/work" || cfg.Security.UID != 1000 || cfg.Security.GID != 1001 {
			t.Errorf("workdir %q uid %d gid %d", cfg.WorkingDir, cfg.Security.UID, cfg.Security.GID)
		}
	}
}

func TestApplyImageConfigManifestWins(t *testing.T) {
	ic := v1.Config{Cmd: []string{"/cmd"}, WorkingDir: "/work", User: "app"}
	c := pod.Container{WorkingDir: "/mine", Env: []pod.EnvVar{{Name: "PATH", Value: "/mine"}}}
	cfg := containerinit.Config{Env: containerEnv(&c, "h", 7), WorkingDir: "/mine", Security: &containerinit.Security{UID: 7}}
	if err := applyImageConfig(&cfg, &c, pod.Security{UID: 7, UIDSet: true}, imageFixture(t, ic)); err != nil {
		t.Fatal(err)
	}
	if cfg.WorkingDir != "/mine" || cfg.Security.UID != 7 || !slices.Contains(cfg.Env, "PATH=/mine") || !slices.Equal(cfg.Argv, []string{"/cmd"}) {
		t.Errorf("%+v %+v", cfg, cfg.Security)
	}
}

func TestResolveImageUser(t *testing.T) {
	im := imageFixture(t, v1.Config{})
	for spec, want := range map[string][2]uint32{"app": {1000, 1001}, "1000": {1000, 1001}, "app:staff": {1000, 50}, "42:43": {42, 43}, "0": {0, 0}} {
		u, err := resolveImageUser(im.layers, spec)
		if err != nil || u.uid != want[0] || u.gid != want[1] {
			t.Errorf("%s: %+v %v, want %v", spec, u, err, want)
		}
	}
	for _, bad := range []string{"nobody", "old", "app:nogroup"} {
		if _, err := resolveImageUser(im.layers, bad); err == nil {
			t.Errorf("%s: resolved", bad)
		}
	}
	if err := applyImageConfig(&containerinit.Config{Security: &containerinit.Security{}}, &pod.Container{}, pod.Security{}, im); err == nil {
		t.Error("an image without Entrypoint and Cmd and no command must be refused")
	}
}
