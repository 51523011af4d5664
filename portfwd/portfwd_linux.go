// Package portfwd publishes a pod's hostPorts the way rootlesskit's builtin
// port driver does: the listening sockets live in the host's network
// namespace, owned by the supervisor, and every connection (or UDP flow) is
// dialled from inside the pod's network namespace by a small helper process
// that joined the pod's user and network namespaces (nsenter role netns).
// The helper passes each dialled socket back over a unix socket
// (SCM_RIGHTS); the supervisor then copies between the two sockets, which for
// TCP is splice(2) (io.Copy between *net.TCPConn), with a small send buffer
// on each socket whose peer is on this host (LocalSendBuffer). The dialler connects to
// the pod's own address on a bridge (then, for TCP, its loopback) and to its
// loopback otherwise.
package portfwd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/pod"
)

// envPodAddr passes Forwarder.PodAddr to the dialler ("" when unset).
const envPodAddr = "_SANDBOX_PORTFWD_POD_ADDR"

func podAddrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// Defaults of a Forwarder.
const (
	// UDPIdleTimeout ends a UDP flow nobody sent anything on for this long.
	UDPIdleTimeout = 60 * time.Second
	// MaxUDPFlows caps concurrent UDP flows per published port.
	MaxUDPFlows = 1024
)

// UnprivilegedPortSysctl is the sysctl below which binding needs privileges.
const UnprivilegedPortSysctl = "net.ipv4.ip_unprivileged_port_start"

// dialFunc returns a socket connected to port inside the pod.
type dialFunc func(proto pod.Protocol, port int) (*os.File, error)

// Forwarder owns a pod's host listeners and its dialler.
type Forwarder struct {
	// Error receives problems of single connections (the dial failed);
	// nil drops them.
	Error func(msg string)
	// UDPIdle is the idle timeout of a UDP flow; 0 is UDPIdleTimeout.
	UDPIdle time.Duration
	// PodAddr, when valid, is the pod's own address (eth0 of a bridge
	// pod): connections are dialled to it first, as Kubernetes' portmap
	// DNATs a hostPort to the pod IP. TCP falls back to the pod's loopback
	// when nothing listens there; UDP, which cannot tell, uses it only.
	// Unset, the pod's loopback is dialled (a pod with only lo).
	PodAddr netip.Addr

	ports []pod.HostPort
	tcp   []*net.TCPListener // ports[i] for TCP, nil otherwise
	udp   []*net.UDPConn

	dial   dialFunc
	helper *exec.Cmd
	ctl    *net.UnixConn

	mu      sync.Mutex
	closed  bool
	conns   map[io.Closer]struct{}
	pending map[uint64]chan reply
	nextID  uint64
	dead    error // the helper is gone
	wg      sync.WaitGroup
}

type reply struct {
	file *os.File
	err  error
}

// Listen opens every host socket. It fails, with nothing left open, on the
// first port that cannot be bound, naming it: already in use, or below
// net.ipv4.ip_unprivileged_port_start without privileges.
func Listen(ports []pod.HostPort) (*Forwarder, error) {
	f := &Forwarder{ports: ports, tcp: make([]*net.TCPListener, len(ports)), udp: make([]*net.UDPConn, len(ports)),
		conns: map[io.Closer]struct{}{}, pending: map[uint64]chan reply{}}
	for i, p := range ports {
		network := "4"
		switch {
		case p.HostIP.Is6() && p.HostIP.IsUnspecified():
			network = "" // dual-stack wildcard
		case p.HostIP.Is6():
			network = "6"
		}
		ap := netip.AddrPortFrom(p.HostIP, uint16(p.HostPort))
		var err error
		if p.Protocol == pod.ProtocolUDP {
			f.udp[i], err = net.ListenUDP("udp"+network, net.UDPAddrFromAddrPort(ap))
		} else {
			f.tcp[i], err = net.ListenTCP("tcp"+network, net.TCPAddrFromAddrPort(ap))
		}
		if err != nil {
			f.closeListeners()
			return nil, bindError(p, ap, err)
		}
	}
	return f, nil
}

