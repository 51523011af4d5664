package pod

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const volumeBase = `apiVersion: v1
kind: Pod
metadata: {name: v}
spec:
`

func TestVolumeAndSecurityValidation(t *testing.T) {
	for _, tc := range []struct {
		name, spec, want string
	}{
		{"relative hostPath (B-7)", `
  volumes: [{name: a, hostPath: {path: data}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0].hostPath.path: "data" must be an absolute path`},
		{"non-clean hostPath (B-7)", `
  volumes: [{name: a, hostPath: {path: /data/../etc}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0].hostPath.path: "/data/../etc" is not clean: write "/etc"`},
		{"bad hostPath type", `
  volumes: [{name: a, hostPath: {path: /data, type: Dir}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0].hostPath.type: "Dir" is not a hostPath type`},
		{"duplicate volume (B-5)", `
  volumes: [{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[1].name: duplicate volume name "a": spec.volumes[0] and spec.volumes[1]`},
		{"no source", `
  volumes: [{name: a}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0]: no supported volume source`},
		{"two sources", `
  volumes: [{name: a, emptyDir: {}, hostPath: {path: /x}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0]: more than one volume source`},
		{"bad medium", `
  volumes: [{name: a, emptyDir: {medium: HugePages}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0].emptyDir.medium: "HugePages" is not supported`},
		{"bad quantity", `
  volumes: [{name: a, emptyDir: {medium: Memory, sizeLimit: lots}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0].emptyDir.sizeLimit: "lots" is not a quantity`},
		{"fractional quantity", `
  volumes: [{name: a, emptyDir: {medium: Memory, sizeLimit: 500m}}]
  containers: [{name: c, command: [x]}]`, `spec.volumes[0].emptyDir.sizeLimit: "500m" is not a whole number of bytes`},
		{"negative quantity", `
  volumes: [{name: a, emptyDir: {medium: Memory, sizeLimit: "-1"}}]
  containers: [{name: c, command: [x]}]`, `"-1" must be positive`},
		{"huge quantity", `
  volumes: [{name: a, emptyDir: {medium: Memory, sizeLimit: "1e30"}}]
  containers: [{name: c, command: [x]}]`, `"1e30" is too large`},
		{"mount of unknown volume", `
  containers: [{name: c, command: [x], volumeMounts: [{name: b, mountPath: /b}]}]`, `spec.containers[0].volumeMounts[0].name: no volume named "b"`},
		{"relative destination (B-8)", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: data}]}]`, `mountPath: "data" must be an absolute path`},
		{"root destination (B-8)", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: /../..}]}]`, `mountPath: "/../.." is the container's root`},
		{"proc destination (B-8)", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: /x/../proc/sys}]}]`, `mountPath: "/x/../proc/sys" is under /proc`},
		{"sys destination (B-8)", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: /sys}]}]`, `is under /sys`},
		{"dev destination (B-8)", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: /dev/x}]}]`, `is under /dev`},
		{"duplicate destination after cleaning (B-5)", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: /d}, {name: a, mountPath: /x/../d/}]}]`, `duplicate mount destination "/d": spec.containers[0].volumeMounts[0] and spec.containers[0].volumeMounts[1]`},
		{"absolute subPath", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: /d, subPath: /etc}]}]`, `subPath: "/etc" must be a relative path`},
		{"subPath with ..", `
  volumes: [{name: a, emptyDir: {}}]
  containers: [{name: c, command: [x], volumeMounts: [{name: a, mountPath: /d, subPath: a/../../x}]}]`, `subPath: "a/../../x" must not contain '..'`},
		{"bad host alias ip", `
  hostAliases: [{ip: "10.0.0.300", hostnames: [a]}]
  containers: [{name: c, command: [x]}]`, `spec.hostAliases[0].ip: "10.0.0.300" is not an IP address`},
		{"host alias name with space", `
  hostAliases: [{ip: 10.0.0.1, hostnames: ["a b"]}]
  containers: [{name: c, command: [x]}]`, `spec.hostAliases[0].hostnames[0]: "a b" is not a valid host name`},
		{"dnsPolicy None without nameservers", `
  dnsPolicy: None
  containers: [{name: c, command: [x]}]`, `spec.dnsConfig.nameservers: required when dnsPolicy is None`},
		{"bad nameserver", `
  dnsConfig: {nameservers: [example.com]}
  containers: [{name: c, command: [x]}]`, `spec.dnsConfig.nameservers[0]: "example.com" is not an IP address`},
		{"uid out of range (B-13)", `
  containers: [{name: c, command: [x], securityContext: {runAsUser: -1}}]`, `spec.containers[0].securityContext.runAsUser: -1 is out of range`},
		{"runAsNonRoot without a user", `
  securityContext: {runAsNonRoot: true}
  containers: [{name: c, command: [x]}]`, `spec.containers[0].securityContext.runAsNonRoot: is true but the container would run as root`},
		{"runAsNonRoot with uid 0", `
  containers: [{name: c, command: [x], securityContext: {runAsNonRoot: true, runAsUser: 0}}]`, `runAsNonRoot: is true but runAsUser is 0`},
		{"unknown capability", `
  containers: [{name: c, command: [x], securityContext: {capabilities: {add: [NET_ADMINS]}}}]`, `capabilities.add[0]: "NET_ADMINS" is not a Linux capability`},
		{"privileged without escalation", `
  containers: [{name: c, command: [x], securityContext: {privileged: true, allowPrivilegeEscalation: false}}]`, `allowPrivilegeEscalation: cannot be false when privileged is true`},
		{"Localhost seccomp", `
  containers: [{name: c, command: [x], securityContext: {seccompProfile: {type: Localhost, localhostProfile: x.json}}}]`, `seccompProfile.type: Localhost profiles are not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := Decode([]byte(volumeBase + strings.TrimPrefix(tc.spec, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			err = p.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("got %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestVolumesAccepted(t *testing.T) {
	p, warnings, err := Decode([]byte(volumeBase + `  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
  - {name: host, hostPath: {path: /srv/data, type: DirectoryOrCreate}}
  hostAliases: [{ip: "10.1.2.3", hostnames: [db, db.local]}]
  dnsConfig: {nameservers: [1.1.1.1], searches: [example.com], options: [{name: ndots, value: "2"}]}
  securityContext: {runAsUser: 1000, runAsGroup: 1000, supplementalGroups: [5]}
  containers:
  - name: c
    command: [x]
    volumeMounts:
    - {name: scratch, mountPath: /a/../scratch}
    - {name: host, mountPath: /host, readOnly: true, subPath: sub/dir}
    securityContext:
      capabilities: {drop: [ALL], add: [CAP_NET_BIND_SERVICE, kill]}
      readOnlyRootFilesystem: true
      seccompProfile: {type: Unconfined}
`))
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := ParseSizeLimit(p.Spec.Volumes[1].EmptyDir.SizeLimit)
	if err != nil || n != 64<<20 {
		t.Errorf("sizeLimit = %d, %v", n, err)
	}
	sec := p.EffectiveSecurity(&p.Spec.Containers[0])
	if sec.UID != 1000 || sec.GID != 1000 || !slices.Equal(sec.SupplementalGroups, []int64{5}) ||
		!slices.Equal(sec.Capabilities, []string{"KILL", "NET_BIND_SERVICE"}) || sec.Seccomp || !sec.NoNewPrivs ||
		!sec.ReadOnlyRootfs || !sec.MaskPaths {
		t.Errorf("effective security %+v", sec)
	}
}

func TestDefaultSecurity(t *testing.T) {
	p := &Pod{Spec: PodSpec{Containers: []Container{{Name: "c"}}}}
	sec := p.EffectiveSecurity(&p.Spec.Containers[0])
	if sec.UID != 0 || !sec.Seccomp || !sec.NoNewPrivs || !sec.MaskPaths || sec.Privileged ||
		!slices.Equal(sec.Capabilities, DefaultCapabilities) {
		t.Errorf("default security %+v", sec)
	}
	priv := true
	p.Spec.Containers[0].SecurityContext = &SecurityContext{Privileged: &priv}
	sec = p.EffectiveSecurity(&p.Spec.Containers[0])
	if sec.Seccomp || sec.NoNewPrivs || sec.MaskPaths || len(sec.Capabilities) != len(CapabilityNames) {
		t.Errorf("privileged security %+v", sec)
	}
}

func TestParseSizeLimit(t *testing.T) {
	for in, want := range map[string]int64{"64Mi": 64 << 20, "1G": 1e9, "1e3": 1000, "1Ki": 1024, "1": 1} {
		if got, err := ParseSizeLimit(in); err != nil || got != want {
			t.Errorf("ParseSizeLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}
