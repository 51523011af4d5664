// The C manifest reader (podspec.c) runs in the constructor of `sandbox run
// POD.yaml`, before the Go runtime exists, and must agree with package pod on
// every manifest it accepts. This wrapper lets the tests call it from Go and
// compare (podspec_test.go).

package nsenter

// #include <stdlib.h>
// #include "podspec.h"
import "C"

import "unsafe"

// podSpec is the Go copy of struct podspec.
type podSpec struct {
	Name, Hostname string
	Grace          int64
	Container      string
	Argv           []string
	Env            []podSpecEnv
	WorkingDir     string // "" when absent
	Rootfs         string // "" for the host's root
	ManifestJSON   []byte
}

type podSpecEnv struct {
	Name, Value string
}

// parsePodSpec runs podspec_parse on data; ok is its verdict.
func parsePodSpec(data []byte) (spec podSpec, ok bool) {
	// C.CBytes copies, also for an empty slice: the C code reads len bytes
	// of memory Go does not move.
	buf := C.CBytes(data)
	defer C.free(buf)
	var ps C.struct_podspec
	if C.podspec_parse((*C.char)(buf), C.size_t(len(data)), &ps) == 0 {
		return podSpec{}, false
	}
	defer C.podspec_free(&ps)
	spec = podSpec{
		Name:         C.GoString(ps.name),
		Hostname:     C.GoString(ps.hostname),
		Grace:        int64(ps.grace),
		Container:    C.GoString(ps.container),
		ManifestJSON: C.GoBytes(unsafe.Pointer(ps.manifest_json), C.int(ps.manifest_json_len)),
	}
	if ps.working_dir != nil {
		spec.WorkingDir = C.GoString(ps.working_dir)
	}
	if ps.rootfs != nil {
		spec.Rootfs = C.GoString(ps.rootfs)
	}
	argv := unsafe.Slice(ps.argv, ps.argc+1)
	for _, a := range argv[:ps.argc] {
		spec.Argv = append(spec.Argv, C.GoString(a))
	}
	if argv[ps.argc] != nil {
		spec.Argv = append(spec.Argv, "<argv not NULL-terminated>")
	}
	for _, e := range unsafe.Slice(ps.env, ps.nenv) {
		spec.Env = append(spec.Env, podSpecEnv{C.GoString(e.name), C.GoString(e.value)})
	}
	return spec, true
}
