package pod

import (
	"errors"
	"strings"
	"testing"
)

func TestPortsValidation(t *testing.T) {
	tcp := func(cp, hp int64, ip string) ContainerPort {
		return ContainerPort{ContainerPort: cp, HostPort: hp, HostIP: ip}
	}
	udp := func(cp, hp int64) ContainerPort {
		return ContainerPort{ContainerPort: cp, HostPort: hp, Protocol: ProtocolUDP}
	}
	tests := []struct {
		name    string
		a, b    []ContainerPort // ports of two containers
		hostNet bool
		wantErr string
	}{
		{"container port only", []ContainerPort{tcp(80, 0, "")}, nil, false, ""},
		{"published", []ContainerPort{tcp(80, 8080, "")}, []ContainerPort{tcp(81, 8081, "127.0.0.1")}, false, ""},
		{"tcp and udp same port", []ContainerPort{tcp(53, 5353, "")}, []ContainerPort{udp(54, 5353)}, false, ""},
		{"same host port, distinct addresses", []ContainerPort{tcp(80, 8080, "127.0.0.1")}, []ContainerPort{tcp(81, 8080, "127.0.0.2")}, false, ""},
		{"v4 wildcard and v6 loopback", []ContainerPort{tcp(80, 8080, "")}, []ContainerPort{tcp(81, 8080, "::1")}, false, ""},
		{"containerPort 0", []ContainerPort{tcp(0, 0, "")}, nil, false, "ports[0].containerPort: 0 is out of range"},
		{"containerPort too big", []ContainerPort{tcp(70000, 0, "")}, nil, false, "containerPort: 70000 is out of range"},
		{"hostPort too big", []ContainerPort{tcp(80, 65536, "")}, nil, false, "hostPort: 65536 is out of range"},
		{"hostPort negative", []ContainerPort{tcp(80, -1, "")}, nil, false, "hostPort: -1 is out of range"},
		{"sctp", []ContainerPort{{ContainerPort: 80, Protocol: "SCTP"}}, nil, false, `protocol: "SCTP" is not supported`},
		{"lower-case protocol", []ContainerPort{{ContainerPort: 80, Protocol: "tcp"}}, nil, false, `"tcp" is not supported`},
		{"bad hostIP", []ContainerPort{tcp(80, 8080, "localhost")}, nil, false, `hostIP: "localhost" is not an IP address`},
		{"hostIP without hostPort", []ContainerPort{tcp(80, 0, "127.0.0.1")}, nil, false, "hostIP: set without hostPort"},
		{"same containerPort twice", []ContainerPort{tcp(80, 0, "")}, []ContainerPort{tcp(80, 0, "")}, false, "spec.containers[1].ports[0].containerPort: 80/TCP is already declared by spec.containers[0].ports[0]"},
		{"same host port twice", []ContainerPort{tcp(80, 8080, "")}, []ContainerPort{tcp(81, 8080, "")}, false, "spec.containers[1].ports[0].hostPort: 8080/TCP on 0.0.0.0 conflicts with spec.containers[0].ports[0]"},
		{"wildcard overlaps loopback", []ContainerPort{tcp(80, 8080, "0.0.0.0")}, []ContainerPort{tcp(81, 8080, "127.0.0.1")}, false, "conflicts with"},
		{"loopback overlaps wildcard", []ContainerPort{tcp(80, 8080, "127.0.0.1")}, []ContainerPort{tcp(81, 8080, "")}, false, "conflicts with"},
		{"v6 wildcard overlaps v4", []ContainerPort{tcp(80, 8080, "::")}, []ContainerPort{tcp(81, 8080, "127.0.0.1")}, false, "conflicts with"},
		{"udp conflict", []ContainerPort{udp(53, 5353)}, []ContainerPort{udp(54, 5353)}, false, "5353/UDP on 0.0.0.0 conflicts"},
		{"hostNetwork same port", []ContainerPort{tcp(80, 80, "")}, nil, true, ""},
		{"hostNetwork remap", []ContainerPort{tcp(80, 8080, "")}, nil, true, "must equal containerPort (80) with spec.hostNetwork"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			p.Spec.HostNetwork = tc.hostNet
			p.Spec.Containers[0].Ports = tc.a
			if tc.b != nil {
				c := p.Spec.Containers[0]
				c.Name = "second"
				c.Ports = tc.b
				p.Spec.Containers = append(p.Spec.Containers, c)
			}
			err := p.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("valid ports refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestPortsDecodeAndHostPorts(t *testing.T) {
	p, warnings, err := Decode([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[
		{"name":"c","command":["x"],"ports":[{"name":"http","containerPort":80,"hostPort":8080},{"containerPort":53,"hostPort":5353,"protocol":"UDP","hostIP":"127.0.0.1"},{"containerPort":9}]}]}}`))
	if err != nil || len(warnings) != 0 {
		t.Fatalf("decode: %v, warnings %v", err, warnings)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	hp := p.HostPorts()
	if len(hp) != 2 || hp[0].String() != "0.0.0.0:8080/TCP -> 80" || hp[1].String() != "127.0.0.1:5353/UDP -> 53" {
		t.Fatalf("HostPorts = %v", hp)
	}
}
