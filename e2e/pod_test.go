package e2e

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// perlServer listens on 127.0.0.1:$PORT, signals readiness with a file in
// /dev/shm, answers one line and exits.
const perlServer = `
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ENV{PORT}, Listen => 5, ReuseAddr => 1)
	or die "listen: $!\n";
open(my $f, ">", "/dev/shm/listening") or die "ready file: $!\n";
close $f;
my $c = $s->accept or die "accept: $!\n";
my $l = <$c>;
print "server got: $l";
print $c "pong\n";
close $c;
`

// A pod's containers share the network, IPC (/dev/shm), UTS and PID
// namespaces, with the pause as PID 1; output is prefixed with padded names.
func TestContainersShareLocalhostShmAndPause(t *testing.T) {
	forModes(t, "share", func(t *testing.T, c *tcase) {
		port := testPort()
		c.ports = append(c.ports, port)
		report := `echo "pid1=$(cat /proc/1/comm)"; echo "hostname=$(cat /proc/sys/kernel/hostname)"; echo "env-hostname=$HOSTNAME"; `
		srv := sh("srv", report+`echo shared-by-srv > /dev/shm/from-srv; exec perl -e "$SRV"`)
		srv.Env = []envVar{{"SRV", perlServer}, {"PORT", strconv.Itoa(port)}}
		client := bash("client", report+`
i=0
while [ ! -e /dev/shm/listening ]; do
	i=$((i+1)); if [ $i -gt 300 ]; then echo "server never listened" >&2; exit 9; fi
	sleep 0.1
done
echo "shm=$(cat /dev/shm/from-srv)"
exec 3<>/dev/tcp/127.0.0.1/$PORT || exit 8
echo ping >&3
read -r reply <&3
echo "client got: $reply"
`)
		client.Env = []envVar{{"PORT", strconv.Itoa(port)}}
		r := c.run(c.write(c.newPod(srv, client)), runOpts{})
		c.expectCode(r, 0)

		const width = len("client")
		for name, want := range map[string][]string{
			"srv":    {"pid1=pause", "hostname=" + c.pod, "env-hostname=" + c.pod, "server got: ping"},
			"client": {"pid1=pause", "hostname=" + c.pod, "env-hostname=" + c.pod, "shm=shared-by-srv", "client got: pong"},
		} {
			prefix := fmt.Sprintf("%-*s | ", width, name)
			for _, w := range want {
				if !strings.Contains("\n"+r.stdout, "\n"+prefix+w+"\n") {
					t.Errorf("container %s: no line %q\n%s", name, prefix+w, r)
				}
			}
		}
	})
}

// The pod's exit code is the first failing container's; 127 and 126 for
// commands that cannot be found or executed; 128+N for a container killed
// by signal N.
func TestExitCodes(t *testing.T) {
	cases := []struct {
		name       string
		containers []container
		want       int
	}{
		{"exit-3", []container{sh("main", "exit 3")}, 3},
		{"first-fails", []container{sh("first", "exit 3"), sh("second", "sleep 1; exit 5")}, 3},
		{"second-fails", []container{sh("first", "exit 0"), sh("second", "exit 4")}, 4},
		{"not-found-abs", []container{{Name: "main", Command: []string{"/nonexistent/e2e-cmd"}}}, 127},
		{"not-found-path", []container{{Name: "main", Command: []string{"e2e-no-such-command"}}}, 127},
		{"directory", []container{{Name: "main", Command: []string{"/etc"}}}, 126},
		{"not-executable", []container{{Name: "main", Command: []string{"/etc/passwd"}}}, 126},
		{"sigterm-self", []container{sh("main", "kill -TERM $$; sleep 5")}, 143},
		{"sigkill-self", []container{sh("main", "kill -KILL $$; sleep 5")}, 137},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forModes(t, "ec-"+tc.name, func(t *testing.T, c *tcase) {
				r := c.run(c.write(c.newPod(tc.containers...)), runOpts{})
				c.expectCode(r, tc.want)
			})
		})
	}
}

// restartPolicy OnFailure restarts a failing container (with the test-only
// short back-off) until it succeeds; Never does not restart it. /dev/shm
// belongs to the pod, so it keeps the attempt counter across restarts.
func TestRestartPolicy(t *testing.T) {
	const attempt = `n=$(cat /dev/shm/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /dev/shm/count; echo "attempt $n"; [ $n -ge 3 ]`
	t.Run("OnFailure", func(t *testing.T) {
		forModes(t, "restart-onf", func(t *testing.T, c *tcase) {
			p := c.newPod(sh("main", attempt))
			p.Spec.RestartPolicy = "OnFailure"
			r := c.run(c.write(p), runOpts{env: []string{"SANDBOX_TEST_BACKOFF=50ms"}})
			c.expectCode(r, 0)
			c.expectStdout(r, "attempt 1", "attempt 2", "attempt 3")
			c.expectNoStdout(r, "attempt 4")
		})
	})
	t.Run("Never", func(t *testing.T) {
		forModes(t, "restart-never", func(t *testing.T, c *tcase) {
			r := c.run(c.write(c.newPod(sh("main", attempt))), runOpts{env: []string{"SANDBOX_TEST_BACKOFF=50ms"}})
			c.expectCode(r, 1)
			c.expectStdout(r, "attempt 1")
			c.expectNoStdout(r, "attempt 2")
		})
	})
}

