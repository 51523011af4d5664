package main

// Detached pods (`sandbox run -d`). The CLI stays daemonless: `run -d`
// re-executes the binary as the pod's own supervisor (the role conmon plays
// for Podman) in a session of its own, with stdio on /dev/null, SIGHUP
// ignored and the state kept after the pod ends (until `sandbox rm`). The
// validated manifest goes to it over a pipe (fd 3), so the file is read
// once; the supervisor answers on a second pipe (fd 4), one line each:
//
//	warning <message>   a warning meant for the user (before the start only)
//	ok                  every app container has started (postStart done)
//	error <message>     the pod failed before it started
//
// `run -d` prints the pod's name after "ok" and exits 125 after "error" or
// when the pipe closes without an answer.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/pod"
	"github.com/podsandbox/sandbox/supervisor"
)

type detachFlags struct {
	detach bool
	// child is the hidden flag of the re-executed supervisor.
	child bool
}

func addDetachFlags(cmd *cobra.Command, d *detachFlags) {
	cmd.Flags().BoolVarP(&d.detach, "detach", "d", false, "run the pod in the background: print its name once its containers started; see sandbox ps, logs, exec, stop, rm")
	cmd.Flags().BoolVar(&d.child, "detached-supervisor", false, "internal: be the supervisor of a detached pod")
	cmd.Flags().MarkHidden("detached-supervisor")
}

// runDetach is `run -d` (the caller's side) or, with the hidden flag, the
// detached supervisor.
func runDetach(g *globalFlags, f *runFlags, d *detachFlags, path string) error {
	if d.child {
		return superviseDetached(f)
	}
	log := logger(g)
	p, err := loadPod(g, f, path)
	if err != nil {
		return err
	}
	data, err := json.Marshal(p)
	if err != nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: err}
	}
	podR, podW, err := os.Pipe()
	if err != nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: err}
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: err}
	}
	args := []string{"run", "--detached-supervisor", "--cgroup-parent=" + f.cgroupParent,
		"--pids-limit=" + strconv.FormatInt(f.pidsLimit, 10)}
	if f.strict {
		args = append(args, "--strict")
	}
	if f.network != "" || f.subnet != "" { // network.go
		args = append(args, "--network="+f.network, "--subnet="+f.subnet)
	}
	if f.hostLoopback {
		args = append(args, "--allow-host-loopback")
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       append([]string{"sandbox"}, append(args, "-")...),
		Env:        os.Environ(),
		Dir:        "/",
		ExtraFiles: []*os.File{podR, resW},
		// A session of its own: the terminal's hang-up and job control
		// signals never reach the supervisor.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	podR.Close()
	resW.Close()
	if err != nil {
		podW.Close()
		resR.Close()
		return &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("start the pod's supervisor: %w", err)}
	}
	go func() {
		podW.Write(data)
		podW.Close()
	}()
	defer resR.Close()
	sc := bufio.NewScanner(resR)
	for sc.Scan() {
		kind, msg, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "warning":
			log.Warn(msg)
		case "ok":
			cmd.Process.Release() // it outlives us; init or a subreaper reaps it
			fmt.Println(p.Metadata.Name)
			return nil
		case "error":
			cmd.Wait()
			return &exitError{code: supervisor.ExitSandboxFailed, err: errors.New(msg)}
		}
	}
	cmd.Wait()
	return &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("pod %s: the detached supervisor exited before the pod started (%v)", p.Metadata.Name, cmd.ProcessState)}
}

// loadPod loads, defaults and validates a manifest as `run` does.
func loadPod(g *globalFlags, f *runFlags, path string) (*pod.Pod, error) {
	p, warnings, err := pod.Load(path)
	if err == nil {
		err = applyNetworkFlags(p, f.network, f.subnet, f.hostLoopback) // network.go
	}
	if err != nil {
		return nil, &exitError{code: supervisor.ExitSandboxFailed, err: err}
	}
	for _, w := range warnings {
		if f.strict {
			return nil, &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("%s: %s (--strict)", path, w)}
		}
		logger(g).Warn(fmt.Sprintf("%s: %s", path, w))
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return nil, &exitError{code: supervisor.ExitSandboxFailed, err: fmt.Errorf("invalid pod %s:\n%w", path, indent(err))}
	}
	return p, nil
}

// superviseDetached is the detached supervisor: it runs the pod until it
// ends or is stopped (SIGTERM or SIGINT: graceful stop) and keeps its state.
func superviseDetached(f *runFlags) error {
	podIn, result := os.NewFile(3, "pod"), os.NewFile(4, "result")
	if podIn == nil || result == nil {
		return &exitError{code: supervisor.ExitSandboxFailed, err: errors.New("--detached-supervisor is internal to run -d")}
	}
	var mu sync.Mutex
	answered := false
	answer := func(kind, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if answered {
			return
		}
		fmt.Fprintf(result, "%s %s\n", kind, strings.ReplaceAll(msg, "\n", "; "))
		if kind != "warning" {
			answered = true
			result.Close()
		}
	}
	data, err := io.ReadAll(io.LimitReader(podIn, pod.MaxManifestBytes+1))
	podIn.Close()
	if err != nil {
		answer("error", "read the pod: "+err.Error())
		return &exitError{code: supervisor.ExitSandboxFailed}
	}
	p, _, err := pod.Decode(data)
	if err == nil {
		p.SetDefaults()
		err = p.Validate()
	}
	if err != nil {
		answer("error", "pod: "+err.Error())
		return &exitError{code: supervisor.ExitSandboxFailed}
	}

	// The terminal that started us may go away: its SIGHUP means nothing
	// to a detached pod.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			cancel()
		}
	}()
	opts := supervisor.Options{
		Stdout:    io.Discard,
		Stderr:    io.Discard,
		KeepState: true,
		Warn:      func(m string) { answer("warning", m) },
		Error:     func(m string) { answer("warning", m) },
		Ready:     func() { answer("ok", "") },
		// Resources: as for a foreground run.
		CgroupParent: f.cgroupParent, PidsLimit: f.pidsLimit, Strict: f.strict,
		GracePeriod: stopGraceOverride(p.Metadata.Name),
		Spawner:     nsenter.TakeSpawner(), // the constructor's fork server (nsenter/spawner.c)
	}
	if d, err := time.ParseDuration(os.Getenv("SANDBOX_TEST_BACKOFF")); err == nil && d > 0 {
		opts.BackoffBase, opts.BackoffMax = d, 4*d // test-only, as for run
	}
	code, err := supervisor.Run(ctx, p, opts)
	switch {
	case err != nil:
		answer("error", err.Error())
	default:
		answer("error", fmt.Sprintf("pod %s ended before its containers started (exit code %d): see sandbox ps %s", p.Metadata.Name, code, p.Metadata.Name))
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// stopGraceFile, in a pod's state directory, holds the grace period in
// seconds that `sandbox stop -t` asked for; the supervisor reads it when
// SIGTERM arrives.
const stopGraceFile = "stop-grace-seconds"

// stopGraceOverride returns the supervisor's GracePeriod hook for pod name.
func stopGraceOverride(name string) func() (time.Duration, bool) {
	return func() (time.Duration, bool) {
		base, err := state.BaseDir()
		if err != nil {
			return 0, false
		}
		data, err := os.ReadFile(filepath.Join(base, name, stopGraceFile))
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || n < 0 || n > pod.MaxGracePeriodSeconds {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
}
