//go:build linux && !(386 || amd64 || arm || arm64)

package containerinit

// No default seccomp profile on this architecture: seccompProgram returns an error.

const (
	auditArch       = 0
	compatAuditArch = 0
	x32ABI          = false
)

var sysnums, compatSysnums [0]sysnum

var sysnumsAbsent [0]string
