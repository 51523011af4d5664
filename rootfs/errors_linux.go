package rootfs

import "errors"

var (
	// ErrInvalidSpec means the Spec is malformed; Setup returns it before touching the system.
	ErrInvalidSpec = errors.New("rootfs: invalid spec")

	// ErrUnsafeMountpoint means a mount point inside the root is a symlink, or not a directory where one is
	// required. Mounting through it could place a filesystem outside the root (runc CVE-2019-19921,
	// CVE-2025-31133 and the /dev symlink cases), so Setup refuses instead of following it.
	ErrUnsafeMountpoint = errors.New("rootfs: unsafe mount point")

	// ErrHostMountNamespace means Setup was called in the mount namespace of PID 1 (the host's), where its mounts
	// would hide the machine's own; the caller must unshare(CLONE_NEWNS) first.
	ErrHostMountNamespace = errors.New("rootfs: refusing to mount in the host's mount namespace " +
		"(call Setup only after unshare(CLONE_NEWNS))")
)

// mountpointError is an ErrUnsafeMountpoint naming the path and the rule.
type mountpointError struct{ msg string }

func (e *mountpointError) Error() string        { return "rootfs: " + e.msg }
func (e *mountpointError) Is(target error) bool { return target == ErrUnsafeMountpoint }

func unsafeMountpoint(msg string) error { return &mountpointError{msg: msg} }
