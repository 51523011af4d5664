package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/podsandbox/sandbox/image"
	"github.com/podsandbox/sandbox/pod"
)

// addImageCommands registers pull, images, rmi and image (prune, ls, pull, rm).
func addImageCommands(root *cobra.Command, g *globalFlags) {
	img := &cobra.Command{Use: "image", Short: "Manage the image store (pull, ls, rm, prune)"}
	img.AddCommand(newPullCommand(g), newImagesCommand("ls"), newRmiCommand(g, "rm"), newPruneCommand(g))
	root.AddCommand(newPullCommand(g), newImagesCommand("images"), newRmiCommand(g, "rmi"), img)
	root.AddCommand(&cobra.Command{
		Use:                image.HelperCommand,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := image.RunHelper(args); err != nil {
				return &exitError{code: 1, err: err}
			}
			return nil
		},
	})
}

func openStore(g *globalFlags) (*image.Store, error) {
	root, err := image.DefaultRoot()
	if err != nil {
		return nil, sandboxErr("%v", err)
	}
	s, err := image.Open(root)
	if err != nil {
		return nil, sandboxErr("%v", err)
	}
	s.Note = func(msg string) { logger(g).Warn(msg) }
	if exe, err := os.Executable(); err == nil {
		s.EnableHelper(exe) // rootless with a subordinate range: unpack keeping owners
	}
	return s, nil
}

func newPullCommand(g *globalFlags) *cobra.Command {
	var insecure []string
	var platform string
	cmd := &cobra.Command{
		Use:   "pull IMAGE",
		Short: "Pull an image into the store",
		Long: `Pull an image into the per-user store ($XDG_DATA_HOME/sandbox, ~/.local/share/sandbox,
/var/lib/sandbox for root; $SANDBOX_IMAGE_STORE overrides): a registry reference
(nginx:1.25, docker://nginx:1.25) or a local transport (oci:PATH[:TAG],
oci-archive:PATH[:TAG], docker-archive:PATH[:REF]). Registry credentials come
from ~/.docker/config.json or $REGISTRY_AUTH_FILE. Plain HTTP is used only for
loopback registries and those named with --insecure-registry.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := pod.ParseImage(args[0])
			if err != nil {
				return sandboxErr("%v", err)
			}
			if !ref.IsStored() {
				return sandboxErr("%s is not an image to pull", args[0])
			}
			s, err := openStore(g)
			if err != nil {
				return err
			}
			o := image.PullOptions{Policy: pod.PullAlways, InsecureRegistries: insecure}
			if platform != "" {
				p := image.HostPlatform()
				parts := strings.Split(platform, "/")
				if len(parts) < 2 || len(parts) > 3 {
					return sandboxErr("--platform %q: want OS/ARCH[/VARIANT]", platform)
				}
				p.OS, p.Architecture, p.Variant = parts[0], parts[1], ""
				if len(parts) == 3 {
					p.Variant = parts[2]
				}
				o.Platform = &p
			}
			if isTerminal(os.Stderr) {
				// One live line per layer: bytes so far and the rate.
				o.Bytes = func(layer string, n int64, rate float64, done bool) {
					fmt.Fprintf(os.Stderr, "\r\033[Klayer %s  %s  %s/s", layer, humanSize(n), humanSize(int64(rate)))
					if done {
						fmt.Fprintln(os.Stderr)
					}
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			rec, err := s.Pull(ctx, ref, o)
			if err != nil {
				return sandboxErr("pull %v", err)
			}
			fmt.Printf("%s: %s, %d layers, %s in %s\n", strings.Join(rec.Names, ", "), shortID(rec.ID), len(rec.Layers), humanSize(rec.Size), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&insecure, "insecure-registry", nil, "a registry HOST[:PORT] that may be reached over plain HTTP (repeatable)")
	cmd.Flags().StringVar(&platform, "platform", "", "OS/ARCH[/VARIANT] to pick from a multi-platform image (default: this host's)")
	return cmd
}

func newImagesCommand(use string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   use,
		Short: "List the images in the store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := image.DefaultRoot()
			if err != nil {
				return sandboxErr("%v", err)
			}
			var recs []image.Record
			if _, err := os.Stat(root); err == nil {
				s := &image.Store{Root: root}
				if recs, err = s.Images(); err != nil {
					return sandboxErr("list images: %v", err)
				}
			}
			switch format {
			case "json":
				if recs == nil {
					recs = []image.Record{}
				}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(recs)
			case "", "table":
				tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tID\tCREATED\tSIZE\tLAYERS")
				for _, r := range recs {
					names := r.Names
					if len(names) == 0 {
						names = []string{"<none>"}
					}
					created := "-"
					if !r.Created.IsZero() {
						created = r.Created.UTC().Format("2006-01-02 15:04")
					}
					for _, n := range names {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", n, shortID(r.ID), created, humanSize(r.Size), len(r.Layers))
					}
				}
				return tw.Flush()
			}
			return sandboxErr("--format %q: want table or json", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func newRmiCommand(g *globalFlags, use string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " IMAGE...",
		Short: "Remove images (by name or ID prefix) and the layers no other image uses",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(g)
			if err != nil {
				return err
			}
			var firstErr error
			for _, a := range args {
				removed, err := s.Remove(storeNameArg(a))
				if err != nil {
					logger(g).Error(err.Error())
					if firstErr == nil {
						firstErr = &exitError{code: 125}
					}
					continue
				}
				if removed {
					fmt.Println("removed", a)
				} else {
					fmt.Println("untagged", a)
				}
			}
			return firstErr
		},
	}
}

// storeNameArg accepts what the user wrote ("nginx:1.25") for the name the
// store records ("index.docker.io/library/nginx:1.25"); IDs pass unchanged.
func storeNameArg(a string) string {
	if ref, err := pod.ParseImage(a); err == nil && ref.IsStored() {
		if n, err := image.StoreName(ref); err == nil {
			if s, err := openStoreQuiet(); err == nil {
				if _, err := s.Lookup(n); err == nil {
					return n
				}
			}
		}
	}
	return a
}

func openStoreQuiet() (*image.Store, error) {
	root, err := image.DefaultRoot()
	if err != nil {
		return nil, err
	}
	return &image.Store{Root: root}, nil
}

func newPruneCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Remove unnamed images no pod uses, unreferenced layers and leftovers of interrupted pulls",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(g)
			if err != nil {
				return err
			}
			imgs, layers, err := s.Prune()
			if err != nil {
				return sandboxErr("prune: %v", err)
			}
			fmt.Printf("removed %d images, %d layers\n", imgs, layers)
			return nil
		},
	}
}

func shortID(id string) string { return id[:min(12, len(id))] }

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
