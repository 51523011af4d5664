// Command sandbox runs Kubernetes pods as an unprivileged user with Linux
// namespaces: a pause process holds the pod's namespaces, containers join
// them. See the README for the manifest reference and exit codes.
//
// The binary has hidden roles, chosen before flag parsing: the nsenter
// constructor (C, before the Go runtime) turns it into a pod's pause or
// joins a pod's namespaces, after which package roles runs the container
// init before main.
package main

import (
	"os"

	"github.com/podsandbox/sandbox/nsenter"
	_ "github.com/podsandbox/sandbox/roles"
)

func main() {
	code := runCLI(os.Args[1:])
	// The fork server the constructor made for `sandbox run`, when no pod
	// took it (a bad manifest, --help): ended and reaped, not left to exit
	// after us.
	nsenter.TakeSpawner().Close()
	os.Exit(code)
}
