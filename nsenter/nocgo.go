//go:build !cgo

package nsenter

// sandbox cannot work without its C constructor (nsenter.c). A build with
// cgo disabled, usually because no C compiler is installed, stops here with
// this identifier in the error: install gcc (Debian: apt install gcc) or
// set CGO_ENABLED=1.
var _ = sandbox_needs_cgo__install_gcc_or_set_CGO_ENABLED_1
