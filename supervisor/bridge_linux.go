package supervisor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/internal/idmap"
	"github.com/podsandbox/sandbox/internal/lockfile"
	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/netsetup"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/usernet"
)

// Bridge networking. One network holder per user (per state base): a
// process holding a network namespace with the bridge sbx0 (rootless, also a
// user namespace with the same id map as pods). Rootless, every pod's pause
// is cloned from inside the holder's user namespace (nsenter role nest), so
// the holder's root has CAP_NET_ADMIN over the pod's network namespace and
// can create the pod's veth end directly in it. As root the pause is created
// as usual and the holder is a network namespace only; the bridge is never
// in the host's network namespace.
//
// Files in <state base>-net/: holder.lock (flock LOCK_EX while the holder is
// started, stopped, or an address is leased), users.lock (LOCK_SH held by
// every supervisor with a bridge pod, so the last one out can tell by
// LOCK_EX|LOCK_NB and stop the holder; a killed supervisor's lock goes with
// it), holder.json (the holder's identity and subnet), leases/<ip> (the
// supervisor owning the address; reclaimed when it is dead) and leases/next
// (where the round-robin search for a free address starts).

type bridgeNet struct {
	dir     string
	subnet  netip.Prefix
	gateway netip.Addr
	ip      netip.Addr
	lease   string
	users   *os.File // LOCK_SH for the pod's lifetime
	holder  holderRecord
	pidfd   *os.File // of the holder
	nested  bool     // rootless: the pause is cloned inside the holder
}

type holderRecord struct {
	Process state.Process `json:"process"`
	Subnet  string        `json:"subnet"`
	UserNS  bool          `json:"userns"`
	// Outbound access (usernet): the tool's name, its keeper and the
	// tool itself; empty without.
	Outbound string        `json:"outbound,omitempty"`
	Keeper   state.Process `json:"keeper,omitzero"`
	Tool     state.Process `json:"tool,omitzero"`
}

type leaseRecord struct {
	Pod        string        `json:"pod"`
	Supervisor state.Process `json:"supervisor"`
}

func netDir(stateDir string) string {
	base := filepath.Dir(stateDir)
	return base + "-net"
}

// setupBridge makes sure the holder runs and leases the pod's address; it
// runs before the pause exists.
func (s *sandbox) setupBridge() error {
	if s.opts.KeepID {
		return errors.New("--network bridge cannot be combined with --keep-id")
	}
	b := &bridgeNet{dir: netDir(s.state.Dir), subnet: s.pod.Subnet()}
	b.gateway = b.subnet.Addr().Next()
	b.nested = os.Geteuid() != 0
	if err := os.MkdirAll(filepath.Join(b.dir, "leases"), 0o700); err != nil {
		return fmt.Errorf("network state: %w", err)
	}
	glock, err := lockfile.Lock(filepath.Join(b.dir, "holder.lock"), unix.LOCK_EX)
	if err != nil {
		return fmt.Errorf("network state: %w", err)
	}
	defer glock.Close()
	if b.users, err = lockfile.Lock(filepath.Join(b.dir, "users.lock"), unix.LOCK_SH); err != nil {
		return fmt.Errorf("network state: %w", err)
	}
	s.bridge = b // from here on, releaseBridge undoes what was done
	var rec holderRecord
	if data, err := os.ReadFile(filepath.Join(b.dir, "holder.json")); err == nil && json.Unmarshal(data, &rec) == nil && rec.Process.Alive() {
		if rec.Subnet != b.subnet.String() {
			return fmt.Errorf("--network bridge: the network holder (pid %d) runs subnet %s, this pod asks for %s: every pod of a user shares one bridge", rec.Process.PID, rec.Subnet, b.subnet)
		}
		b.holder = rec
	} else if err := s.startHolder(b); err != nil {
		return err
	}
	fd, err := unix.PidfdOpen(b.holder.Process.PID, 0)
	if err != nil {
		return fmt.Errorf("network holder: %w", err)
	}
	b.pidfd = os.NewFile(uintptr(fd), "holder-pidfd")
	if !b.holder.Process.Alive() {
		return errors.New("network holder exited")
	}
	return s.leaseAddress(b)
}

