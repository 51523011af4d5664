package supervisor

import (
	"bytes"
	"strings"
	"testing"

	"github.com/podsandbox/sandbox/internal/crilog"
)

// rawLog records what copyLines logs, without timestamps.
type rawLog struct{ bytes.Buffer }

func (r *rawLog) WriteLine(stream string, line []byte) error {
	r.Write(line)
	return nil
}

func TestCopyLinesPrefixesEveryLineAndKeepsTheLogRaw(t *testing.T) {
	tests := []struct {
		name     string
		input    string
		wantTerm string
	}{
		{name: "two lines", input: "a\nb\n", wantTerm: "web | a\nweb | b\n"},
		{name: "unterminated last line", input: "a\nb", wantTerm: "web | a\nweb | b\n"},
		{name: "empty", input: "", wantTerm: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var term bytes.Buffer
			var log rawLog
			copyLines(strings.NewReader(tt.input), crilog.Stdout, "web | ", &terminal{w: &term}, &log)
			if term.String() != tt.wantTerm {
				t.Errorf("terminal = %q, want %q", term.String(), tt.wantTerm)
			}
			if log.String() != tt.input {
				t.Errorf("log = %q, want the raw input %q", log.String(), tt.input)
			}
		})
	}
}

func TestCopyLinesSplitsOverlongLines(t *testing.T) {
	long := strings.Repeat("x", maxLine*2+10) + "\n"
	var term bytes.Buffer
	var log rawLog
	copyLines(strings.NewReader(long), crilog.Stdout, "", &terminal{w: &term}, &log)
	if log.String() != long || term.String() != long {
		t.Fatalf("overlong line changed: log %d bytes, terminal %d bytes, want %d", log.Len(), term.Len(), len(long))
	}
}
