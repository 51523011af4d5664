package containerinit

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/podsandbox/sandbox/pod"
)

// Security is what the init changes about its own credentials right before exec.
type Security struct {
	UID, GID uint32
	// Groups are the supplementary groups; an empty list clears them where the user namespace allows setgroups
	// (a single-id mapping written without newgidmap denies it: then the init has none anyway).
	Groups []uint32 `json:",omitempty"`
	// Capabilities is the bounding set, and the permitted, effective and inheritable set, by name
	// (pod.CapabilityNames). A non-root uid keeps none of them across exec (no ambient capabilities, as in
	// Kubernetes).
	Capabilities []string
	NoNewPrivs   bool
	Seccomp      bool
}

// applySecurity switches the calling thread to the workload's credentials. Everything here is per thread
// (credentials, no_new_privs, the seccomp filter); the caller is locked to its thread and execs from it, and
// execve(2) kills the runtime's other threads. The order matters:
//  1. drop the bounding set (needs CAP_SETPCAP);
//  2. seccomp (without no_new_privs it needs CAP_SYS_ADMIN, still held);
//  3. groups, gid, uid (with PR_SET_KEEPCAPS so a non-zero uid keeps the permitted set for step 4);
//  4. capset the permitted/effective/inheritable set;
//  5. no_new_privs.
func applySecurity(sec *Security) error {
	runtime.LockOSThread() // never unlocked: this thread execs
	want := map[int]bool{}
	for _, name := range sec.Capabilities {
		n := slices.Index(pod.CapabilityNames, name)
		if n < 0 {
			return fmt.Errorf("capabilities: unknown capability %q", name)
		}
		want[n] = true
	}
	for c := 0; c < 64; c++ {
		inBounding, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if err != nil {
			break // EINVAL past the kernel's last capability
		}
		if inBounding == 0 {
			// sandbox itself was started without it (a restricted bounding
			// set, as on this project's CI machines): nobody can grant it.
			delete(want, c)
			continue
		}
		if want[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("capabilities: drop %s from the bounding set: %w", capName(c), err)
		}
	}
	if sec.Seccomp {
		if err := loadSeccomp(sec.Capabilities); err != nil {
			return err
		}
	}
	if sec.UID != 0 {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_KEEPCAPS: %w", err)
		}
	}
	if err := setgroups(sec.Groups); err != nil {
		if len(sec.Groups) > 0 || !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setgroups %v: %w (supplementalGroups need a user namespace with setgroups allowed: add a range to /etc/subgid)", sec.Groups, err)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(sec.GID), uintptr(sec.GID), uintptr(sec.GID)); e != 0 {
		return fmt.Errorf("setresgid %d: %w (is gid %d mapped in the pod's user namespace? see /etc/subgid)", sec.GID, e, sec.GID)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(sec.UID), uintptr(sec.UID), uintptr(sec.UID)); e != 0 {
		return fmt.Errorf("setresuid %d: %w (is uid %d mapped in the pod's user namespace? see /etc/subuid)", sec.UID, e, sec.UID)
	}
	var set [2]uint32
	for c := range want {
		set[c/32] |= 1 << (c % 32)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: set[0], Permitted: set[0], Inheritable: set[0]},
		{Effective: set[1], Permitted: set[1], Inheritable: set[1]},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if sec.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl PR_SET_NO_NEW_PRIVS: %w", err)
		}
	}
	return nil
}

// setgroups sets this thread's supplementary groups (the raw system call: libc's and Go's apply it to every
// thread, which is not needed here).
func setgroups(groups []uint32) error {
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); e != 0 {
		return e
	}
	return nil
}

func capName(c int) string {
	if c < len(pod.CapabilityNames) {
		return "CAP_" + pod.CapabilityNames[c]
	}
	return fmt.Sprintf("capability %d", c)
}