// startHolder starts the network holder (the pause program: it holds its
// namespaces and does nothing) in a session of its own and without a
// parent-death signal, so it outlives this supervisor while other pods use
// it, then creates the bridge in it.
func (s *sandbox) startHolder(b *bridgeNet) error {
	os.RemoveAll(filepath.Join(b.dir, "leases"))
	if err := os.Mkdir(filepath.Join(b.dir, "leases"), 0o700); err != nil {
		return fmt.Errorf("network state: %w", err)
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer syncR.Close()
	waitR, waitW, err := os.Pipe()
	if err != nil {
		syncW.Close()
		return err
	}
	defer waitW.Close()
	flags := uintptr(unix.CLONE_NEWNET)
	if s.plan.userns && b.nested {
		flags |= unix.CLONE_NEWUSER
	}
	cmd := &exec.Cmd{
		Path:        s.opts.Exe,
		Args:        []string{"sandbox-netholder"},
		Env:         pauseEnv([]string{nsenter.EnvRole + "=" + nsenter.RolePause, nsenter.EnvSyncFD + "=3", nsenter.EnvWaitFD + "=4"}),
		Dir:         "/",
		ExtraFiles:  []*os.File{syncW, waitR},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Cloneflags: flags},
	}
	err = cmd.Start()
	syncW.Close()
	waitR.Close()
	if err != nil {
		return fmt.Errorf("start the network holder: %w%s", err, usernsHint(err))
	}
	go cmd.Wait() // reap it if it ends while we run
	kill := func(err error) error {
		cmd.Process.Kill()
		return err
	}
	if flags&unix.CLONE_NEWUSER != 0 {
		if err := idmap.Apply(cmd.Process.Pid, s.plan.mapping); err != nil {
			return kill(fmt.Errorf("network holder: write id maps: %w", err))
		}
	}
	waitW.Close()
	if _, err := nsenter.ReadReport(syncR); err != nil {
		return kill(fmt.Errorf("start the network holder: %w", err))
	}
	id, err := state.Identify(cmd.Process.Pid)
	if err != nil {
		return kill(err)
	}
	b.holder = holderRecord{Process: id, Subnet: b.subnet.String(), UserNS: flags&unix.CLONE_NEWUSER != 0}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		return kill(err)
	}
	pidfd := os.NewFile(uintptr(fd), "holder-pidfd")
	defer pidfd.Close()
	gw := netip.PrefixFrom(b.gateway, b.subnet.Bits())
	// Outbound access: a user-mode network stack, if one can run; without
	// it the bridge works for pod-to-pod and hostPort, with one warning.
	plan, noOutbound := usernet.Choose(b.subnet)
	jobArgs := []string{gw.String()}
	if noOutbound == nil && plan.Tool.Path != "" {
		jobArgs = append(jobArgs, usernet.TapName, plan.Gateway.String())
	}
	if err := runNetJob(s.opts.Exe, pidfd, b.holder.UserNS, "bridge", jobArgs...); err != nil {
		return kill(fmt.Errorf("network holder: %w", err))
	}
	if len(jobArgs) > 1 {
		k, err := plan.Start(s.opts.Exe, b.dir, id.PID, pidfd, b.holder.UserNS)
		if err != nil {
			noOutbound = fmt.Errorf("no outbound access for bridge pods: %w; pods still reach each other and hostPorts work", err)
		} else {
			b.holder.Outbound = plan.Tool.Name
			b.holder.Keeper, _ = state.Identify(k.KeeperPID)
			b.holder.Tool, _ = state.Identify(k.ToolPID)
			defer s.opts.Explain(fmt.Sprintf("outbound: %s (pid %d, kept by pid %d) with %s %s in the network holder, default route via %s (the host's 127.0.0.1); forwarding and masquerade of %s there (nftables)",
				plan.Tool.Name, k.ToolPID, k.KeeperPID, usernet.TapName, plan.Uplink, plan.Gateway, b.subnet))
		}
	}
	if noOutbound != nil {
		s.opts.Warn(noOutbound.Error())
	}
	data, _ := json.Marshal(b.holder)
	if err := os.WriteFile(filepath.Join(b.dir, "holder.json"), data, 0o600); err != nil {
		return kill(err)
	}
	s.opts.Explain(fmt.Sprintf("network holder: clone(%s): pid %d, bridge %s %s", cloneFlagNames(flags), id.PID, netsetup.BridgeName, gw))
	return nil
}

