package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Manifests with ports: the harness's container type plus ports.
type portSpec struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
	HostIP        string `json:"hostIP,omitempty"`
}

type netContainer struct {
	container
	Ports []portSpec `json:"ports,omitempty"`
}

type netPodSpec struct {
	Containers                    []netContainer `json:"containers"`
	RestartPolicy                 string         `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64         `json:"terminationGracePeriodSeconds,omitempty"`
}

type netPod struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   metadata   `json:"metadata"`
	Spec       netPodSpec `json:"spec"`
}

func (c *tcase) writeNetPod(containers ...netContainer) string {
	c.t.Helper()
	p := netPod{APIVersion: "v1", Kind: "Pod", Metadata: metadata{Name: c.pod, Annotations: map[string]string{"sandbox.podsandbox.dev/network": "none"}},
		Spec: netPodSpec{Containers: containers, RestartPolicy: "Never", TerminationGracePeriodSeconds: ptr(int64(2))}}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	return c.writeFile(fmt.Sprintf("netpod-%d.json", c.n), data)
}

// freeHostPort returns a port that is free for TCP and UDP on 127.0.0.1 of
// the host (racy, like any such helper).
func freeHostPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1")
	return 0
}

// portServer answers each TCP line "x" with "tcp x" (and exits on "quit")
// and each UDP datagram "x" with "udp x", on 127.0.0.1 in the pod.
const portServer = `
use IO::Socket::INET; use IO::Select;
my $addr = $ENV{ADDR} || "127.0.0.1";
if ($addr eq "pod") { # the pod's own address: its /etc/hosts line
	open(my $h, "<", "/etc/hosts") or die "hosts: $!\n";
	while (<$h>) { my ($ip, @names) = split; $addr = $ip if $ip && grep { $_ eq $ENV{HOSTNAME} } @names }
	die "no address of $ENV{HOSTNAME} in /etc/hosts\n" if $addr eq "pod";
}
my $t = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $ENV{TPORT}, Listen => 5, ReuseAddr => 1) or die "tcp: $!\n";
my $u = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $ENV{UPORT}, Proto => "udp") or die "udp: $!\n";
my $sel = IO::Select->new($t, $u);
$| = 1; print "listening\n";
while (1) {
	for my $fh ($sel->can_read) {
		if ($fh == $u) { my $m; my $from = $u->recv($m, 1500); $u->send("udp $m", 0, $from); next }
		my $c = $t->accept or next;
		my $l = <$c>; chomp $l;
		if ($l eq "quit") { print $c "bye\n"; close $c; print "quit\n"; exit 0 }
		print $c "tcp $l\n"; close $c;
	}
}
`

// tcpAsk sends one line to 127.0.0.1:port and returns the answer line.
func tcpAsk(port int, line string) (string, error) {
	c, err := net.DialTimeout("tcp4", "127.0.0.1:"+strconv.Itoa(port), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(got), err
}

// udpAsk sends one datagram to 127.0.0.1:port and returns the answer.
func udpAsk(port int, msg string) (string, error) {
	c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	return string(buf[:n]), err
}

// hostPort TCP and UDP reach a container's 127.0.0.1 from the host's
// loopback, through the supervisor's listeners and the dialler in the pod's
// network namespace; nothing listens afterwards.
func TestHostPortTCPAndUDP(t *testing.T) {
	forModes(t, "hostport", func(t *testing.T, c *tcase) {
		tport, uport := freeHostPort(t), freeHostPort(t)
		c.ports = append(c.ports, tport)
		srv := netContainer{container: container{Name: "srv", Command: []string{"perl", "-e", portServer},
			Env: []envVar{{"TPORT", "8080"}, {"UPORT", "5353"}}},
			Ports: []portSpec{{ContainerPort: 8080, HostPort: tport, HostIP: "127.0.0.1"},
				{ContainerPort: 5353, HostPort: uport, Protocol: "UDP", HostIP: "127.0.0.1"}}}
		p := c.start(c.writeNetPod(srv), runOpts{})
		p.waitOutput("listening", 15*time.Second)

		askPortServer(t, tport, uport, 3)
		r := p.wait()
		c.expectCode(r, 0)
		if u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: uport}); err != nil {
			t.Errorf("leak: UDP hostPort %d still bound after the pod: %v", uport, err)
		} else {
			u.Close()
		}
	})
}

// A hostPort in use fails the pod before anything starts, naming the port.
func TestHostPortBusy(t *testing.T) {
	forModes(t, "portbusy", func(t *testing.T, c *tcase) {
		busy, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		port := busy.Addr().(*net.TCPAddr).Port
		free := freeHostPort(t)
		c.ports = append(c.ports, free)
		ctr := netContainer{container: sh("main", "echo container-ran"),
			Ports: []portSpec{{ContainerPort: 80, HostPort: free, HostIP: "127.0.0.1"}, {ContainerPort: 81, HostPort: port, HostIP: "127.0.0.1"}}}
		r := c.run(c.writeNetPod(ctr), runOpts{})
		c.expectCode(r, 125)
		c.expectStderr(r, fmt.Sprintf("hostPort %d/TCP", port), "address already in use")
		c.expectNoStdout(r, "container-ran")
	})
}

// Below net.ipv4.ip_unprivileged_port_start an unprivileged user gets an
// error naming the sysctl.
func TestHostPortPrivileged(t *testing.T) {
	for _, mode := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, mode, "portlow", func(t *testing.T, c *tcase) {
			ctr := netContainer{container: sh("main", "echo container-ran"),
				Ports: []portSpec{{ContainerPort: 80, HostPort: 80, HostIP: "127.0.0.1"}}}
			r := c.run(c.writeNetPod(ctr), runOpts{})
			c.expectCode(r, 125)
			c.expectStderr(r, "hostPort 80/TCP", "net.ipv4.ip_unprivileged_port_start")
			c.expectNoStdout(r, "container-ran")
		})
	}
}

// Conflicting mappings are refused by validation.
func TestHostPortConflict(t *testing.T) {
	onlyMode(t, "rootless-subuid", "portconf", func(t *testing.T, c *tcase) {
		port := freeHostPort(t)
		a := netContainer{container: sh("a", "true"), Ports: []portSpec{{ContainerPort: 80, HostPort: port}}}
		b := netContainer{container: sh("b", "true"), Ports: []portSpec{{ContainerPort: 81, HostPort: port, HostIP: "127.0.0.1"}}}
		r := c.run(c.writeNetPod(a, b), runOpts{})
		c.expectCode(r, 125)
		c.expectStderr(r, "spec.containers[1].ports[0].hostPort", "conflicts with spec.containers[0].ports[0]")
	})
}

// askPortServer talks to portServer through hostPorts tport (TCP, n
// requests) and uport (UDP), then tells it to quit.
func askPortServer(t *testing.T, tport, uport, n int) {
	t.Helper()
	for i := range n {
		got, err := tcpAsk(tport, "hello"+strconv.Itoa(i))
		if err != nil || got != "tcp hello"+strconv.Itoa(i) {
			t.Errorf("TCP through hostPort %d: %q, %v", tport, got, err)
		}
	}
	var got string
	var err error
	for range 10 { // UDP may drop; the first datagram also creates the flow
		if got, err = udpAsk(uport, "ping"); err == nil {
			break
		}
	}
	if got != "udp ping" {
		t.Errorf("UDP through hostPort %d: %q, %v", uport, got, err)
	}
	if got, err := tcpAsk(tport, "quit"); got != "bye" {
		t.Errorf("quit: %q %v", got, err)
	}
}

// A bridge pod's hostPorts reach a server bound to the pod's own address
// only (where Kubernetes delivers them), TCP and UDP.
func TestHostPortReachesBridgePodAddress(t *testing.T) {
	forModes(t, "hostportbr", func(t *testing.T, c *tcase) {
		tport, uport := freeHostPort(t), freeHostPort(t)
		c.ports = append(c.ports, tport)
		srv := netContainer{container: container{Name: "srv", Command: []string{"perl", "-e", portServer},
			Env: []envVar{{"TPORT", "8080"}, {"UPORT", "5353"}, {"ADDR", "pod"}}},
			Ports: []portSpec{{ContainerPort: 8080, HostPort: tport, HostIP: "127.0.0.1"},
				{ContainerPort: 5353, HostPort: uport, Protocol: "UDP", HostIP: "127.0.0.1"}}}
		p := c.start(c.writeNetPod(srv), runOpts{flags: []string{"--network", "bridge"}})
		p.waitOutput("listening", 15*time.Second)
		askPortServer(t, tport, uport, 1)
		c.expectCode(p.wait(), 0)
	})
}

// bridgeServer answers one UDP datagram "x" with "udp x" and one TCP line
// "x" with "tcp x" on 0.0.0.0:$PORT (the pod's eth0 included), then exits.
const bridgeServer = `
use IO::Socket::INET;
my $t = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ENV{PORT}, Listen => 5, ReuseAddr => 1) or die "tcp: $!\n";
my $u = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ENV{PORT}, Proto => "udp") or die "udp: $!\n";
$| = 1; print "listening\n";
my $m; my $from = $u->recv($m, 1500); $u->send("udp $m", 0, $from); print "server got udp $m";
my $c = $t->accept or die "accept: $!\n"; my $l = <$c>; print $c "tcp $l"; print "server got tcp $l"; close $c;
`

// Two pods on the bridge reach each other by IP (TCP and UDP); ps and
// inspect show the pod IP, /etc/hosts has it; the network holder is gone
// after the last pod (the leak check finds any sandbox process left).
func TestBridgePodToPod(t *testing.T) {
	forModes(t, "bridge", func(t *testing.T, c *tcase) {
		port := testPort()
		srv := netContainer{container: container{Name: "srv", Command: []string{"perl", "-e", bridgeServer},
			Env: []envVar{{"PORT", strconv.Itoa(port)}}}}
		a := c.start(c.writeNetPod(srv), runOpts{flags: []string{"--network", "bridge"}})
		a.waitOutput("listening", 15*time.Second)
		row := c.podRow()
		ip, _ := row["ip"].(string)
		if !strings.HasPrefix(ip, "10.88.") {
			t.Fatalf("ps: pod IP %q, want one in 10.88.0.0/16: %v", ip, row)
		}
		if got := c.inspectPod()["podIP"]; got != ip {
			t.Errorf("inspect: podIP %v, want %s", got, ip)
		}

		nameB := podName("bridgeb", c.m.short)
		t.Cleanup(func() { c.checkLeaksFor(nameB) })
		client := bash("cli", `
