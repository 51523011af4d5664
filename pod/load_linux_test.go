package pod

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLoadRefusesSpecialFilesWithoutHanging(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pod.fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "pod.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	tests := []struct{ name, path, want string }{
		{"FIFO", fifo, "is a named pipe (FIFO), expected a regular file"},
		{"device", "/dev/zero", "is a device, expected a regular file"},
		{"socket", sock, "is a socket, expected a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, _, err := Load(tc.path)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegularFile) || !strings.Contains(err.Error(), tc.want) ||
					!strings.HasPrefix(err.Error(), "parse "+tc.path+": ") {
					t.Fatalf("got %v, want %q", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Load(%s) still running after 5s", tc.path)
			}
		})
	}
}
