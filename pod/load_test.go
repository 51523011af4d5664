package pod

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadPrefixesErrorsWithThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.json")
	if err := os.WriteFile(path, []byte(`{"apiVersion":"v1",}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), "parse "+path+": invalid JSON: ") || !errors.Is(err, ErrSyntax) {
		t.Fatalf("got %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.json")
	_, _, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "parse "+path+": ") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadRefusesFilesOverTheLimit(t *testing.T) {
	dir := t.TempDir()
	// Exactly at the limit is fine: a valid pod padded with blanks.
	atLimit := []byte(minimalJSON + strings.Repeat(" ", MaxManifestBytes-len(minimalJSON)))
	path := filepath.Join(dir, "at-limit.json")
	if err := os.WriteFile(path, atLimit, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(path); err != nil {
		t.Errorf("%d bytes: %v", len(atLimit), err)
	}
	path = filepath.Join(dir, "too-large.json")
	if err := os.WriteFile(path, append(atLimit, ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(path)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "parse "+path+": pod spec too large (limit 1 MiB)" {
		t.Errorf("got %v", err)
	}
}

func TestLoadRefusesADirectory(t *testing.T) {
	dir := t.TempDir()
	_, _, err := Load(dir)
	if !errors.Is(err, ErrNotRegularFile) || !strings.Contains(err.Error(), "is a directory, expected a regular file") {
		t.Fatalf("got %v", err)
	}
}