// Init containers run one after the other before the app containers; a
// failing one fails the pod with its code and nothing after it starts.
func TestInitContainers(t *testing.T) {
	t.Run("in-order", func(t *testing.T) {
		forModes(t, "init-order", func(t *testing.T, c *tcase) {
			p := c.newPod(sh("app", `sed 's/^/order:/' /dev/shm/order`))
			p.Spec.InitContainers = []container{
				sh("init1", `sleep 0.3; echo one >> /dev/shm/order`),
				sh("init2", `echo two >> /dev/shm/order`),
			}
			r := c.run(c.write(p), runOpts{})
			c.expectCode(r, 0)
			var order []string
			for _, f := range strings.Fields(r.stdout) {
				if v, ok := strings.CutPrefix(f, "order:"); ok {
					order = append(order, v)
				}
			}
			if !slices.Equal(order, []string{"one", "two"}) {
				t.Errorf("app saw %q in /dev/shm/order, want [one two]\n%s", order, r)
			}
		})
	})
	t.Run("failing-init-stops-pod", func(t *testing.T) {
		forModes(t, "init-fail", func(t *testing.T, c *tcase) {
			p := c.newPod(sh("app", `echo APP-STARTED`))
			p.Spec.InitContainers = []container{
				sh("init1", `echo init1-ran; exit 4`),
				sh("init2", `echo INIT2-STARTED`),
			}
			r := c.run(c.write(p), runOpts{})
			c.expectCode(r, 4)
			c.expectStdout(r, "init1-ran")
			c.expectNoStdout(r, "APP-STARTED", "INIT2-STARTED")
		})
	})
}

// With shareProcessNamespace: false every container is PID 1 of its own PID
// namespace and cannot see the other containers' processes.
func TestSeparatePIDNamespaces(t *testing.T) {
	forModes(t, "nosharepid", func(t *testing.T, c *tcase) {
		// "a" renames itself so that "b" can look for it, and stays up until
		// "b" has looked.
		a := container{Name: "a", Command: []string{"/usr/bin/perl", "-e", `
$0 = "marker-a";
$| = 1;
print "pid=$$\n";
open(my $f, ">", "/dev/shm/a-up") or die; close $f;
for (1..600) { exit 0 if -e "/dev/shm/b-done"; select(undef, undef, undef, 0.1) }
print "b never finished\n";
exit 7;
`}}
		b := sh("b", `echo "pid=$$"
i=0
while [ ! -e /dev/shm/a-up ]; do i=$((i+1)); [ $i -gt 600 ] && exit 9; sleep 0.1; done
if grep -l 'marker[-]a' /proc/[0-9]*/cmdline >/dev/null 2>&1; then echo "b-sees-a"; else echo "b-cannot-see-a"; fi
echo "pid1=$(cat /proc/1/comm)"
touch /dev/shm/b-done`)
		p := c.newPod(a, b)
		p.Spec.ShareProcessNamespace = ptr(false)
		r := c.run(c.write(p), runOpts{})
		c.expectCode(r, 0)
		if got := linesOf(r.stdout, "a"); !slices.Contains(got, "pid=1") {
			t.Errorf("container a is not PID 1 in its namespace: %q\n%s", got, r)
		}
		gotB := linesOf(r.stdout, "b")
		for _, w := range []string{"pid=1", "b-cannot-see-a", "pid1=sh"} {
			if !slices.Contains(gotB, w) {
				t.Errorf("container b: no line %q in %q\n%s", w, gotB, r)
			}
		}
	})
}

// A dir: image runs on a directory tree (here busybox), not on the host root.
func TestDirImage(t *testing.T) {
	forModes(t, "dirimg", func(t *testing.T, c *tcase) {
		marker := "rootfs-of-" + c.pod
		root := c.busyboxRootfs(marker)
		ctr := sh("main", `cat /marker; if [ -e /usr/bin/perl ]; then echo host-root; else echo own-root; fi; echo "uid=$(id -u)"; echo "hostname=$HOSTNAME"`)
		ctr.Image = "dir:" + root
		r := c.run(c.write(c.newPod(ctr)), runOpts{})
		c.expectCode(r, 0)
		c.expectStdout(r, marker, "own-root", "uid=0", "hostname="+c.pod)
		c.expectNoStdout(r, "host-root")
	})
}
