package portfwd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DialTimeout bounds one dial inside the pod (a full accept backlog makes
// the kernel retry the SYN for a while).
const DialTimeout = 5 * time.Second

// HelperMain is the dialler, run by package roles in a process that the
// nsenter constructor (role netns) put into the pod's user and network
// namespaces. Its control socket is fd 3 (SOCK_SEQPACKET): it announces
// "ready", then answers each request "<id> tcp|udp <port>" with
// "<id> ok" and the dialled socket's fd (SCM_RIGHTS), or "<id> error <msg>".
// It exits when the supervisor closes the socket (or dies). It never
// returns.
func HelperMain() {
	f := os.NewFile(3, "portfwd-control")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox portfwd helper: control socket: %v\n", err)
		os.Exit(125)
	}
	ctl, ok := c.(*net.UnixConn)
	if !ok {
		os.Exit(125)
	}
	if _, err := ctl.Write([]byte("ready")); err != nil {
		os.Exit(125)
	}
	buf := make([]byte, 256)
	for {
		n, err := ctl.Read(buf)
		if err != nil || n == 0 {
			os.Exit(0)
		}
		go serve(ctl, string(buf[:n]))
	}
}

func serve(ctl *net.UnixConn, req string) {
	f := strings.Fields(req)
	if len(f) != 3 {
		return
	}
	id := f[0]
	port, err := strconv.Atoi(f[2])
	if err != nil {
		ctl.Write([]byte(id + " error bad port"))
		return
	}
	file, err := dialInPod(f[1], port, os.Getenv(envPodAddr))
	if err != nil {
		ctl.Write([]byte(id + " error " + err.Error()))
		return
	}
	defer file.Close()
	if _, _, err := ctl.WriteMsgUnix([]byte(id+" ok"), unix.UnixRights(int(file.Fd())), nil); err != nil {
		os.Exit(0) // the supervisor is gone
	}
}

// dialInPod connects to the port in the pod: on its own address first when
// it has one (podAddr, eth0 of a bridge pod: where Kubernetes delivers a
// hostPort), then, for TCP when refused there, on its loopback: 127.0.0.1,
// then ::1 (a server bound to ::1 only).
func dialInPod(proto string, port int, podAddr string) (*os.File, error) {
	var network string
	switch proto {
	case "tcp", "udp":
		network = proto
	default:
		return nil, fmt.Errorf("unknown protocol %q", proto)
	}
	targets := []string{"127.0.0.1", "::1"}
	if podAddr != "" {
		targets = append([]string{podAddr}, targets...)
	}
	if network == "udp" {
		targets = targets[:1] // connectionless: no refusal to fall back on
	}
	var conn net.Conn
	var err, first error
	for _, host := range targets {
		conn, err = net.DialTimeout(network, net.JoinHostPort(host, strconv.Itoa(port)), DialTimeout)
		if first == nil {
			first = err
		}
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
	}
	if err != nil {
		return nil, first // the first target's refusal names the address that matters
	}
	defer conn.Close()
	return conn.(interface{ File() (*os.File, error) }).File()
}
