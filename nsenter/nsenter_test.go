package nsenter

import (
	"errors"
	"strings"
	"testing"
)

func TestReadReport(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Report
		wantErr string
	}{
		{name: "pause ready", input: "ok\n", want: Report{OK: true}},
		{name: "join pid then ok", input: "pid 42\nok\n", want: Report{PID: 42, OK: true}},
		{name: "join ok before pid", input: "ok\npid 42\n", want: Report{PID: 42, OK: true}},
		{name: "constructor error", input: "error setns: Operation not permitted\n", wantErr: "setns: Operation not permitted"},
		{name: "exit before ready", input: "pid 7\n", wantErr: "exited before it was ready"},
		{name: "empty", input: "", wantErr: "exited before it was ready"},
		{name: "garbage pid", input: "pid x\nok\n", wantErr: "bad pid report"},
		{name: "unknown line", input: "hello\n", wantErr: "unexpected report"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadReport(strings.NewReader(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSetup) {
					t.Fatalf("ReadReport(%q) error = %v, want one containing %q wrapping ErrSetup", tt.input, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadReport(%q) = %+v, %v; want %+v", tt.input, got, err, tt.want)
			}
		})
	}
}
