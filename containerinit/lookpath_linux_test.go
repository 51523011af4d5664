package containerinit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLookPathTellsNotFoundFromCannotExecute(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("tool", 0o755)
	write("notexec", 0o644)
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cmd      string
		wantPath string
		wantCode int
	}{
		{name: "found in PATH", cmd: "tool", wantPath: filepath.Join(dir, "tool")},
		{name: "absolute path", cmd: filepath.Join(dir, "tool"), wantPath: filepath.Join(dir, "tool")},
		{name: "missing", cmd: "nope", wantCode: ExitNotFound},
		{name: "missing absolute", cmd: filepath.Join(dir, "nope"), wantCode: ExitNotFound},
		{name: "directory", cmd: filepath.Join(dir, "subdir"), wantCode: ExitCannotExecute},
		{name: "not executable in PATH", cmd: "notexec", wantCode: ExitCannotExecute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LookPath(tt.cmd, "/nonexistent:"+dir)
			if tt.wantCode == 0 {
				if err != nil || got != tt.wantPath {
					t.Fatalf("LookPath(%q) = %q, %v; want %q", tt.cmd, got, err, tt.wantPath)
				}
				return
			}
			var f *Failure
			if !errors.As(err, &f) || f.Code != tt.wantCode {
				t.Fatalf("LookPath(%q) error = %v, want a Failure with code %d", tt.cmd, err, tt.wantCode)
			}
		})
	}
}

func TestExecFailureCodes(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{unix.ENOENT, ExitNotFound},
		{unix.EACCES, ExitCannotExecute},
		{unix.ENOEXEC, ExitCannotExecute},
		{unix.E2BIG, ExitSetupFailed},
	}
	for _, tt := range tests {
		var f *Failure
		if err := ExecFailure("x", tt.err); !errors.As(err, &f) || f.Code != tt.code {
			t.Errorf("ExecFailure(%v) = %v, want code %d", tt.err, err, tt.code)
		}
	}
}

func TestEnvValueTakesTheLastDefinition(t *testing.T) {
	env := []string{"PATH=/a", "HOME=/root", "PATH=/b"}
	if got := EnvValue(env, "PATH", "/default"); got != "/b" {
		t.Errorf("EnvValue = %q, want /b", got)
	}
	if got := EnvValue(env, "TERM", "dumb"); got != "dumb" {
		t.Errorf("EnvValue of a missing key = %q, want the fallback", got)
	}
}
