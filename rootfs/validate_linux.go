package rootfs

import (
	"fmt"
	"path/filepath"
	"strings"
)

// validate checks the spec before anything is mounted; each error names the field.
func (s *Spec) validate() error {
	checks := []func() error{
		func() error {
			if s.Root == "" {
				return checkAbs("Scratch", s.Scratch, "is required when Root is the host root (\"\")")
			}
			return checkAbs("Root", s.Root, "")
		},
		func() error {
			if s.ShmDir == "" {
				return nil
			}
			return checkAbs("ShmDir", s.ShmDir, "")
		},
	}
	for i, b := range s.Binds {
		checks = append(checks, func() error {
			if err := checkAbs(fmt.Sprintf("Binds[%d].Source", i), b.Source, ""); err != nil {
				return err
			}
			if err := checkSubPath(fmt.Sprintf("Binds[%d].SubPath", i), b.SubPath); err != nil {
				return err
			}
			return checkDestination(fmt.Sprintf("Binds[%d].Destination", i), b.Destination)
		})
	}
	for i, p := range append(append([]string(nil), s.MaskPaths...), s.ReadonlyPaths...) {
		checks = append(checks, func() error {
			field := fmt.Sprintf("MaskPaths[%d]", i)
			if i >= len(s.MaskPaths) {
				field = fmt.Sprintf("ReadonlyPaths[%d]", i-len(s.MaskPaths))
			}
			return checkAbs(field, p, "")
		})
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func checkAbs(field, p, missing string) error {
	switch {
	case p == "" && missing != "":
		return fmt.Errorf("%w: %s %s", ErrInvalidSpec, field, missing)
	case !filepath.IsAbs(p):
		return fmt.Errorf("%w: %s %q must be an absolute path", ErrInvalidSpec, field, p)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("%w: %s %q contains NUL", ErrInvalidSpec, field, p)
	}
	return nil
}

// checkDestination accepts an absolute path inside the container that is not "/" itself and not under /proc or
// /sys: a bind there could hide or redirect kernel interfaces (runc's checkProcMount, CVE-2019-16884); masking
// such paths is a separate, dedicated step.
func checkDestination(field, p string) error {
	if err := checkAbs(field, p, ""); err != nil {
		return err
	}
	clean := filepath.Clean(p)
	if clean == "/" {
		return fmt.Errorf("%w: %s must not be /", ErrInvalidSpec, field)
	}
	for _, kernel := range []string{"/proc", "/sys"} {
		if clean == kernel || strings.HasPrefix(clean, kernel+"/") {
			return fmt.Errorf("%w: %s %q is under %s", ErrInvalidSpec, field, p, kernel)
		}
	}
	return nil
}

// checkSubPath accepts "" or a relative path without ".." components (it is resolved inside the source anyway;
// this keeps the intent readable).
func checkSubPath(field, p string) error {
	if p == "" {
		return nil
	}
	if filepath.IsAbs(p) || strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("%w: %s %q must be a relative path", ErrInvalidSpec, field, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("%w: %s %q must not contain \"..\"", ErrInvalidSpec, field, p)
		}
	}
	return nil
}
