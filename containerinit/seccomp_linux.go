package containerinit

import (
	"encoding/binary"
	"fmt"
	"slices"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The default seccomp profile is a deny list (default action: allow), built with a pure-Go BPF assembler.
// It returns EPERM for system calls that reach kernel state no container should touch, which capabilities
// alone do not gate (or gate only through the pod's user namespace, where root has them all). It follows the
// intent of moby's default profile (github.com/moby/profiles/seccomp), which is an allow list; see
// docs/SECURITY.md for the comparison.

// deniedAlways are refused whatever the capabilities.
var deniedAlways = []string{
	// The kernel keyring is not namespaced: keys of other containers and of the host user (CVE-2016-0728).
	"keyctl", "add_key", "request_key",
	// eBPF, perf and userfaultfd: large kernel attack surface, and userfaultfd makes kernel races easy to win.
	"bpf", "perf_event_open", "userfaultfd",
	// open_by_handle_at opens any inode of a mounted filesystem by handle, past the mount namespace
	// (the 2014 "shocker" escape).
	"open_by_handle_at", "name_to_handle_at",
	// Kernel modules, kexec, reboot, swap, accounting, quotas, clock: host-wide state.
	"init_module", "finit_module", "delete_module", "create_module", "kexec_load", "kexec_file_load", "reboot",
	"swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "settimeofday", "clock_settime", "clock_adjtime",
	"adjtimex", "syslog", "lookup_dcookie", "uselib", "ustat", "sysfs", "_sysctl", "iopl", "ioperm",
	"get_kernel_syms", "query_module", "nfsservctl", "vm86", "vm86old",
	// io_uring bypasses seccomp for the operations it performs (Docker blocks it since 25.0).
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	// Reading and writing other processes' memory: ptrace-gated, but not needed by workloads.
	"process_vm_writev",
}

// deniedWithoutSysAdmin are refused unless the container has CAP_SYS_ADMIN (privileged, or capabilities.add):
// new namespaces, above all user namespaces (test plan S-17: a nested user namespace gives full capabilities
// over fresh namespaces and widens the kernel's attack surface), and the mount API.
var deniedWithoutSysAdmin = []string{
	"unshare", "setns", "mount", "umount", "umount2", "pivot_root", "mount_setattr", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick", "fanotify_init",
}

// cloneNamespaceFlags are clone(2) flags that create namespaces (moby's mask 0x7E020000).
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// errnoENOSYS is the action for clone3: its flags are in memory, out of a filter's reach, so it is refused with
// ENOSYS and libc falls back to clone(2), whose flags the filter checks (as in moby's profile).
const actionENOSYS = seccomp.Action(uint32(seccomp.ActionErrno) | uint32(unix.ENOSYS))

// seccompPolicy returns the default profile for a container with the given capabilities.
func seccompPolicy(caps []string) (*seccomp.Policy, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	names := append([]string(nil), deniedAlways...)
	var groups []seccomp.SyscallGroup
	if !slices.Contains(caps, "SYS_ADMIN") {
		names = append(names, deniedWithoutSysAdmin...)
		// Like a clone(2) with a namespace flag.
		groups = append(groups, seccomp.SyscallGroup{Action: actionENOSYS, Names: []string{"clone3"}})
		cloneFlagsArg := uint32(0) // x86_64, arm64: flags are the first argument
		if info.ID == arch.S390X.ID {
			cloneFlagsArg = 1
		}
		groups = append(groups, seccomp.SyscallGroup{Action: seccomp.ActionErrno, NamesWithCondtions: []seccomp.NameWithConditions{{
			Name:       "clone",
			Conditions: []seccomp.Condition{{Argument: cloneFlagsArg, Operation: seccomp.BitsSet, Value: cloneNamespaceFlags}},
		}}})
	}
	// Names this architecture does not have (vm86 on x86_64) are left out: the assembler refuses unknown ones.
	names = slices.DeleteFunc(names, func(n string) bool { _, ok := info.SyscallNames[n]; return !ok })
	groups = append(groups, seccomp.SyscallGroup{Action: seccomp.ActionErrno, Names: names})
	return &seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: groups}, nil
}

// LoadSeccomp installs the default profile for a process with these
// capabilities on the calling thread (sandbox exec applies it to commands
// run in a container that has it).
func LoadSeccomp(caps []string) error { return loadSeccomp(caps) }

// loadSeccomp installs the filter on the calling thread only (no TSYNC): the thread that then execs the
// workload; the other threads of the Go runtime die with the exec. Without no_new_privs the kernel requires
// CAP_SYS_ADMIN in the current user namespace, so it is called before capabilities are dropped.
func loadSeccomp(caps []string) error {
	p, err := seccompPolicy(caps)
	if err != nil {
		return fmt.Errorf("seccomp: build the default profile: %w", err)
	}
	if err := seccomp.LoadFilter(seccomp.Filter{Policy: *p}); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	return nil
}

// SeccompProgram is the default profile for these capabilities assembled
// into a BPF program (struct sock_filter entries, native byte order), for
// the C init (cinit.go), which loads it as it is.
func SeccompProgram(caps []string) ([]byte, error) {
	p, err := seccompPolicy(caps)
	if err != nil {
		return nil, fmt.Errorf("seccomp: build the default profile: %w", err)
	}
	insts, err := p.Assemble()
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble the default profile: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble the default profile: %w", err)
	}
	out := make([]byte, 0, 8*len(raw))
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return out, nil
}
