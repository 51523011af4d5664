package e2e

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Outbound access of bridge pods (docs/NETWORKING.md, "Outbound access").
// By the network rule, the only "outside" a test reaches is the host's
// loopback: a TCP server on the host's 127.0.0.1, reached from a pod through
// its gateway 10.88.0.1, which the network holder maps (DNAT) to the
// user-mode stack's gateway, which the stack maps to the host's 127.0.0.1.

// hostLoopbackServer listens on the host's 127.0.0.1 and answers every
// connection with "hello from the host's loopback"; it stops with the test.
func hostLoopbackServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("hello from the host's loopback\n"))
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// outboundProbe prints the pod's default route, then what a connection to
// the gateway's PORT gives: the server's line, or REFUSED.
const outboundProbe = `
ip route show default
if timeout 10 bash -c 'exec 3<>/dev/tcp/10.88.0.1/$PORT && read -r line <&3 && echo "got: $line"'; then :; else echo REFUSED; fi
`

// usernetTools lists the pasta and slirp4netns processes sandbox started.
func usernetTools(c *tcase) []procInfo {
	var out []procInfo
	for _, p := range c.podProcs(c.pod) {
		if isUsernetTool(p) {
			out = append(out, p)
		}
	}
	return out
}

// A bridge pod has a default route; the host's loopback is refused by
// default and reached with --allow-host-loopback or the annotation; the
// user-mode stack is gone once the last pod has ended. tool is "" (auto:
// pasta rootless, slirp4netns as root) or a SANDBOX_USERNET value.
func testOutbound(t *testing.T, c *tcase, tool string) {
	port := hostLoopbackServer(t)
	env := []string{}
	if tool != "" {
		env = append(env, "SANDBOX_USERNET="+tool)
	}
	probe := bash("main", outboundProbe)
	probe.Env = []envVar{{"PORT", strconv.Itoa(port)}}
	bridge := []string{"--network", "bridge"}

	// A pod that keeps the holder (and its stack) running meanwhile, so the
	// stack can be seen.
	keep := c.start(c.write(c.newPod(container{Name: "main", Command: []string{"/bin/sleep", "1000"}})), runOpts{flags: bridge, env: env})
	c.waitPodProc(keep, "sleep", 30*time.Second)
	tools := usernetTools(c)
	if len(tools) != 1 {
		t.Fatalf("want one user-mode network stack while a bridge pod runs, got:\n%s\nsandbox stderr:\n%s", describeProcs(tools), keep.stderr.String())
	}
	if tool != "" && !strings.Contains(tools[0].cmdline+tools[0].comm, tool) && !(tool == "pasta" && strings.Contains(tools[0].comm, "passt")) {
		t.Errorf("SANDBOX_USERNET=%s: the stack is %q (%s)", tool, tools[0].comm, tools[0].cmdline)
	}

	name := func(s string) string { return podName(s, c.m.short) }
	run := func(pod string, flags []string, annotations map[string]string) result {
		t.Helper()
		t.Cleanup(func() { c.checkLeaksFor(pod) })
		p := podManifest{APIVersion: "v1", Kind: "Pod", Metadata: metadata{Name: pod, Annotations: annotations},
			Spec: podSpec{Containers: []container{probe}, RestartPolicy: "Never", TerminationGracePeriodSeconds: ptr(int64(2))}}
		r := c.run(c.writeFile(pod+".json", mustJSON(t, p)), runOpts{flags: append(bridge, flags...), env: env})
		c.expectCode(r, 0)
		c.expectStdout(r, "default via 10.88.0.1 dev eth0")
		return r
	}
	r := run(name("obdeny"), nil, nil)
	c.expectStdout(r, "REFUSED")
	c.expectNoStdout(r, "got:")
	r = run(name("obflag"), []string{"--allow-host-loopback"}, nil)
	c.expectStdout(r, "got: hello from the host's loopback")
	r = run(name("obanno"), nil, map[string]string{"sandbox.podsandbox.dev/allow-host-loopback": "true"})
	c.expectStdout(r, "got: hello from the host's loopback")
	// The permission went with its pod: the next pod on that address is
	// refused again.
	r = run(name("obdeny2"), nil, nil)
	c.expectStdout(r, "REFUSED")

	keep.signal(15)
	keep.wait()
	deadline := time.Now().Add(2 * time.Second)
	for len(usernetTools(c)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if left := usernetTools(c); len(left) > 0 {
		t.Errorf("user-mode network stack left after the last bridge pod:\n%s", describeProcs(left))
	}
}

func TestNetworkOutbound(t *testing.T) {
	forModes(t, "outbound", func(t *testing.T, c *tcase) { testOutbound(t, c, "") })
}

// slirp4netns explicitly, rootless (as root it is the default already).
func TestNetworkOutboundSlirp4netns(t *testing.T) {
	onlyMode(t, "rootless-subuid", "obslirp", func(t *testing.T, c *tcase) { testOutbound(t, c, "slirp4netns") })
}

// Neither tool installed (a PATH without them): bridge pods still work, with
// exactly one warning that names both Debian packages.
func TestNetworkOutboundMissing(t *testing.T) {
	forModes(t, "obnone", func(t *testing.T, c *tcase) {
		dir := c.dir + "/bin"
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.chown(dir)
		for _, tool := range []string{"newuidmap", "newgidmap"} {
			symlinkIfPresent(t, "/usr/bin/"+tool, dir+"/"+tool)
		}
		r := c.run(c.write(c.newPod(sh("main", `ip route show default`))), runOpts{flags: []string{"--network", "bridge"}, env: []string{"PATH=" + dir}})
		c.expectCode(r, 0)
		c.expectStdout(r, "default via 10.88.0.1 dev eth0")
		c.expectStderr(r, "neither pasta nor slirp4netns is installed (Debian packages passt and slirp4netns")
		if n := strings.Count(r.stderr, "no outbound access"); n != 1 {
			t.Errorf("want one warning about outbound access, got %d:\n%s", n, r.stderr)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func symlinkIfPresent(t *testing.T, target, link string) {
	t.Helper()
	if _, err := os.Stat(target); err != nil {
		return
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// A manifest that names no network gets the bridge: a pod IP (ps), eth0
// with it, and a default route; `run -- CMD` stays on lo only.
func TestNetworkDefaultIsBridge(t *testing.T) {
	forModes(t, "netdefault", func(t *testing.T, c *tcase) {
		p := c.newPod(sh("main", `ip -4 -o addr show eth0 | awk '{print "eth0", $4}'; ip route show default`))
		p.Metadata.Annotations = nil // the default
		r := c.run(c.write(p), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, "eth0 10.88.", "default via 10.88.0.1 dev eth0")
		r = c.startArgs([]string{"run", "--", "sh", "-c", "ls /sys/class/net"}, runOpts{}).wait()
		c.expectCode(r, 0)
		if got := strings.Fields(r.stdout); len(got) != 1 || got[0] != "lo" {
			t.Errorf("run -- CMD: interfaces %q, want only lo\n%s", got, r)
		}
	})
}
