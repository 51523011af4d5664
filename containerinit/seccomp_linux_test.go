package containerinit

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// runFilter interprets the instructions seccompProgram emits (ld abs, jeq, jge, jset, ret) on a seccomp_data.
func runFilter(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args ...uint64) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[offsetNr:], nr)
	binary.LittleEndian.PutUint32(data[offsetArch:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[offsetArgs+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K:
			var cond bool
			switch in.Code &^ (unix.BPF_JMP | unix.BPF_K) {
			case unix.BPF_JEQ:
				cond = acc == in.K
			case unix.BPF_JGE:
				cond = acc >= in.K
			case unix.BPF_JSET:
				cond = acc&in.K != 0
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("the filter ran past its end")
	return 0
}

func TestSeccompSysnumsCoverTheProfile(t *testing.T) {
	if len(sysnums) == 0 {
		t.Skip("no default profile on this architecture")
	}
	// A name added to a list needs go generate (mksysnum.go): it must be in the table or known to be absent.
	for _, n := range append(append(slices.Clone(deniedAlways), deniedWithoutSysAdmin...), "clone", "clone3") {
		if _, ok := sysnumOf(n); !ok && !slices.Contains(sysnumsAbsent[:], n) {
			t.Errorf("%s: in neither sysnums nor sysnumsAbsent: run go generate ./containerinit", n)
		}
	}
}

func TestSeccompProgram(t *testing.T) {
	if len(sysnums) == 0 {
		t.Skip("no default profile on this architecture")
	}
	nr := func(name string) uint32 {
		n, ok := sysnumOf(name)
		if !ok {
			t.Fatalf("no %s here", name)
		}
		return n
	}
	for _, sysAdmin := range []bool{false, true} {
		caps := []string{"CHOWN", "NET_BIND_SERVICE"}
		if sysAdmin {
			caps = append(caps, "SYS_ADMIN")
		}
		prog, err := seccompProgram(caps)
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) > unix.BPF_MAXINSNS {
			t.Fatalf("%d instructions", len(prog))
		}
		ifAdmin := func(admin, not uint32) uint32 {
			if sysAdmin {
				return admin
			}
			return not
		}
		for _, c := range []struct {
			name string
			nr   uint32
			args []uint64
			want uint32
		}{
			{"keyctl", nr("keyctl"), nil, retEPERM},
			{"bpf", nr("bpf"), nil, retEPERM},
			{"io_uring_setup", nr("io_uring_setup"), nil, retEPERM},
			{"process_vm_writev", nr("process_vm_writev"), nil, retEPERM},
			{"unshare", nr("unshare"), nil, ifAdmin(retAllow, retEPERM)},
			{"mount", nr("mount"), nil, ifAdmin(retAllow, retEPERM)},
			{"fanotify_init", nr("fanotify_init"), nil, ifAdmin(retAllow, retEPERM)},
			{"clone3", nr("clone3"), nil, ifAdmin(retAllow, retENOSYS)},
			{"clone(SIGCHLD)", nr("clone"), []uint64{uint64(unix.SIGCHLD)}, retAllow},
			{"clone(threads)", nr("clone"), []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM}, retAllow},
			{"clone(NEWUSER)", nr("clone"), []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, ifAdmin(retAllow, retEPERM)},
			{"clone(NEWNET)", nr("clone"), []uint64{unix.CLONE_NEWNET}, ifAdmin(retAllow, retEPERM)},
			// A flags argument whose value is a denied call's number must not match it.
			{"clone(keyctl)", nr("clone"), []uint64{uint64(nr("keyctl"))}, retAllow},
			{"read", unix.SYS_READ, nil, retAllow},
			{"execve", unix.SYS_EXECVE, nil, retAllow},
			{"ptrace", unix.SYS_PTRACE, nil, retAllow},
		} {
			if got := runFilter(t, prog, auditArch, c.nr, c.args...); got != c.want {
				t.Errorf("SYS_ADMIN %v: %s: got %#x, want %#x", sysAdmin, c.name, got, c.want)
			}
		}
		if x32ABI {
			if got := runFilter(t, prog, auditArch, x32SyscallBit|unix.SYS_READ); got != retENOSYS {
				t.Errorf("x32 read: got %#x, want ENOSYS", got)
			}
		}
		// The compat architecture (int 0x80 on x86_64) gets the same list with its own numbers: switching
		// architecture is no way around the profile.
		if compatAuditArch != 0 {
			compat := func(name string) uint32 {
				n, ok := lookupSysnum(compatSysnums[:], name)
				if !ok {
					t.Fatalf("no compat %s", name)
				}
				return n
			}
			for _, c := range []struct {
				name string
				args []uint64
				want uint32
			}{
				{"keyctl", nil, retEPERM},
				{"bpf", nil, retEPERM},
				{"unshare", nil, ifAdmin(retAllow, retEPERM)},
				{"clone3", nil, ifAdmin(retAllow, retENOSYS)},
				{"clone", []uint64{unix.CLONE_NEWUSER}, ifAdmin(retAllow, retEPERM)},
				{"clone", []uint64{uint64(unix.SIGCHLD)}, retAllow},
			} {
				if got := runFilter(t, prog, compatAuditArch, compat(c.name), c.args...); got != c.want {
					t.Errorf("SYS_ADMIN %v: compat %s%v: got %#x, want %#x", sysAdmin, c.name, c.args, got, c.want)
				}
			}
			// compat read is allowed: 32-bit programs run.
			if got := runFilter(t, prog, compatAuditArch, 3); got != retAllow {
				t.Errorf("compat read: got %#x, want allow", got)
			}
		}
		// Any other architecture ends the process.
		if got := runFilter(t, prog, 0x12345678, unix.SYS_READ); got != retKill {
			t.Errorf("unknown architecture: got %#x, want kill", got)
		}
	}
}
