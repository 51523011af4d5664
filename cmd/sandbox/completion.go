package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/internal/state"
)

// Shell completion: cobra's `completion` command (bash, zsh, fish,
// powershell) plus these functions, which complete pod names from the state
// directory and container names from the pod's record. They never fail
// loudly: a shell completion has nowhere to print an error.

// completePods completes the first argument with pod names.
func completePods(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return podNames(toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeManyPods completes every argument with pod names (rm, inspect).
func completeManyPods(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, n := range podNames(toComplete) {
		if !containsString(args, n) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func podNames(prefix string) []string {
	base, err := state.BaseDir()
	if err != nil {
		return nil
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// completeContainers completes -c with the containers of the pod named by
// the first argument.
func completeContainers(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	base, err := state.BaseDir()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	rec, err := state.Read(base, args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, c := range rec.Containers {
		if strings.HasPrefix(c.Name, toComplete) {
			names = append(names, c.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// addLifecycleCommands registers the commands that work on pods after
// `run -d`. cobra adds `completion` itself.
func addLifecycleCommands(root *cobra.Command, g *globalFlags) {
	root.AddCommand(newPsCommand(), newExecCommand(g), newLogsCommand(), newStopCommand(g),
		newRmCommand(g), newInspectCommand(), newGCCommand(g), newTopCommand())
}
