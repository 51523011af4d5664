package execin

import (
	"reflect"
	"testing"
)

func TestParseIdentity(t *testing.T) {
	status := []byte("Name:\tsh\nUid:\t101000\t101000\t101000\t101000\nGid:\t1000\t1000\t1000\t1000\n" +
		"Groups:\t1000 101005 5 \nNoNewPrivs:\t1\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n" +
		"CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n")
	uidMap := []byte("         0       1000          1\n         1     100000      65536\n")
	got, err := parseIdentity(status, uidMap, uidMap)
	if err != nil {
		t.Fatal(err)
	}
	want := &Identity{UID: 1001, GID: 0, Groups: []uint32{0, 1006}, Bounding: 0xa80425fb, Permitted: 0xa80425fb,
		Effective: 0xa80425fb, NoNewPrivs: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := parseIdentity(status, []byte("0 0 1\n"), uidMap); err == nil {
		t.Error("an unmapped uid was accepted")
	}
}
