package usernet

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Keeper's descriptors (set up by Start).
const (
	keeperHolderFD = 3 // pidfd of the network holder
	keeperReportFD = 4 // "ok PID" or "error MESSAGE", then closed
)

// readyTimeout bounds the wait for the tool's interface.
const readyTimeout = 10 * time.Second

// Keeper is a running keeper and its tool.
type Keeper struct {
	KeeperPID int
	ToolPID   int
}

// Start starts the keeper (exe in role RoleKeeper) for the holder whose
// pidfd is holderPidfd and waits until the tool has set up its interface in
// the holder. The keeper runs in a session of its own, without a
// parent-death signal: it outlives the calling supervisor and ends with the
// holder. Its output and the tool's go to dir/usernet.log.
func (p Plan) Start(exe, dir string, holderPID int, holderPidfd *os.File, userns bool) (Keeper, error) {
	log, err := os.OpenFile(dir+"/usernet.log", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Keeper{}, err
	}
	defer log.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		return Keeper{}, err
	}
	defer repR.Close()
	args := append([]string{"sandbox-netkeeper", p.Tool.Name, p.Tool.Path, dir}, p.Args(holderPID, userns, dir, 3)...)
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        args,
		Env:         []string{"_SANDBOX_ROLE=" + RoleKeeper, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Dir:         "/",
		Stdout:      log,
		Stderr:      log,
		ExtraFiles:  []*os.File{holderPidfd, repW},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	os.Remove(PidFile(dir))
	err = cmd.Start()
	repW.Close()
	if err != nil {
		return Keeper{}, fmt.Errorf("start %s: %w", p.Tool.Name, err)
	}
	go cmd.Wait() // reap it if it ends while we run
	line, _ := bufio.NewReader(repR).ReadString('\n')
	kind, msg, _ := strings.Cut(strings.TrimSpace(line), " ")
	if kind == "ok" {
		pid, err := strconv.Atoi(msg)
		if err == nil {
			return Keeper{KeeperPID: cmd.Process.Pid, ToolPID: pid}, nil
		}
	}
	cmd.Process.Kill()
	if kind != "error" || msg == "" {
		msg = "exited without a report"
	}
	return Keeper{}, fmt.Errorf("%s: %s (log: %s/usernet.log)", p.Tool.Name, msg, dir)
}

// KeeperMain runs the keeper: argv is sandbox-netkeeper NAME PATH DIR
// ARGS...; it starts the tool as its child with a parent-death signal,
// reports when it is ready, and kills it once the holder exits. Never
// returns.
func KeeperMain() {
	runtime.LockOSThread() // the tool's parent-death signal is tied to this thread
	report := os.NewFile(keeperReportFD, "report")
	fail := func(err error) {
		if report != nil {
			fmt.Fprintf(report, "error %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		fmt.Fprintln(os.Stderr, "sandbox-netkeeper:", err)
		os.Exit(1)
	}
	if len(os.Args) < 4 {
		fail(errors.New("usage: sandbox-netkeeper NAME PATH DIR ARGS..."))
	}
	name, path, dir := os.Args[1], os.Args[2], os.Args[3]
	holder := keeperHolderFD
	cmd := &exec.Cmd{
		Path:        path,
		Args:        append([]string{name}, os.Args[4:]...),
		Env:         []string{EnvMarker + "=" + strconv.Itoa(os.Getpid())},
		Dir:         "/",
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	var readyR *os.File
	if name == "slirp4netns" {
		r, w, err := os.Pipe()
		if err != nil {
			fail(err)
		}
		readyR = r
		cmd.ExtraFiles = []*os.File{w} // fd 3: --ready-fd=3
		defer w.Close()
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	if len(cmd.ExtraFiles) > 0 {
		cmd.ExtraFiles[0].Close()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ready := make(chan error, 1)
	if readyR != nil {
		go func() {
			b := make([]byte, 1)
			_, err := readyR.Read(b) // slirp4netns writes "1"
			ready <- err
		}()
	} else {
		go func() {
			for {
				if data, err := os.ReadFile(PidFile(dir)); err == nil && len(data) > 0 {
					ready <- nil
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	holderGone := make(chan struct{})
	go func() {
		fds := []unix.PollFd{{Fd: int32(holder), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err == nil || !errors.Is(err, unix.EINTR) {
				break
			}
		}
		close(holderGone)
	}()
	timeout := time.NewTimer(readyTimeout)
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			fail(fmt.Errorf("not ready: %v", err))
		}
		fmt.Fprintf(report, "ok %d\n", cmd.Process.Pid)
		report.Close()
		report = nil
	case err := <-exited:
		fail(fmt.Errorf("exited before its interface was ready: %v", err))
	case <-holderGone:
		cmd.Process.Kill()
		fail(errors.New("the network holder exited"))
	case <-timeout.C:
		cmd.Process.Kill()
		fail(fmt.Errorf("its interface was not ready after %v", readyTimeout))
	}
	select {
	case <-holderGone:
		cmd.Process.Kill()
		<-exited
		os.Exit(0)
	case err := <-exited:
		fmt.Fprintf(os.Stderr, "sandbox-netkeeper: %s exited: %v; bridge pods have no outbound access until the network holder restarts\n", name, err)
		os.Exit(1)
	}
}
