package crilog

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestWriteThenParseRoundTrips(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	at := time.Date(2026, 11, 27, 11, 45, 0, 123456789, time.UTC)
	w.now = func() time.Time { return at }
	w.WriteLine(Stdout, []byte("hello world\n"))
	w.WriteLine(Stderr, []byte("no newline"))
	w.WriteLine(Stdout, []byte("\n"))
	want := "2026-11-27T11:45:00.123456789Z stdout F hello world\n" +
		"2026-11-27T11:45:00.123456789Z stderr P no newline\n" +
		"2026-11-27T11:45:00.123456789Z stdout F \n"
	if buf.String() != want {
		t.Fatalf("log =\n%q\nwant\n%q", buf.String(), want)
	}
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	tests := []Entry{
		{Time: at, Stream: Stdout, Content: []byte("hello world")},
		{Time: at, Stream: Stderr, Partial: true, Content: []byte("no newline")},
		{Time: at, Stream: Stdout, Content: []byte("")},
	}
	for i, want := range tests {
		got, err := Parse(lines[i])
		if err != nil || !got.Time.Equal(want.Time) || got.Stream != want.Stream || got.Partial != want.Partial || string(got.Content) != string(want.Content) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", lines[i], got, err, want)
		}
	}
}

func TestParseRejectsMalformedLines(t *testing.T) {
	for _, line := range []string{"", "hello", "notatime stdout F x", "2026-11-27T11:45:00Z stdout X x"} {
		if _, err := Parse([]byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) error = %v, want ErrMalformed", line, err)
		}
	}
}
