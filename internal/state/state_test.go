package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAcquireRefusesASecondHolder(t *testing.T) {
	base := t.TempDir()
	first, err := Acquire(base, "web", nil)
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	defer first.Remove()
	if err := first.Save(&Record{Name: "web", Supervisor: Process{PID: os.Getpid()}}); err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(base, "web", nil)
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second Acquire error = %v, want ErrRunning", err)
	}
}

func TestAcquireCleansStaleStateAndReportsIt(t *testing.T) {
	base := t.TempDir()
	stale, err := Acquire(base, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	dead := Process{PID: 1 << 22, StartTime: 1} // beyond pid_max: never alive
	if err := stale.Save(&Record{Name: "web", Supervisor: dead, Pause: dead}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale.Path("leftover"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale.Release() // the supervisor "died": lock gone, files stay

	var seen *Record
	p, err := Acquire(base, "web", func(r Record) { seen = &r })
	if err != nil {
		t.Fatalf("Acquire over stale state: %v", err)
	}
	if seen == nil || seen.Pause != dead {
		t.Fatalf("cleanStale got %+v, want the stale record", seen)
	}
	if _, err := os.Stat(p.Path("leftover")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale file survived Acquire: %v", err)
	}
	if err := p.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(base, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Remove left the directory: %v", err)
	}
}

func TestProcessAliveDetectsRecycledPID(t *testing.T) {
	self, err := Identify(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !self.Alive() {
		t.Fatal("own process not alive")
	}
	recycled := Process{PID: self.PID, StartTime: self.StartTime + 1}
	if recycled.Alive() {
		t.Fatal("a PID with another start time must count as a different (recycled) process")
	}
}

func TestBaseDirIgnoresXDGRuntimeDirOfAnotherUser(t *testing.T) {
	tmp := t.TempDir()
	uid := os.Geteuid() + 4242 // a uid that owns neither "/" nor tmp
	_, err := baseDir(uid, "/", tmp)
	// "/" belongs to someone else, so BaseDir must fall back to
	// tmp/sandbox-UID; as that directory is then not owned by uid either, it
	// must refuse it rather than use it.
	want := filepath.Join(tmp, "sandbox-")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("baseDir error = %v, want a refusal of %s...", err, want)
	}
	if _, statErr := os.Stat("/sandbox"); statErr == nil {
		t.Fatal("baseDir created /sandbox in a runtime dir the caller does not own")
	}
}

func TestBaseDirUsesOwnXDGRuntimeDir(t *testing.T) {
	xdg := t.TempDir()
	dir, err := baseDir(os.Geteuid(), xdg, t.TempDir())
	if os.Geteuid() == 0 {
		// root always uses /run/sandbox.
		if err != nil || dir != "/run/sandbox" {
			t.Fatalf("root: baseDir = %q, %v; want /run/sandbox", dir, err)
		}
		return
	}
	if err != nil || dir != filepath.Join(xdg, "sandbox") {
		t.Fatalf("baseDir = %q, %v; want %s", dir, err, filepath.Join(xdg, "sandbox"))
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, want 0700", st.Mode().Perm())
	}
}

func TestAcquireRefusesTheKeptStateOfAnEndedDetachedPod(t *testing.T) {
	base := t.TempDir()
	p, err := Acquire(base, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Save(&Record{Name: "web", Detached: true, Phase: PhaseSucceeded}); err != nil {
		t.Fatal(err)
	}
	p.Release()
	if _, err := Acquire(base, "web", nil); !errors.Is(err, ErrExists) {
		t.Fatalf("Acquire error = %v, want ErrExists", err)
	}
	locked, err := Lock(base, "web")
	if err != nil {
		t.Fatalf("Lock of an ended pod: %v", err)
	}
	if err := locked.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(base, "web"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Lock of a removed pod error = %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(base, "web")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Lock of a missing pod created its directory: %v", err)
	}
}
