package nsenter

import (
	"slices"
	"testing"

	"github.com/podsandbox/sandbox/pod"
)

// fastrun.c encodes the capability mask and names the Go encoder would
// (containerinit.EncodeC): the lists must be the same, in the same order.
func TestFastRunCapabilityNames(t *testing.T) {
	if got := fastRunCapNames(); !slices.Equal(got, pod.CapabilityNames) {
		t.Errorf("fastrun.c cap_names = %v\nwant pod.CapabilityNames = %v", got, pod.CapabilityNames)
	}
}