func bindError(p pod.HostPort, ap netip.AddrPort, err error) error {
	what := fmt.Sprintf("hostPort %d/%s on %s", p.HostPort, p.Protocol, ap.Addr())
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%s: address already in use (another process listens on %s)", what, ap)
	case errors.Is(err, syscall.EACCES):
		start := "1024"
		if data, rerr := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); rerr == nil {
			start = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s: permission denied: ports below %s (sysctl %s) need privileges: use a hostPort of at least %s or lower the sysctl", what, start, UnprivilegedPortSysctl, start)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%s: the host has no address %s", what, ap.Addr())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Ports returns what is published.
func (f *Forwarder) Ports() []pod.HostPort { return f.ports }

// Start starts the dialler in the pod's namespaces (exe re-executed in role
// netns with pidfd, a pidfd of the pause, and nsflags, CLONE_NEWNET plus
// CLONE_NEWUSER when the pod has a user namespace), waits until it is ready,
// then starts serving every port.
func (f *Forwarder) Start(exe string, pidfd *os.File, nsflags int) error {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("hostPort forwarder: socketpair: %w", err)
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "portfwd-control"), os.NewFile(uintptr(fds[1]), "portfwd-helper")
	defer theirs.Close()
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return fmt.Errorf("hostPort forwarder: %w", err)
	}
	ctl := c.(*net.UnixConn)
	cmd := &exec.Cmd{
		Path: exe,
		Args: []string{"sandbox-portfwd"},
		Env: []string{
			nsenter.EnvRole + "=" + nsenter.RoleNetNS,
			nsenter.EnvSyncFD + "=3",
			nsenter.EnvPidFD + "=4",
			nsenter.EnvNSFlags + "=" + strconv.Itoa(nsflags),
			envPodAddr + "=" + podAddrString(f.PodAddr),
			"GOMAXPROCS=2",
		},
		Dir:         "/",
		ExtraFiles:  []*os.File{theirs, pidfd},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	if err := cmd.Start(); err != nil {
		ctl.Close()
		return fmt.Errorf("hostPort forwarder: start the dialler: %w", err)
	}
	theirs.Close()
	fail := func(err error) error {
		ctl.Close()
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("hostPort forwarder: %w", err)
	}
	buf := make([]byte, 512)
	ctl.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := ctl.Read(buf)
	ctl.SetReadDeadline(time.Time{})
	switch {
	case err != nil:
		return fail(fmt.Errorf("the dialler did not start: %w", err))
	case strings.HasPrefix(string(buf[:n]), "error "):
		return fail(fmt.Errorf("the dialler could not join the pod: %s", strings.TrimSpace(strings.TrimPrefix(string(buf[:n]), "error "))))
	case string(buf[:n]) != "ready":
		return fail(fmt.Errorf("the dialler said %q", buf[:n]))
	}
	f.helper, f.ctl = cmd, ctl
	f.dial = f.helperDial
	go f.readReplies()
	f.serve()
	return nil
}

// startWith serves with another dialler (tests).
func (f *Forwarder) startWith(d dialFunc) {
	f.dial = d
	f.serve()
}

func (f *Forwarder) serve() {
	for i := range f.ports {
		f.wg.Add(1)
		if l := f.tcp[i]; l != nil {
			go f.serveTCP(l, f.ports[i])
		} else {
			go f.serveUDP(f.udp[i], f.ports[i])
		}
	}
}

// helperDial asks the dialler for a socket and waits for it.
func (f *Forwarder) helperDial(proto pod.Protocol, port int) (*os.File, error) {
	ch := make(chan reply, 1)
	f.mu.Lock()
	if f.dead != nil {
		err := f.dead
		f.mu.Unlock()
		return nil, err
	}
	f.nextID++
	id := f.nextID
	f.pending[id] = ch
	f.mu.Unlock()
	req := fmt.Sprintf("%d %s %d", id, strings.ToLower(string(proto)), port)
	if _, err := f.ctl.Write([]byte(req)); err != nil {
		f.mu.Lock()
		delete(f.pending, id)
		f.mu.Unlock()
		return nil, fmt.Errorf("dialler: %w", err)
	}
	r := <-ch
	return r.file, r.err
}

