package podfiles

import (
	"strings"
	"testing"

	"github.com/podsandbox/sandbox/pod"
)

func TestHosts(t *testing.T) {
	p := &pod.Pod{Metadata: pod.ObjectMeta{Name: "web"}, Spec: pod.PodSpec{
		Hostname:    "front",
		HostAliases: []pod.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db", "db.local"}}},
	}}
	got := string(Hosts(p))
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "::1\tlocalhost ip6-localhost ip6-loopback\n",
		"127.0.1.1\tfront\n", "10.1.2.3\tdb\tdb.local\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts lacks %q:\n%s", want, got)
		}
	}
	if string(Hostname(p)) != "front\n" {
		t.Errorf("hostname %q", Hostname(p))
	}
}

const hostResolv = `# managed by someone
nameserver 127.0.0.53
nameserver ::1
nameserver 10.0.0.2
nameserver fe80::1%eth0
domain corp.example
search a.example b.example
options edns0 trust-ad ndots:1
`

func TestResolvConf(t *testing.T) {
	two := "2"
	for _, tc := range []struct {
		name string
		spec pod.PodSpec
		want string
	}{
		{"host minus loopback", pod.PodSpec{}, "nameserver 10.0.0.2\nsearch a.example b.example\noptions edns0 trust-ad ndots:1\n"},
		{"only loopback on the host", pod.PodSpec{DNSConfig: &pod.PodDNSConfig{Nameservers: []string{"1.1.1.1"}}},
			"nameserver 10.0.0.2\nnameserver 1.1.1.1\nsearch a.example b.example\noptions edns0 trust-ad ndots:1\n"},
		{"dnsConfig merged", pod.PodSpec{DNSConfig: &pod.PodDNSConfig{Nameservers: []string{"10.0.0.2", "9.9.9.9"},
			Searches: []string{"c.example"}, Options: []pod.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "rotate"}}}},
			"nameserver 10.0.0.2\nnameserver 9.9.9.9\nsearch a.example b.example c.example\noptions edns0 trust-ad ndots:2 rotate\n"},
		{"dnsPolicy None", pod.PodSpec{DNSPolicy: pod.DNSNone, DNSConfig: &pod.PodDNSConfig{Nameservers: []string{"9.9.9.9"}}},
			"nameserver 9.9.9.9\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(ResolvConf(&pod.Pod{Spec: tc.spec}, []byte(hostResolv)))
			_, body, _ := strings.Cut(got, "\n") // the comment line
			if body != tc.want {
				t.Errorf("got\n%s\nwant\n%s", body, tc.want)
			}
		})
	}
}
