package nsenter

// #include <stdlib.h>
// const char *sandbox_fastrun_cap_name(int i);
import "C"

// The C fast paths of `sandbox run -- CMD` (fastrun.c) and `sandbox exec`
// (fastexec.c) read SANDBOX_FASTPATH themselves: "0" sends the command
// through the Go code (the supervisor; cmd/sandbox and execin).

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
