package imagetest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/podsandbox/sandbox/internal/testutil"
)

// RegistryBinary is Debian's docker-registry (the distribution registry
// v2.8), package docker-registry.
const RegistryBinary = "/usr/bin/docker-registry"

// Registry is a docker-registry process this test started on 127.0.0.1 with
// its own configuration and a temporary storage directory; it is stopped
// (by its pid) when the test ends. It never uses the package's system
// service, its configuration or its port.
type Registry struct {
	// Host is 127.0.0.1:PORT.
	Host string
	// Storage is the filesystem driver's root directory.
	Storage string
	// User and Password are the htpasswd credentials, if any.
	User, Password string
	cmd            *exec.Cmd
	exited         chan error
	logPath        string
}

// RegistryOptions configure StartRegistry.
type RegistryOptions struct {
	// User and Password, when set, turn on htpasswd authentication with
	// that one user (a bcrypt entry the test writes).
	User, Password string
}

// StartRegistry starts docker-registry for t. Without the binary the test is
// skipped, or fails when CI is set (a runner without the package must not
// pass by skipping).
func StartRegistry(t testing.TB, o RegistryOptions) *Registry {
	t.Helper()
	if _, err := os.Stat(RegistryBinary); err != nil {
		testutil.SkipOrFailUnlessCI(t, fmt.Sprintf("%s: %v (apt-get install docker-registry; hack/setup-test-host.sh does)", RegistryBinary, err))
	}
	dir := t.TempDir()
	r := &Registry{Storage: filepath.Join(dir, "storage"), User: o.User, Password: o.Password}
	if err := os.Mkdir(r.Storage, 0o700); err != nil {
		t.Fatal(err)
	}
	auth := ""
	if o.User != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(o.User+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: sandbox-test\n    path: %s\n", htpasswd)
	}
	// A port picked by the kernel, released just before the registry binds
	// it: another process may take it in between, so a failed bind retries.
	var lastErr error
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.Host = l.Addr().String()
		l.Close()
		config := filepath.Join(dir, "config.yml")
		// Only what the test needs: no health checks, no notifications, no
		// redirects (the filesystem driver serves blobs itself).
		text := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: sandbox-test-secret
%s`, r.Storage, r.Host, auth)
		if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = r.start(config); lastErr == nil {
			t.Cleanup(r.stop)
			return r
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("docker-registry: %v", lastErr)
	return nil
}

// start runs the registry with config and waits until it answers on /v2/.
func (r *Registry) start(config string) error {
	logFile, err := os.Create(filepath.Join(filepath.Dir(config), "registry.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	r.logPath = logFile.Name()
	cmd := exec.Command(RegistryBinary, "serve", config)
	// Its own environment: REGISTRY_* variables would override the config.
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd = cmd
	r.exited = make(chan error, 1)
	go func() { r.exited <- cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.exited:
			return fmt.Errorf("exited (%v): %s", err, r.Log())
		default:
		}
		resp, err := client.Get("http://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	return errors.New("not answering on http://" + r.Host + "/v2/ after 30s: " + r.Log())
}

// stop ends the registry by its pid: SIGTERM, then SIGKILL after 10s.
func (r *Registry) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// Log is what the registry printed so far.
func (r *Registry) Log() string {
	data, _ := os.ReadFile(r.logPath)
	return string(data)
}

// Auth is the credentials of r for go-containerregistry (anonymous without
// htpasswd).
func (r *Registry) Auth() authn.Authenticator {
	if r.User == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.User, Password: r.Password}
}

// DockerConfig is a ~/.docker/config.json holding r's credentials.
func (r *Registry) DockerConfig() []byte {
	basic := base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password))
	return []byte(`{"auths":{"` + r.Host + `":{"auth":"` + basic + `"}}}`)
}

// Push pushes img to r as REPO:TAG and returns the reference HOST/REPO:TAG.
func (r *Registry) Push(t testing.TB, img v1.Image, repoTag string) string {
	t.Helper()
	ref := r.Host + "/" + repoTag
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithAuth(r.Auth())); err != nil {
		t.Fatalf("push %s: %v\n%s", ref, err, r.Log())
	}
	return ref
}

// BlobPath is where the filesystem driver keeps the blob of digest d.
func (r *Registry) BlobPath(d v1.Hash) string {
	return filepath.Join(r.Storage, "docker/registry/v2/blobs", d.Algorithm, d.Hex[:2], d.Hex, "data")
}
