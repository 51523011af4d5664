package nsenter

// #include <stdlib.h>
// const char *sandbox_fastrun_cap_name(int i);
import "C"

// EnvFastPath set to "0" turns off the C fast paths of `sandbox run -- CMD`
// (fastrun.c: the command then goes through the Go supervisor) and of
// `sandbox exec` (fastexec.c: the Go code of cmd/sandbox and execin).
const EnvFastPath = "SANDBOX_FASTPATH"

// fastRunCapNames is the capability list compiled into fastrun.c, for the
// test that keeps it equal to pod.CapabilityNames.
func fastRunCapNames() []string {
	var names []string
	for i := 0; ; i++ {
		p := C.sandbox_fastrun_cap_name(C.int(i))
		if p == nil {
			return names
		}
		names = append(names, C.GoString(p))
	}
}
