// Package roles makes the binary that imports it one that sandbox can
// re-execute for its hidden roles. sandbox starts a pod's pause and its
// containers by re-executing /proc/self/exe: the nsenter constructor (C)
// handles the pause and the joining, and this package's init runs the
// container init in the joined process before main or any test runs.
//
// The sandbox command imports it; so must any other program (or test
// binary) that starts pods with supervisor.Run. sandboxtest imports it for
// you.
package roles

import (
	"os"

	"github.com/podsandbox/sandbox/containerinit"
	"github.com/podsandbox/sandbox/execin"
	"github.com/podsandbox/sandbox/netsetup"
	"github.com/podsandbox/sandbox/nsenter"
	"github.com/podsandbox/sandbox/portfwd"
	"github.com/podsandbox/sandbox/usernet"
)

func init() {
	switch nsenter.Role() {
	case nsenter.RoleJoin:
		containerinit.Main() // never returns
	case nsenter.RoleExec:
		execin.ChildMain() // never returns: sandbox exec, lifecycle hooks
	case nsenter.RoleNetNS:
		if os.Getenv(netsetup.EnvJob) != "" {
			netsetup.JobMain() // never returns: bridge and veth set-up in the network holder
		}
		portfwd.HelperMain() // never returns: the hostPort dialler
	case usernet.RoleKeeper:
		usernet.KeeperMain() // never returns: pasta or slirp4netns for the network holder
	}
}