func (f *Forwarder) readReplies() {
	buf, oob := make([]byte, 1024), make([]byte, unix.CmsgSpace(4*4))
	for {
		n, oobn, _, _, err := f.ctl.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			if err == nil {
				err = io.EOF
			}
			f.mu.Lock()
			f.dead = fmt.Errorf("the dialler in the pod is gone: %w", err)
			for id, ch := range f.pending {
				ch <- reply{err: f.dead}
				delete(f.pending, id)
			}
			f.mu.Unlock()
			return
		}
		var files []*os.File
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if fds, err := unix.ParseUnixRights(&m); err == nil {
					for _, fd := range fds {
						unix.CloseOnExec(fd)
						files = append(files, os.NewFile(uintptr(fd), "pod-socket"))
					}
				}
			}
		}
		idText, rest, _ := strings.Cut(string(buf[:n]), " ")
		id, _ := strconv.ParseUint(idText, 10, 64)
		var r reply
		switch {
		case rest == "ok" && len(files) == 1:
			r.file, files = files[0], nil
		case strings.HasPrefix(rest, "error "):
			r.err = errors.New(strings.TrimPrefix(rest, "error "))
		default:
			r.err = fmt.Errorf("unexpected reply %q", buf[:n])
		}
		for _, extra := range files {
			extra.Close()
		}
		f.mu.Lock()
		ch, ok := f.pending[id]
		delete(f.pending, id)
		f.mu.Unlock()
		if ok {
			ch <- r
		} else if r.file != nil {
			r.file.Close()
		}
	}
}

func (f *Forwarder) report(format string, args ...any) {
	if f.Error != nil {
		f.Error(fmt.Sprintf(format, args...))
	}
}

// track registers a connection to close with the forwarder; false when it
// is already closed.
func (f *Forwarder) track(c io.Closer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Forwarder) untrack(c io.Closer) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *Forwarder) dialConn(proto pod.Protocol, port int) (net.Conn, error) {
	file, err := f.dial(proto, port)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return net.FileConn(file)
}

func (f *Forwarder) serveTCP(l *net.TCPListener, p pod.HostPort) {
	defer f.wg.Done()
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like
			continue
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			pc, err := f.dialConn(p.Protocol, p.ContainerPort)
			if err != nil {
				f.report("hostPort %s: connection from %s: dial port %d in the pod: %v", p, c.RemoteAddr(), p.ContainerPort, err)
				return
			}
			podConn := pc.(*net.TCPConn)
			if !f.track(podConn) {
				podConn.Close()
				return
			}
			defer f.untrack(podConn)
			podConn.SetWriteBuffer(LocalSendBuffer) // the pod is on this host
			if localPeer(c) {
				c.SetWriteBuffer(LocalSendBuffer)
			}
			splice(c, podConn)
		}()
	}
}

// LocalSendBuffer is SO_SNDBUF (the kernel doubles it) of a relayed socket
// whose peer is on this host: always the pod's end, and the host's end when
// the client is local. Autotuning grows a loopback socket's send buffer to
// tcp_wmem's maximum (4 MiB), and the relay then keeps megabytes in flight
// that leave the CPU's cache before the receiver copies them: with 128 KiB,
// bench/portfwd.sh measures 0.75-0.85 of plain loopback instead of 0.69
// (docs/BENCHMARKS.md, "hostPort throughput"; 64 and 192 KiB were slower).
// A remote client's end keeps autotuning: its bandwidth-delay product may
// need the large buffer.
const LocalSendBuffer = 128 << 10