// runNetJob runs a netsetup job in the holder's namespaces (nsenter role
// netns) and waits for it.
func runNetJob(exe string, holderPidfd *os.File, userns bool, job string, args ...string) error {
	nsflags := unix.CLONE_NEWNET
	if userns {
		nsflags |= unix.CLONE_NEWUSER
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer errR.Close()
	cmd := &exec.Cmd{
		Path: exe,
		Args: append([]string{"sandbox-net"}, args...),
		Env: []string{
			nsenter.EnvRole + "=" + nsenter.RoleNetNS,
			nsenter.EnvSyncFD + "=2",
			nsenter.EnvPidFD + "=3",
			nsenter.EnvNSFlags + "=" + strconv.Itoa(nsflags),
			netsetup.EnvJob + "=" + job,
			"GOMAXPROCS=1",
		},
		Dir:         "/",
		Stderr:      errW,
		ExtraFiles:  []*os.File{holderPidfd},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	if err := cmd.Start(); err != nil {
		errW.Close()
		return err
	}
	errW.Close()
	buf := make([]byte, 4096)
	n, _ := errR.Read(buf)
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(string(buf[:n]))
		msg = strings.TrimPrefix(msg, "error ")
		return fmt.Errorf("%s: %s", job, msg)
	}
	return nil
}

// leaseAddress takes the next free address of the subnet after the one
// leased last, round-robin from the gateway's successor (called with
// holder.lock held), as CNI's host-local IPAM does: the address a pod just
// released is taken again only after the others. Its old veth end may still
// exist then, until the kernel has torn the dead pod's network namespace
// down, and deleting it would wait for that. A lease whose supervisor is
// dead is free.
func (s *sandbox) leaseAddress(b *bridgeNet) error {
	self, err := state.Identify(os.Getpid())
	if err != nil {
		return err
	}
	data, _ := json.Marshal(leaseRecord{Pod: s.pod.Metadata.Name, Supervisor: self})
	first, last := b.gateway.Next(), lastAddr(b.subnet)
	nextFile := filepath.Join(b.dir, "leases", "next")
	start := first
	if saved, err := os.ReadFile(nextFile); err == nil {
		if a, err := netip.ParseAddr(strings.TrimSpace(string(saved))); err == nil && b.subnet.Contains(a) && first.Compare(a) <= 0 && a.Less(last) {
			start = a
		}
	}
	// take claims ip unless a live supervisor holds it.
	take := func(ip netip.Addr) (bool, error) {
		path := filepath.Join(b.dir, "leases", ip.String())
		if old, err := os.ReadFile(path); err == nil {
			var lr leaseRecord
			if json.Unmarshal(old, &lr) == nil && lr.Supervisor.Alive() {
				return false, nil
			}
			os.Remove(path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return false, nil
		}
		_, werr := f.Write(data)
		f.Close()
		if werr != nil {
			os.Remove(path)
			return false, werr
		}
		b.ip, b.lease = ip, path
		return true, nil
	}
	following := func(ip netip.Addr) netip.Addr {
		if ip = ip.Next(); !ip.Less(last) {
			return first
		}
		return ip
	}
	for ip := start; ; {
		ok, err := take(ip)
		if err != nil {
			return err
		}
		if ok {
			// A hint for the next pod: a lost write only costs the order.
			os.WriteFile(nextFile, []byte(following(ip).String()+"\n"), 0o600)
			return nil
		}
		if ip = following(ip); ip == start {
			return fmt.Errorf("--network bridge: no free address left in %s", b.subnet)
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a) // the broadcast address, never leased
}

// hostEnd names the holder's end of the pod's veth after its address.
func hostEnd(ip netip.Addr) string {
	a := ip.As4()
	return fmt.Sprintf("sbx%08x", binary.BigEndian.Uint32(a[:]))
}

// attachBridge gives the pod eth0 with its address, once the pause exists.
func (s *sandbox) attachBridge() error {
	b := s.bridge
	addr := netip.PrefixFrom(b.ip, b.subnet.Bits())
	args := []string{strconv.Itoa(s.pausePID), hostEnd(b.ip), addr.String(), b.gateway.String()}
	hostLoopback := "no outbound access"
	if b.holder.Outbound != "" {
		// Always said: the address's previous pod may have been allowed.
		args = append(args, "deny")
		hostLoopback = "host loopback via " + b.gateway.String() + " denied"
		if s.pod.AllowHostLoopback() {
			args[len(args)-1] = "allow"
			hostLoopback = "host loopback via " + b.gateway.String() + " allowed"
		}
	}
	if err := runNetJob(s.opts.Exe, b.pidfd, b.holder.UserNS, "attach", args...); err != nil {
		return fmt.Errorf("--network bridge: %w", err)
	}
	s.updatePod(func(r *state.Record) { r.PodIP = b.ip.String() })
	s.opts.Explain(fmt.Sprintf("bridge: veth %s on %s in the network holder, eth0 %s in the pod, default route via %s (%s)", hostEnd(b.ip), netsetup.BridgeName, addr, b.gateway, hostLoopback))
	return nil
}

// startNestedPause clones the pause from inside the holder's user and network
// namespaces (nsenter role nest). Like startPause, the goroutine that starts
// it stays locked to its thread while the pause lives: its parent-death
// signal is tied to that thread.
func (s *sandbox) startNestedPause() error {
	b := s.bridge
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start pause: %w", err)
	}
	defer syncR.Close()
	flags := unix.CLONE_NEWUSER | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWPID | unix.CLONE_NEWUTS
	identity := func(rs []idmap.Range) string {
		var lines []string
		for _, r := range rs {
			lines = append(lines, fmt.Sprintf("%d %d %d", r.ContainerID, r.ContainerID, r.Size))
		}
		return strings.Join(lines, "\n") + "\n"
	}
	cmd := &exec.Cmd{
		Path: s.opts.Exe,
		Args: []string{"pause"},
		Env: pauseEnv([]string{
			nsenter.EnvRole + "=" + nsenter.RoleNest,
			nsenter.EnvSyncFD + "=3",
			nsenter.EnvPidFD + "=4",
			nsenter.EnvNSFlags + "=" + strconv.Itoa(unix.CLONE_NEWUSER|unix.CLONE_NEWNET),
			nsenter.EnvCloneFlags + "=" + strconv.Itoa(flags),
			nsenter.EnvUIDMap + "=" + identity(s.plan.mapping.UIDs),
			nsenter.EnvGIDMap + "=" + identity(s.plan.mapping.GIDs),
		}),
		Dir:        "/",
		ExtraFiles: []*os.File{syncW, b.pidfd},
	}
	started, pidCh := make(chan error, 1), make(chan int, 1)
	s.pauseDone = make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			s.pauseDone <- err
			return
		}
		started <- nil
		cmd.Wait()
		pid, ok := <-pidCh
		if !ok {
			s.pauseDone <- errors.New("never started")
			return
		}
		s.pauseDone <- waitChild(pid) // spawn_linux.go
	}()
	err = <-started
	syncW.Close()
	if err != nil {
		close(pidCh)
		return fmt.Errorf("start pause: %w", err)
	}
	rep, err := nsenter.ReadReport(syncR)
	if rep.PID <= 0 {
		close(pidCh)
		if err == nil {
			err = errors.New("no pid reported")
		}
		return fmt.Errorf("start pause in the network holder: %w", err)
	}
	pidCh <- rep.PID
	proc, ferr := os.FindProcess(rep.PID)
	if ferr != nil {
		return ferr
	}
	s.pause, s.pausePID = &exec.Cmd{Process: proc}, rep.PID
	if err != nil {
		return fmt.Errorf("start pause in the network holder: %w", err)
	}
	return s.adoptPause(-1, fmt.Sprintf("setns(pidfd of the network holder, CLONE_NEWUSER|CLONE_NEWNET), clone(%s|CLONE_PARENT) + exec; id maps written from the holder: uid %v, gid %v",
		cloneFlagNames(uintptr(flags)), s.plan.mapping.UIDs, s.plan.mapping.GIDs))
}

