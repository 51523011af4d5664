package pod

import (
	"errors"
	"strings"
	"testing"
)

func TestLifecycleValidation(t *testing.T) {
	exec := func(cmd ...string) *LifecycleHandler { return &LifecycleHandler{Exec: &ExecAction{Command: cmd}} }
	tests := []struct {
		name    string
		lc      *Lifecycle
		init    bool
		wantErr string // "" = valid
	}{
		{"exec hooks", &Lifecycle{PostStart: exec("/bin/true"), PreStop: exec("sh", "-c", "x")}, false, ""},
		{"sleep", &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 3}}}, false, ""},
		{"empty handler", &Lifecycle{PostStart: &LifecycleHandler{}}, false, "lifecycle.postStart: needs exactly one handler"},
		{"two handlers", &Lifecycle{PreStop: &LifecycleHandler{Exec: &ExecAction{Command: []string{"x"}}, Sleep: &SleepAction{}}}, false, "exactly one handler"},
		{"empty command", &Lifecycle{PreStop: exec()}, false, "lifecycle.preStop.exec.command: required"},
		{"nul in command", &Lifecycle{PreStop: exec("a\x00b")}, false, "preStop.exec.command[0]: contains a NUL"},
		{"negative sleep", &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: -1}}}, false, "sleep.seconds: -1"},
		{"init container", &Lifecycle{PostStart: exec("x")}, true, "spec.initContainers[0].lifecycle: must not be set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			if tc.init {
				c := p.Spec.Containers[0]
				c.Name = "init"
				c.Lifecycle = tc.lc
				p.Spec.InitContainers = []Container{c}
			} else {
				p.Spec.Containers[0].Lifecycle = tc.lc
			}
			err := p.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("valid lifecycle refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLifecycleUnsupportedHandlersWarn(t *testing.T) {
	_, warnings, err := Decode([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[
		{"name":"c","command":["x"],"lifecycle":{"preStop":{"httpGet":{"path":"/"}},"stopSignal":"SIGUSR1"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Path)
	}
	want := "spec.containers[0].lifecycle.preStop.httpGet spec.containers[0].lifecycle.stopSignal"
	if strings.Join(got, " ") != want {
		t.Errorf("warnings %q, want %q", got, want)
	}
}
