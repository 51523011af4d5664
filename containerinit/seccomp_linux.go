package containerinit

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

//go:generate go run mksysnum.go
//go:generate go run mkseccompc.go

// The default seccomp profile is a deny list (default action: allow), a classic BPF program built here.
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

// The filter's results: refused calls fail with EPERM; clone3 (its flags are in memory, out of a filter's reach)
// and x32 calls with ENOSYS, so that libc falls back to clone(2), whose flags the filter checks (as in moby's
// profile).
const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// Offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6]. The supported architectures are
// little-endian: an argument's low 32 bits come first.
const (
	offsetNr   = 0
	offsetArch = 4
	offsetArgs = 16
)

// x32SyscallBit marks x32 system calls on x86_64 (__X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

// sysnum is a system call's name and number on this architecture (seccomp_sysnum_linux_GOARCH.go, written by
// mksysnum.go from golang.org/x/sys/unix: static data, nothing built at start-up).
type sysnum struct {
	name string
	nr   uint32
}

func sysnumOf(name string) (uint32, bool) { return lookupSysnum(sysnums[:], name) }

func lookupSysnum(table []sysnum, name string) (uint32, bool) {
	for _, s := range table {
		if s.name == name {
			return s.nr, true
		}
	}
	return 0, false
}

// Jump targets of seccompProgram's instructions: the next instruction, one of the returns at the end, or the
// start of an architecture's section (toSection + its index).
const (
	toNext = iota
	toAllow
	toEPERM
	toENOSYS
	toKill
	toSection
)

// retKill ends a process that calls the kernel as an architecture the profile does not know (libseccomp's
// default for a "bad architecture").
const retKill = unix.SECCOMP_RET_KILL_PROCESS

