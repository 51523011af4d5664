package idmap

import (
	"errors"
	"strings"
	"testing"
)

func TestSubordinateFindsUserByNameOrID(t *testing.T) {
	const file = "# comment\nalice:100000:65536\n1001:200000:1000\nbroken line\nbob:x:5\n"
	tests := []struct {
		name string
		user string
		id   int
		want Range
		err  error
	}{
		{name: "by name", user: "alice", id: 1000, want: Range{HostID: 100000, Size: 65536}},
		{name: "by numeric id", user: "carol", id: 1001, want: Range{HostID: 200000, Size: 1000}},
		{name: "malformed entry is skipped", user: "bob", id: 1002, err: ErrNoSubordinate},
		{name: "absent", user: "dave", id: 1003, err: ErrNoSubordinate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Subordinate(strings.NewReader(file), tt.user, tt.id)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestMappingContains(t *testing.T) {
	m := WithSubordinate(1000, 1000, Range{HostID: 100000, Size: 65536}, Range{HostID: 100000, Size: 65536})
	for _, id := range []uint32{0, 1, 1000, 65535} {
		if !m.Contains(id, id) {
			t.Errorf("id %d should be mapped by %+v", id, m)
		}
	}
	if m.ContainsUID(65536) {
		t.Errorf("id 65536 must not be mapped (range capped at 65535 ids after root)")
	}
	single := Single(1000, 1000)
	if !single.Contains(0, 0) || single.ContainsUID(1) {
		t.Errorf("single mapping must hold only id 0: %+v", single)
	}
	if single.UseHelpers {
		t.Errorf("single mapping must not need newuidmap")
	}
}