// podIP is the pod's address on the bridge, leased before the pause exists
// (setupBridge), or "" without one: its /etc/hosts names it, and the
// container's filesystem may be built before eth0 is attached.
func (s *sandbox) podIP() string {
	if s.bridge == nil || !s.bridge.ip.IsValid() {
		return ""
	}
	return s.bridge.ip.String()
}

// watchHolder returns a channel closed if the network holder exits while
// the pod runs, and the function that ends the watch (before releaseBridge
// closes the holder's pidfd). No other pod stops the holder while this one
// holds users.lock, so its exit means it crashed or was killed.
func (s *sandbox) watchHolder() (<-chan struct{}, func()) {
	if s.bridge == nil || s.bridge.pidfd == nil {
		return nil, func() {}
	}
	stopR, stopW, err := os.Pipe()
	if err != nil {
		return nil, func() {}
	}
	died, done := make(chan struct{}), make(chan struct{})
	holder := int32(s.bridge.pidfd.Fd())
	go func() {
		defer close(done)
		defer stopR.Close()
		fds := []unix.PollFd{{Fd: holder, Events: unix.POLLIN}, {Fd: int32(stopR.Fd()), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if fds[1].Revents == 0 && fds[0].Revents&unix.POLLIN != 0 { // a pidfd is readable once its process exited
			close(died)
		}
	}()
	return died, func() { stopW.Close(); <-done }
}

// releaseBridge frees the pod's address and, when no other pod uses the
// bridge, stops the holder. It runs after the pause is dead (its veth went
// with its network namespace).
func (s *sandbox) releaseBridge() {
	b := s.bridge
	if b == nil {
		return
	}
	s.bridge = nil
	if b.pidfd != nil {
		b.pidfd.Close()
	}
	if b.lease != "" {
		os.Remove(b.lease)
	}
	if b.users != nil {
		b.users.Close()
	}
	if err := stopIdleHolder(b.dir); err != nil {
		s.opts.Warn(err.Error())
	}
}

// stopIdleHolder stops the network holder of dir when no supervisor holds
// users.lock. It is what the last pod, `sandbox gc` and a failed start
// call.
func stopIdleHolder(dir string) error {
	glock, err := lockfile.Lock(filepath.Join(dir, "holder.lock"), unix.LOCK_EX)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("network state: %w", err)
	}
	defer glock.Close()
	users, err := lockfile.Lock(filepath.Join(dir, "users.lock"), unix.LOCK_EX|unix.LOCK_NB)
	if err != nil {
		return nil // another pod still uses the bridge
	}
	defer users.Close()
	var rec holderRecord
	if data, err := os.ReadFile(filepath.Join(dir, "holder.json")); err == nil && json.Unmarshal(data, &rec) == nil {
		// The holder is killed and waited for (a fraction of a
		// millisecond), the tool only killed: pasta takes ≈ 35 ms to exit
		// after SIGKILL (it frees tens of MB of buffers), which would double
		// a lone bridge pod's teardown, and nothing depends on its last
		// milliseconds. The keeper, its parent, reaps it and exits: it
		// watches both (killing the keeper instead would leave the tool a
		// zombie for the host's init).
		killAndWait(rec.Process)
		kill(rec.Tool)
	}
	os.Remove(filepath.Join(dir, "holder.json"))
	os.Remove(usernet.PidFile(dir))
	os.RemoveAll(filepath.Join(dir, "leases"))
	return nil
}

// CleanupNetwork stops the network holder under the state base when no pod
// uses it any more (after supervisors were killed); for `sandbox gc`.
func CleanupNetwork(base string) error {
	return stopIdleHolder(base + "-net")
}

// killAndWait sends SIGKILL to p if it is still the recorded process and
// waits (up to 2 s) until it has exited.
func killAndWait(p state.Process) {
	if state.Exiting(p.PID) {
		return
	}
	if fd, err := p.OpenPidfd(); err == nil {
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		state.WaitPidfd(fd, 2*time.Second)
		unix.Close(fd)
	}
}

// kill sends SIGKILL to p if it is still the recorded process.
func kill(p state.Process) {
	if state.Exiting(p.PID) {
		return
	}
	if fd, err := p.OpenPidfd(); err == nil {
		unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		unix.Close(fd)
	}
}
