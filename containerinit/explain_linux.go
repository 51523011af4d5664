package containerinit

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/podsandbox/sandbox/rootfs"
)

// EnvExplainFD names the pipe the init narrates its steps on (mounts,
// pivot_root, credentials, exec) for `sandbox run --explain`. The supervisor
// passes it only when --explain is set and forwards each line, prefixed with
// the container's name; without it nothing is formatted or written. The
// pipe is close-on-exec like every other descriptor of the init, so the
// workload never gets it and its end of file tells the supervisor the init
// is done.
const EnvExplainFD = "_SANDBOX_EXPLAIN_FD"

// explainOut is the pipe, nil when nobody listens.
var explainOut *os.File

// openExplain opens the pipe named by EnvExplainFD and routes the rootfs
// package's narration to it.
func openExplain() {
	fd := fdFromEnv(EnvExplainFD)
	if fd < 0 {
		return
	}
	explainOut = os.NewFile(uintptr(fd), "explain-pipe")
	rootfs.Explain = explain
}

// explain writes one line; best effort (a narration never fails a start).
func explain(msg string) {
	if explainOut != nil {
		explainOut.WriteString(msg + "\n")
	}
}

func explainf(format string, args ...any) {
	if explainOut != nil {
		explain(fmt.Sprintf(format, args...))
	}
}

// explainSecurity narrates applySecurity: credentials and confinement the
// workload keeps.
func explainSecurity(sec *Security) {
	explainf("setgroups(%v), setresgid(%d), setresuid(%d); capabilities kept: %d; no_new_privs: %v; seccomp filter: %v",
		sec.Groups, sec.GID, sec.UID, len(sec.Capabilities), sec.NoNewPrivs, sec.Seccomp)
}

// shortArgv quotes argv with each long argument cut, so that a script given
// with sh -c stays on one readable line.
func shortArgv(argv []string) string {
	const max = 32
	parts := make([]string, len(argv))
	for i, a := range argv {
		if r := []rune(a); len(r) > max {
			a = string(r[:max]) + "..."
		}
		parts[i] = strconv.Quote(a)
	}
	return "[" + strings.Join(parts, " ") + "]"
}
