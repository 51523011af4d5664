package rootfs

import "fmt"

// Explain, when set, receives one line per step of Setup: each mount with
// the system calls that made it, and pivot_root (sandbox run --explain).
// It is nil unless the container init was asked to narrate.
var Explain func(msg string)

func explainf(format string, args ...any) {
	if Explain != nil {
		Explain(fmt.Sprintf(format, args...))
	}
}
