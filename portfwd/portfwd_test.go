package portfwd

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/pod"
)

// freePort returns a port free on 127.0.0.1 for proto (racy but fine for tests).
func freePort(t *testing.T, proto string) int {
	t.Helper()
	if proto == "udp" {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// localDial stands in for the dialler in the pod: it dials 127.0.0.1.
func localDial(proto pod.Protocol, port int) (*os.File, error) {
	return dialInPod(strings.ToLower(string(proto)), port, "")
}

// A bridge pod's dialler tries the pod's own address first (Kubernetes
// delivers a hostPort to the pod IP), and for TCP falls back to the pod's
// loopback when refused there; UDP goes to the pod address only. 127.0.0.2
// stands in for the pod address (all of 127.0.0.0/8 is local).
func TestDialInPodPrefersThePodAddress(t *testing.T) {
	accept := func(l net.Listener) <-chan string {
		got := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				got <- "accept: " + err.Error()
				return
			}
			got <- c.LocalAddr().String()
			c.Close()
		}()
		return got
	}
	both, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (all of 127.0.0.0/8 is local on Linux): %v", err)
	}
	defer both.Close()
	port := both.Addr().(*net.TCPAddr).Port
	lo, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	gotPod, gotLo := accept(both), accept(lo)
	f, err := dialInPod("tcp", port, "127.0.0.2")
	if err != nil {
		t.Fatalf("dial with both listening: %v", err)
	}
	f.Close()
	wait := func(ch <-chan string) string {
		select {
		case got := <-ch:
			return got
		case <-time.After(5 * time.Second):
			return "nothing accepted"
		}
	}
	if got := wait(gotPod); got != "127.0.0.2:"+strconv.Itoa(port) {
		t.Errorf("with a server on the pod address and one on loopback, the pod address got %q", got)
	}
	both.Close()
	f, err = dialInPod("tcp", port, "127.0.0.2")
	if err != nil {
		t.Fatalf("dial with only loopback listening: %v", err)
	}
	f.Close()
	if got := wait(gotLo); got != "127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("fallback to loopback: accepted on %q", got)
	}

	u, err := net.ListenPacket("udp4", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	uport := u.LocalAddr().(*net.UDPAddr).Port
	f, err = dialInPod("udp", uport, "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().String(); got != "127.0.0.2:"+strconv.Itoa(uport) {
		t.Errorf("UDP dialled %s, want the pod address", got)
	}
}

var lo = netip.MustParseAddr("127.0.0.1")

func TestTCPForwarding(t *testing.T) {
	backend, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				c.Write([]byte("echo " + line))
			}()
		}
	}()
	hp := freePort(t, "tcp")
	f, err := Listen([]pod.HostPort{{HostIP: lo, HostPort: hp, ContainerPort: backend.Addr().(*net.TCPAddr).Port, Protocol: pod.ProtocolTCP}})
	if err != nil {
		t.Fatal(err)
	}
	f.startWith(localDial)
	for i := range 3 {
		c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(hp))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hi " + strconv.Itoa(i) + "\n"))
		got, _ := bufio.NewReader(c).ReadString('\n')
		if got != "echo hi "+strconv.Itoa(i)+"\n" {
			t.Errorf("got %q", got)
		}
		if i == 0 {
			checkSendBuffers(t, f)
		}
		c.Close()
	}
	f.Close()
	if _, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(hp)); err == nil {
		t.Error("listener still open after Close")
	}
}

// checkSendBuffers: both relayed sockets of a loopback client, the pod's end
// and the host's, have SO_SNDBUF LocalSendBuffer (doubled by the kernel).
func checkSendBuffers(t *testing.T, f *Forwarder) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for c := range f.conns {
		tc, ok := c.(*net.TCPConn)
		if !ok {
			continue
		}
		n++
		rc, err := tc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var size int
		rc.Control(func(fd uintptr) { size, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF) })
		if err != nil || size != 2*LocalSendBuffer {
			t.Errorf("%s -> %s: SO_SNDBUF %d (%v), want %d", tc.LocalAddr(), tc.RemoteAddr(), size, err, 2*LocalSendBuffer)
		}
	}
	if n != 2 {
		t.Errorf("%d relayed TCP sockets, want 2", n)
	}
}

// Only a client on this host gets the small send buffer: a remote one's
// bandwidth-delay product may need autotuning.
func TestIsLocalPeer(t *testing.T) {
	a := netip.MustParseAddr
	for _, c := range []struct {
		local, remote netip.Addr
		want          bool
	}{
		{a("127.0.0.1"), a("127.0.0.1"), true},
		{a("0.0.0.0"), a("127.0.0.5"), true},
		{a("::1"), a("::1"), true},
		{a("192.0.2.7"), a("192.0.2.7"), true}, // a local client dialling the host's own address
		{a("192.0.2.7"), a("192.0.2.8"), false},
		{a("2001:db8::1"), a("2001:db8::2"), false},
		{a("192.0.2.7"), netip.Addr{}, false},
	} {
		if got := isLocalPeer(c.local, c.remote); got != c.want {
			t.Errorf("isLocalPeer(%s, %s) = %v, want %v", c.local, c.remote, got, c.want)
		}
	}
}

func TestUDPForwardingAndIdle(t *testing.T) {
	backend, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := backend.ReadFromUDP(buf)
			if err != nil {
				return
			}
			backend.WriteToUDP(append([]byte("echo "), buf[:n]...), from)
		}
	}()
	hp := freePort(t, "udp")
	f, err := Listen([]pod.HostPort{{HostIP: lo, HostPort: hp, ContainerPort: backend.LocalAddr().(*net.UDPAddr).Port, Protocol: pod.ProtocolUDP}})
	if err != nil {
		t.Fatal(err)
	}
	f.UDPIdle = 200 * time.Millisecond
	f.startWith(localDial)
	defer f.Close()
	for _, client := range []string{"a", "b"} {
		c, err := net.Dial("udp4", "127.0.0.1:"+strconv.Itoa(hp))
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		for range 2 {
			c.Write([]byte(client))
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != "echo "+client {
				t.Fatalf("client %s: %q %v", client, buf[:n], err)
			}
		}
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		f.mu.Lock()
		n := len(f.conns)
		f.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d flows still open after the idle timeout", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestListenErrors(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	free := freePort(t, "tcp")
	_, err = Listen([]pod.HostPort{
		{HostIP: lo, HostPort: free, ContainerPort: 1, Protocol: pod.ProtocolTCP},
		{HostIP: lo, HostPort: port, ContainerPort: 1, Protocol: pod.ProtocolTCP},
	})
	if err == nil || !strings.Contains(err.Error(), "hostPort "+strconv.Itoa(port)+"/TCP") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("busy port: %v", err)
	}
	// The first listener was closed again.
	if l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(free)); err != nil {
		t.Errorf("first port still bound after the failure: %v", err)
	} else {
		l.Close()
	}
	msg := bindError(pod.HostPort{HostPort: 80, Protocol: pod.ProtocolTCP}, netip.AddrPortFrom(lo, 80), &net.OpError{Err: os.NewSyscallError("bind", syscall.EACCES)}).Error()
	if !strings.Contains(msg, UnprivilegedPortSysctl) || !strings.Contains(msg, "hostPort 80/TCP") {
		t.Errorf("low port message %q", msg)
	}
}
