// Command linksnsenter is a program other than the sandbox CLI that links
// package nsenter (as a program using the library or sandboxtest does): its
// command line must stay its own, whatever it starts with
// (e2e.TestFastPathsOnlyInTheCLI).
package main

import (
	"fmt"
	"os"

	_ "github.com/podsandbox/sandbox/nsenter"
)

func main() {
	fmt.Println("own main:", os.Args[1:])
}
