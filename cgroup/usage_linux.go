package cgroup

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadUsage reads the usage of leaf ("" for the whole pod) from the pod's
// recorded cgroup directories (one per v1 hierarchy, or the v2 one) by
// reading the kernel's files directly: `sandbox top` runs in another
// process than the supervisor that created them. A field stays -1 when no
// directory has its controller.
func ReadUsage(podDirs []string, leaf string) Stats {
	s := Stats{MemoryBytes: -1, CPUNanos: -1, Pids: -1}
	for _, dir := range podDirs {
		d := filepath.Join(dir, leaf)
		if v, ok := readInt(filepath.Join(d, "memory.usage_in_bytes")); ok { // v1
			s.MemoryBytes = v
		} else if v, ok := readInt(filepath.Join(d, "memory.current")); ok { // v2
			s.MemoryBytes = v
		}
		if v, ok := readInt(filepath.Join(d, "cpuacct.usage")); ok { // v1, ns
			s.CPUNanos = v
		} else if v, ok := readKey(filepath.Join(d, "cpu.stat"), "usage_usec"); ok { // v2
			s.CPUNanos = v * 1000
		}
		if v, ok := readInt(filepath.Join(d, "pids.current")); ok {
			s.Pids = v
		}
	}
	return s
}

func readInt(file string) (int64, bool) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return v, err == nil
}

func readKey(file, key string) (int64, bool) {
	f, err := os.Open(file)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