grep -E "^10\.88\.[0-9]+\.[0-9]+\s+$NAME$" /etc/hosts || { echo "no pod IP in /etc/hosts"; cat /etc/hosts; exit 7; }
perl -MIO::Socket::INET -MIO::Select -e '
	my $u = IO::Socket::INET->new(PeerAddr => $ENV{IP}, PeerPort => $ENV{PORT}, Proto => "udp") or die "udp: $!\n";
	my $sel = IO::Select->new($u);
	for (1..5) { $u->send("ping\n"); if ($sel->can_read(1)) { my $m; $u->recv($m, 1500); print "client got: $m"; exit 0 } }
	die "no UDP answer\n"' || exit 8
exec 3<>/dev/tcp/$IP/$PORT || exit 9
echo hello >&3
read -r reply <&3
echo "client got: $reply"
`)
		client.Env = []envVar{{"IP", ip}, {"PORT", strconv.Itoa(port)}, {"NAME", nameB}}
		p := netPod{APIVersion: "v1", Kind: "Pod", Metadata: metadata{Name: nameB},
			Spec: netPodSpec{Containers: []netContainer{{container: client}}, RestartPolicy: "Never", TerminationGracePeriodSeconds: ptr(int64(2))}}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		rb := c.run(c.writeFile("podb.json", data), runOpts{flags: []string{"--network", "bridge"}})
		c.expectCode(rb, 0)
		c.expectStdout(rb, "client got: udp ping", "client got: tcp hello")
		ra := a.wait()
		c.expectCode(ra, 0)
		c.expectStdout(ra, "server got udp ping", "server got tcp hello")
	})
}

// holderProcs returns the running network holders (comm "sandbox-netholder"
// is argv[0]; the process runs the sandbox binary).
func holderProcs(c *tcase) []procInfo {
	var out []procInfo
	for _, p := range c.podProcs(c.pod) {
		if strings.HasPrefix(p.cmdline, "sandbox-netholder") {
			out = append(out, p)
		}
	}
	return out
}

// A bridge pod whose network holder dies has lost its network (its veth went
// with the holder's network namespace): the supervisor stops it with "pod
// sandbox died" (137) instead of leaving it running without eth0, and the
// leak check finds nothing left. Rootless only: root's holder is shared by
// every root pod on the machine.
func TestBridgeHolderDeathStopsThePod(t *testing.T) {
	for _, name := range []string{"rootless-subuid", "rootless-nosubuid"} {
		onlyMode(t, name, "brholder", func(t *testing.T, c *tcase) {
			a := c.start(c.write(c.newPod(container{Name: "main", Command: []string{"/bin/sleep", "1000"}})),
				runOpts{flags: []string{"--network", "bridge"}})
			c.waitPodProc(a, "sleep", 30*time.Second)
			h := holderProcs(c)
			if len(h) != 1 {
				t.Fatalf("want one network holder, found %d", len(h))
			}
			if err := syscall.Kill(h[0].pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			r := a.wait()
			c.expectCode(r, 137)
			c.expectStderr(r, "pod sandbox died: the network holder (pid "+strconv.Itoa(h[0].pid)+") exited")
		})
	}
}

// kill -9 of a bridge pod's supervisor: the holder survives it, the next
// run gets an address and stops the holder when it ends; after another
// kill -9, `sandbox gc` stops the holder.
func TestBridgeSupervisorKilled(t *testing.T) {
	forModes(t, "brkill", func(t *testing.T, c *tcase) {
		bridge := runOpts{flags: []string{"--network", "bridge"}}
		a := c.start(c.write(c.newPod(container{Name: "main", Command: []string{"/bin/sleep", "1000"}})), bridge)
		c.waitPodProc(a, "sleep", 30*time.Second)
		ip, _ := c.podRow()["ip"].(string)
		if ip == "" {
			t.Fatal("no pod IP in ps")
		}
		a.signal(syscall.SIGKILL)
		a.wait()
		if len(holderProcs(c)) != 1 {
			t.Errorf("want the network holder to survive a killed supervisor")
		}

		// The next pod gets the next address (leases go round-robin; that a
		// dead supervisor's lease is free is TestLeaseAddressRoundRobin...).
		r := c.run(c.write(c.newPod(sh("main", `grep "$HOSTNAME" /etc/hosts`))), bridge)
		c.expectCode(r, 0)
		c.expectStdout(r, "10.88.", "\t"+c.pod)
		deadline := time.Now().Add(2 * time.Second)
		for len(holderProcs(c)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if h := holderProcs(c); len(h) > 0 {
			t.Errorf("network holder left after the last pod: %s", describeProcs(h))
		}

		b := c.start(c.write(c.newPod(container{Name: "main", Command: []string{"/bin/sleep", "1000"}})), bridge)
		c.waitPodProc(b, "sleep", 30*time.Second)
		b.signal(syscall.SIGKILL)
		b.wait()
		c.expectCode(c.sb("gc"), 0)
		deadline = time.Now().Add(2 * time.Second)
		for len(holderProcs(c)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if h := holderProcs(c); len(h) > 0 {
			t.Errorf("network holder left after sandbox gc: %s", describeProcs(h))
		}
	})
}