// localPeer tells whether c's client is on this host: a loopback address,
// or the address c was accepted on (a local client dialling one of the
// host's own addresses).
func localPeer(c *net.TCPConn) bool {
	r, ok := c.RemoteAddr().(*net.TCPAddr)
	l, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok || !ok2 {
		return false
	}
	ra, _ := netip.AddrFromSlice(r.IP)
	la, _ := netip.AddrFromSlice(l.IP)
	return isLocalPeer(la.Unmap(), ra.Unmap())
}

func isLocalPeer(local, remote netip.Addr) bool {
	return remote.IsLoopback() || (remote.IsValid() && remote == local)
}

// splice copies both ways (io.Copy between two *net.TCPConn is splice(2))
// and half-closes each direction when its source ends.
func splice(a, b *net.TCPConn) {
	done := make(chan struct{})
	go func() {
		io.Copy(b, a)
		b.CloseWrite()
		close(done)
	}()
	io.Copy(a, b)
	a.CloseWrite()
	<-done
}

type udpFlow struct {
	conn *net.UDPConn
	last time.Time // last datagram from the client, under Forwarder.mu
}

func (f *Forwarder) serveUDP(host *net.UDPConn, p pod.HostPort) {
	defer f.wg.Done()
	idle := f.UDPIdle
	if idle <= 0 {
		idle = UDPIdleTimeout
	}
	flows := map[netip.AddrPort]*udpFlow{}
	var flowsMu sync.Mutex
	buf := make([]byte, 65536)
	for {
		n, client, err := host.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		flowsMu.Lock()
		fl := flows[client]
		if fl == nil && len(flows) >= MaxUDPFlows {
			flowsMu.Unlock()
			continue // dropped, as a full NAT table would
		}
		flowsMu.Unlock()
		if fl == nil {
			pc, err := f.dialConn(p.Protocol, p.ContainerPort)
			if err != nil {
				f.report("hostPort %s: datagram from %s: dial port %d in the pod: %v", p, client, p.ContainerPort, err)
				continue
			}
			fl = &udpFlow{conn: pc.(*net.UDPConn), last: time.Now()}
			if !f.track(fl.conn) {
				fl.conn.Close()
				return
			}
			flowsMu.Lock()
			flows[client] = fl
			flowsMu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer func() {
					flowsMu.Lock()
					delete(flows, client)
					flowsMu.Unlock()
					f.untrack(fl.conn)
				}()
				back := make([]byte, 65536)
				for {
					fl.conn.SetReadDeadline(time.Now().Add(idle))
					n, err := fl.conn.Read(back)
					if err != nil {
						if ne, ok := err.(net.Error); ok && ne.Timeout() {
							flowsMu.Lock()
							quiet := time.Since(fl.last) >= idle
							flowsMu.Unlock()
							if !quiet {
								continue
							}
						}
						if errors.Is(err, syscall.ECONNREFUSED) {
							continue // nothing listened (yet): ICMP port unreachable
						}
						return
					}
					if _, err := host.WriteToUDPAddrPort(back[:n], client); err != nil && errors.Is(err, net.ErrClosed) {
						return
					}
				}
			}()
		}
		flowsMu.Lock()
		fl.last = time.Now()
		flowsMu.Unlock()
		fl.conn.Write(buf[:n])
	}
}

func (f *Forwarder) closeListeners() {
	for _, l := range f.tcp {
		if l != nil {
			l.Close()
		}
	}
	for _, c := range f.udp {
		if c != nil {
			c.Close()
		}
	}
}

// Close closes every listener and connection, stops the dialler and waits
// for every goroutine. Safe to call more than once.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	conns := f.conns
	f.conns = map[io.Closer]struct{}{}
	f.mu.Unlock()
	f.closeListeners()
	for c := range conns {
		c.Close()
	}
	if f.ctl != nil {
		f.ctl.Close() // EOF: the dialler exits
	}
	f.wg.Wait()
	if f.helper != nil {
		done := make(chan struct{})
		go func() { f.helper.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			f.helper.Process.Kill()
			<-done
		}
	}
	return nil
}