// seccompProgram returns the default profile for a container with the given capabilities:
//
//	load arch; this architecture's: section 0; its compat architecture's (i386 on x86_64, AArch32 on arm64):
//	section 1; any other: kill the process
//	each section, with that architecture's numbers:
//	  load nr; x86_64: nr >= x32 bit: ENOSYS
//	  without SYS_ADMIN: clone3: ENOSYS
//	  nr in deniedAlways (and deniedWithoutSysAdmin without SYS_ADMIN): EPERM
//	  without SYS_ADMIN: clone with a namespace flag in its flags argument: EPERM
//	  allow
//
// Checking only the native architecture would leave the whole list open to `int 0x80` on x86_64.
func seccompProgram(caps []string) ([]unix.SockFilter, error) {
	if len(sysnums) == 0 {
		return nil, fmt.Errorf("no default profile for %s", runtime.GOARCH)
	}
	type insn struct {
		code   uint16
		k      uint32
		jt, jf int // toNext, toAllow, ...
	}
	sysAdmin := slices.Contains(caps, "SYS_ADMIN")
	ld := func(off uint32) insn { return insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: off} }
	jmp := func(op uint16, k uint32, jt, jf int) insn {
		return insn{code: unix.BPF_JMP | op | unix.BPF_K, k: k, jt: jt, jf: jf}
	}
	type arch struct {
		audit uint32
		table []sysnum
		x32   bool
	}
	arches := []arch{{auditArch, sysnums[:], x32ABI}}
	if compatAuditArch != 0 {
		arches = append(arches, arch{compatAuditArch, compatSysnums[:], false})
	}
	prog := []insn{ld(offsetArch)}
	for i, a := range arches {
		prog = append(prog, jmp(unix.BPF_JEQ, a.audit, toSection+i, toNext))
	}
	prog = append(prog, jmp(unix.BPF_JEQ, 0, toKill, toKill)) // no other architecture
	names := deniedAlways
	if !sysAdmin {
		names = append(slices.Clip(names), deniedWithoutSysAdmin...)
	}
	sections := make([]int, len(arches))
	for i, a := range arches {
		sections[i] = len(prog)
		prog = append(prog, ld(offsetNr))
		if a.x32 {
			prog = append(prog, jmp(unix.BPF_JGE, x32SyscallBit, toENOSYS, toNext))
		}
		if !sysAdmin {
			if nr, ok := lookupSysnum(a.table, "clone3"); ok {
				prog = append(prog, jmp(unix.BPF_JEQ, nr, toENOSYS, toNext))
			}
		}
		for _, n := range names {
			// Names this architecture does not have (vm86 on x86_64) are left out.
			if nr, ok := lookupSysnum(a.table, n); ok {
				prog = append(prog, jmp(unix.BPF_JEQ, nr, toEPERM, toNext))
			}
		}
		if sysAdmin {
			prog = append(prog, jmp(unix.BPF_JEQ, 0, toAllow, toAllow))
			continue
		}
		nr, ok := lookupSysnum(a.table, "clone")
		if !ok {
			return nil, fmt.Errorf("no clone system call on %s", runtime.GOARCH)
		}
		// clone's flags are its first argument on every supported architecture. The namespace flags are all in
		// the low 32 bits.
		prog = append(prog, jmp(unix.BPF_JEQ, nr, toNext, toAllow), ld(offsetArgs),
			jmp(unix.BPF_JSET, cloneNamespaceFlags, toEPERM, toAllow))
	}
	ret := func(k uint32) insn { return insn{code: unix.BPF_RET | unix.BPF_K, k: k} }
	prog = append(prog, ret(retAllow), ret(retEPERM), ret(retENOSYS), ret(retKill))
	n := len(prog)
	target := map[int]int{toAllow: n - 4, toEPERM: n - 3, toENOSYS: n - 2, toKill: n - 1}
	for i, at := range sections {
		target[toSection+i] = at
	}
	out := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		out[i] = unix.SockFilter{Code: in.code, K: in.k}
		if in.code&0x07 != unix.BPF_JMP {
			continue
		}
		for _, j := range []struct {
			to  int
			dst *uint8
		}{{in.jt, &out[i].Jt}, {in.jf, &out[i].Jf}} {
			if j.to == toNext {
				continue
			}
			skip := target[j.to] - (i + 1)
			if skip > 255 {
				return nil, fmt.Errorf("filter too long (%d instructions) for a conditional jump", len(prog))
			}
			*j.dst = uint8(skip)
		}
	}
	return out, nil
}

// LoadSeccomp installs the default profile for a process with these
// capabilities on the calling thread (sandbox exec applies it to commands
// run in a container that has it).
func LoadSeccomp(caps []string) error { return loadSeccomp(caps) }

// loadSeccomp installs the filter on the calling thread only (no TSYNC): the thread that then execs the
// workload; the other threads of the Go runtime die with the exec. Without no_new_privs the kernel requires
// CAP_SYS_ADMIN in the current user namespace, so it is called before capabilities are dropped.
func loadSeccomp(caps []string) error {
	filter, err := seccompProgram(caps)
	if err != nil {
		return fmt.Errorf("seccomp: build the default profile: %w", err)
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	_, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	if e == unix.ENOSYS {
		return fmt.Errorf("seccomp: load the filter: not supported by the kernel: %w", e)
	}
	if e != 0 {
		return fmt.Errorf("seccomp: load the filter: %w", e)
	}
	return nil
}

// SeccompProgram is seccompProgram's filter as the bytes of its struct
// sock_filter entries (native byte order), for the C init (cinit.go), which
// loads it as it is.
func SeccompProgram(caps []string) ([]byte, error) {
	filter, err := seccompProgram(caps)
	if err != nil {
		return nil, fmt.Errorf("seccomp: build the default profile: %w", err)
	}
	out := make([]byte, 0, 8*len(filter))
	for _, f := range filter {
		out = binary.NativeEndian.AppendUint16(out, f.Code)
		out = append(out, f.Jt, f.Jf)
		out = binary.NativeEndian.AppendUint32(out, f.K)
	}
	return out, nil
}
