package nsenter

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestReadReport(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Report
		wantErr string
	}{
		{name: "pause ready", input: "ok\n", want: Report{OK: true}},
		{name: "join pid then ok", input: "pid 42\nok\n", want: Report{PID: 42, OK: true}},
		{name: "join ok before pid", input: "ok\npid 42\n", want: Report{PID: 42, OK: true}},
		{name: "constructor error", input: "error setns: Operation not permitted\n", wantErr: "setns: Operation not permitted"},
		{name: "exit before ready", input: "pid 7\n", wantErr: "exited before it was ready"},
		{name: "empty", input: "", wantErr: "exited before it was ready"},
		{name: "garbage pid", input: "pid x\nok\n", wantErr: "bad pid report"},
		{name: "unknown line", input: "hello\n", wantErr: "unexpected report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadReport(strings.NewReader(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSetup) {
					t.Fatalf("ReadReport(%q) error = %v, want one containing %q wrapping ErrSetup", tt.input, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadReport(%q) = %+v, %v; want %+v", tt.input, got, err, tt.want)
			}
		})
	}
}

// The fork server gives a spawned join what cmd.Start would, or nothing:
// anything else makes Start leave the command to an exec (ErrNoSpawner).
func TestSpawnFlagsRefuseWhatTheSpawnerCannotGive(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cmd   exec.Cmd
		flags uint32
		ok    bool
	}{
		{"plain", exec.Cmd{Dir: "/"}, 0, true},
		{"session", exec.Cmd{Dir: "/", SysProcAttr: &syscall.SysProcAttr{Setsid: true}}, spawnSetsid, true},
		{"process group", exec.Cmd{Dir: "/", SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}, spawnSetpgid, true},
		{"another directory", exec.Cmd{Dir: "/tmp"}, 0, false},
		{"a terminal", exec.Cmd{Dir: "/", SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Foreground: true}}, 0, false},
		{"credentials", exec.Cmd{Dir: "/", SysProcAttr: &syscall.SysProcAttr{Credential: &syscall.Credential{}}}, 0, false},
		{"a parent-death signal", exec.Cmd{Dir: "/", SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags, err := spawnFlags(&tc.cmd)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrNoSpawner)) || flags != tc.flags {
				t.Errorf("spawnFlags = %#x, %v; want %#x, ok %v", flags, err, tc.flags, tc.ok)
			}
		})
	}
	var none *Spawner
	if err := none.Start(&exec.Cmd{Dir: "/"}); !errors.Is(err, ErrNoSpawner) {
		t.Errorf("Start without a spawner: %v, want ErrNoSpawner", err)
	}
	none.Close() // no-op
	if TakeSpawner() != nil {
		t.Error("a test binary has a fork server: only the sandbox CLI may")
	}
}
