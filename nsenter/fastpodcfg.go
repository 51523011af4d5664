package nsenter

// #include <stdlib.h>
// #include "fastpod.h"
// const void *sandbox_fastpod_seccomp(size_t *len);
import "C"

import "unsafe"

// FastPodConfig is what the manifest fast path (fastpod.c) would give the
// container of the pod in manifest, a pod whose state directory is
// stateDir: the C init's records from 'V' to 'Z' (fastpodcfg.c,
// fastpod_records) and the pod files (fastpod_files). ok is false when the
// C reader (podspec.c) or fastpodcfg.c leaves the pod to Go. It exists so
// that tests can compare the C with the supervisor's Go code
// (supervisor/fastpod_linux_test.go); the C assumes a caller that is not
// root, as fastpod.c checks.
func FastPodConfig(manifest []byte, stateDir string) (records, hosts, hostname, resolv []byte, ok bool) {
	var ps C.struct_podspec
	data := C.CBytes(manifest) // C.CBytes of an empty slice is still a pointer
	defer C.free(data)
	if C.podspec_parse((*C.char)(data), C.size_t(len(manifest)), &ps) != 1 {
		return nil, nil, nil, nil, false
	}
	defer C.podspec_free(&ps)
	dir := C.CString(stateDir)
	defer C.free(unsafe.Pointer(dir))
	var rec C.struct_buf
	defer func() { C.free(unsafe.Pointer(rec.p)) }()
	if C.fastpod_records(&ps, dir, &rec) < 0 {
		return nil, nil, nil, nil, false
	}
	var files C.struct_fastpod_files
	if C.fastpod_files(&ps, &files) < 0 {
		return nil, nil, nil, nil, false
	}
	defer C.free(unsafe.Pointer(files.hosts.p))
	defer C.free(unsafe.Pointer(files.hostname.p))
	defer C.free(unsafe.Pointer(files.resolv.p))
	return bufBytes(&rec), bufBytes(&files.hosts), bufBytes(&files.hostname), bufBytes(&files.resolv), true
}

// FastPodResolvConf is the pod's /etc/resolv.conf as fastpod_files makes it
// from a host's /etc/resolv.conf of hostConf, for tests to compare with
// podfiles.ResolvConf. ok is false when the C leaves it to Go.
func FastPodResolvConf(hostConf []byte) (resolv []byte, ok bool) {
	data := C.CBytes(hostConf)
	defer C.free(data)
	var out C.struct_buf
	defer func() { C.free(unsafe.Pointer(out.p)) }()
	if C.podfile_resolv_conf_of((*C.char)(data), C.size_t(len(hostConf)), &out) < 0 {
		return nil, false
	}
	return bufBytes(&out), true
}

// fastPodSeccomp is the default seccomp program compiled into fastpodcfg.c
// (seccomp_default.h), nil on an architecture without one.
func fastPodSeccomp() []byte {
	var n C.size_t
	p := C.sandbox_fastpod_seccomp(&n)
	if p == nil {
		return nil
	}
	return C.GoBytes(p, C.int(n))
}

// bufBytes copies a C struct buf (never nil: an empty buf is empty bytes).
func bufBytes(b *C.struct_buf) []byte {
	if b.p == nil {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(b.p), C.int(b.len))
}
