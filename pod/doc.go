// Package pod is the sandbox's pod manifest: a subset of the Kubernetes v1 Pod
// types, strict decoding from JSON or YAML, defaults and validation.
//
// The package is pure Go and makes no system calls apart from the stat and the
// size-limited read in [Load], so it can be unit-tested and fuzzed anywhere.
// The manifest is configuration, not state: nothing here creates, records or
// cleans up anything on the host.
//
// The intended use is
//
//	p, warnings, err := pod.Load(path) // or pod.Decode(data)
//	// print warnings; with --strict treat them as errors
//	p.SetDefaults()
//	err = p.Validate()
//
// Decoding is strict: a syntax error says where it is, an unknown field or a
// value of the wrong type is an error naming its full field path (for example
// "spec.containers[0].comand: unknown field"), and a field that Kubernetes has
// but sandbox does not support yet is returned as a [Warning], never silently
// dropped. Validation reports every problem at once, each naming its field
// path, before the supervisor touches the system.
//
// Inputs are bounded by the exported Max* constants, so a hostile manifest
// cannot exhaust memory or the stack, and everything that passes Validate fits
// the kernel's limits for execve (MAX_ARG_STRLEN, ARG_MAX).
package pod
