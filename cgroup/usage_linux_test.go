package cgroup

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadUsageFromV1AndV2Files(t *testing.T) {
	write := func(path, data string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v1 := t.TempDir()
	mem, cpu, pids := filepath.Join(v1, "memory", "sandbox-p"), filepath.Join(v1, "cpuacct", "sandbox-p"), filepath.Join(v1, "pids", "sandbox-p")
	write(filepath.Join(mem, "web", "memory.usage_in_bytes"), "4096\n")
	write(filepath.Join(cpu, "web", "cpuacct.usage"), "1500000000\n")
	write(filepath.Join(pids, "web", "pids.current"), "3\n")
	if got := ReadUsage([]string{mem, cpu, pids}, "web"); got != (Stats{MemoryBytes: 4096, CPUNanos: 1500000000, Pids: 3}) {
		t.Errorf("v1 usage = %+v", got)
	}
	v2 := filepath.Join(t.TempDir(), "sandbox-p")
	write(filepath.Join(v2, "web", "memory.current"), "8192\n")
	write(filepath.Join(v2, "web", "cpu.stat"), "usage_usec 2000\nuser_usec 1500\n")
	if got := ReadUsage([]string{v2}, "web"); got != (Stats{MemoryBytes: 8192, CPUNanos: 2000000, Pids: -1}) {
		t.Errorf("v2 usage = %+v (no pids controller: -1)", got)
	}
	if got := ReadUsage(nil, "web"); got != (Stats{MemoryBytes: -1, CPUNanos: -1, Pids: -1}) {
		t.Errorf("no cgroup: %+v", got)
	}
}
