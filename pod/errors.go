package pod

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error from Decode, Validate and ParseImage matches
// one of them with errors.Is (Load's may instead be an fs error such as
// fs.ErrNotExist); the message itself says what is wrong and where.
var (
	// ErrEmpty: the manifest has no content (only whitespace or comments).
	ErrEmpty = errors.New("empty manifest")
	// ErrSyntax: the manifest is not well-formed JSON or YAML, has duplicate
	// keys, data after the object, or more than one YAML document.
	ErrSyntax = errors.New("syntax error")
	// ErrTooLarge: the manifest exceeds MaxManifestBytes or MaxNesting.
	ErrTooLarge = errors.New("pod spec too large")
	// ErrUnknownField: a field that neither sandbox nor Kubernetes knows.
	ErrUnknownField = errors.New("unknown field")
	// ErrWrongType: a value of the wrong JSON type for its field.
	ErrWrongType = errors.New("wrong type")
	// ErrNotRegularFile: Load was given a directory, FIFO, device or socket.
	ErrNotRegularFile = errors.New("not a regular file")
	// ErrInvalid: a value that decodes but is not allowed (Validate, and
	// apiVersion/kind in Decode).
	ErrInvalid = errors.New("invalid pod")
	// ErrImageNotSupported: an image reference that would need pulling.
	ErrImageNotSupported = errors.New("image pulling not supported")
)

// FieldError is one problem with one field of the manifest. Err is the
// sentinel it matches; Msg is the human-readable text.
type FieldError struct {
	// Path is the field path, e.g. "spec.containers[0].name"; empty when the
	// problem concerns the document as a whole.
	Path string
	Msg  string
	Err  error
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErrorf builds a *FieldError; path may be empty.
func fieldErrorf(sentinel error, path, format string, args ...any) *FieldError {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// maxReportedProblems caps how many problems one Decode or Validate reports:
// a 1 MiB manifest could otherwise produce hundreds of thousands of lines.
const maxReportedProblems = 50

// problems collects errors up to maxReportedProblems.
type problems struct {
	errs    []error
	dropped int
}

func (p *problems) add(err error) {
	if len(p.errs) >= maxReportedProblems {
		p.dropped++
		return
	}
	p.errs = append(p.errs, err)
}

func (p *problems) addf(sentinel error, path, format string, args ...any) {
	p.add(fieldErrorf(sentinel, path, format, args...))
}

// err returns nil or the errors.Join of all problems.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := p.errs
	if p.dropped > 0 {
		// Keep the sentinel of the first error so errors.Is still works on
		// the summary line alone.
		errs = append(errs, fieldErrorf(errors.Unwrap(p.errs[0]), "", "and %d more problems not shown", p.dropped))
	}
	return errors.Join(errs...)
}
