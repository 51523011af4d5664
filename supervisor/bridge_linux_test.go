package supervisor

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/podsandbox/sandbox/internal/state"
	"github.com/podsandbox/sandbox/pod"
)

// Leases go round-robin (a released address is taken again only after the
// others), a lease of a dead supervisor is free (after kill -9), a live one
// is not, and a full subnet is an error that names it.
func TestLeaseAddressRoundRobinAndFreesDeadLeases(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "leases"), 0o700); err != nil {
		t.Fatal(err)
	}
	subnet := netip.MustParsePrefix("10.88.0.0/29") // .2 to .6
	newPod := func(name string) *sandbox {
		p := &pod.Pod{}
		p.Metadata.Name = name
		return &sandbox{pod: p}
	}
	lease := func(name string) (netip.Addr, error) {
		b := &bridgeNet{dir: dir, subnet: subnet, gateway: netip.MustParseAddr("10.88.0.1")}
		err := newPod(name).leaseAddress(b)
		return b.ip, err
	}
	writeLease := func(ip string, p state.Process) {
		data, _ := json.Marshal(leaseRecord{Pod: "other", Supervisor: p})
		if err := os.WriteFile(filepath.Join(dir, "leases", ip), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	self, err := state.Identify(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	dead := state.Process{PID: self.PID, StartTime: self.StartTime + 1} // a recycled PID: not that process

	// .2 is held by a live supervisor (us), .3 by a dead one.
	writeLease("10.88.0.2", self)
	writeLease("10.88.0.3", dead)
	for _, want := range []string{"10.88.0.3", "10.88.0.4", "10.88.0.5", "10.88.0.6"} {
		got, err := lease("p")
		if err != nil || got.String() != want {
			t.Fatalf("lease: %v, %v; want %s", got, err, want)
		}
		// Released at once, like a pod that ended: the next lease still
		// moves on.
		os.Remove(filepath.Join(dir, "leases", want))
	}
	// The ring wraps past .2 (live) to .3 again.
	if got, err := lease("p"); err != nil || got.String() != "10.88.0.3" {
		t.Fatalf("after the wrap: %v, %v; want 10.88.0.3", got, err)
	}
	for _, ip := range []string{"10.88.0.4", "10.88.0.5", "10.88.0.6"} {
		writeLease(ip, self)
	}
	if got, err := lease("p"); err == nil {
		t.Fatalf("a full subnet leased %v", got)
	}
}
