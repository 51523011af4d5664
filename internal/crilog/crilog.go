// Package crilog writes and reads container logs in the CRI format that
// kubelet and CRI-O use: one entry per line,
//
//	2026-11-27T11:45:00.123456789Z stdout F the line
//
// where the tag is F for a full line and P for a partial one (a line split
// because it was too long or the stream ended without a newline). Keeping
// kubelet's format lets `sandbox logs` show timestamps and streams, and
// lets tools that read CRI logs read ours.
package crilog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Streams.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Entry is one parsed log line.
type Entry struct {
	Time    time.Time
	Stream  string
	Partial bool
	// Content is the line without its newline.
	Content []byte
}

// Writer appends entries to one log file; safe for concurrent streams.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, now: time.Now} }

// WriteLine writes one entry. line may end with '\n' (a full line) or not
// (partial).
func (w *Writer) WriteLine(stream string, line []byte) error {
	tag, content := "P", line
	if n := len(line); n > 0 && line[n-1] == '\n' {
		tag, content = "F", line[:n-1]
	}
	var b bytes.Buffer
	b.Grow(len(content) + 48)
	b.WriteString(w.now().UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(stream)
	b.WriteByte(' ')
	b.WriteString(tag)
	b.WriteByte(' ')
	b.Write(content)
	b.WriteByte('\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.w.Write(b.Bytes())
	return err
}

// ErrMalformed is returned for a line that is not a CRI log entry.
var ErrMalformed = errors.New("malformed CRI log line")

// Parse parses one line (with or without its trailing newline).
func Parse(line []byte) (Entry, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	parts := bytes.SplitN(line, []byte(" "), 4)
	if len(parts) < 3 {
		return Entry{}, fmt.Errorf("%w: %q", ErrMalformed, truncate(line))
	}
	t, err := time.Parse(time.RFC3339Nano, string(parts[0]))
	if err != nil {
		return Entry{}, fmt.Errorf("%w: time: %v", ErrMalformed, err)
	}
	e := Entry{Time: t, Stream: string(parts[1])}
	switch string(parts[2]) {
	case "F":
	case "P":
		e.Partial = true
	default:
		return Entry{}, fmt.Errorf("%w: tag %q", ErrMalformed, parts[2])
	}
	if len(parts) == 4 {
		e.Content = parts[3]
	}
	return e, nil
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
