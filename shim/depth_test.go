package shim

import (
	"strings"
	"testing"
)

func TestCheckDepth(t *testing.T) {
	for value, want := range map[string]int{"": 1, "0": 1, "3": 4, "7": 8, "junk": 1} {
		got, err := checkDepth("docker", func(string) string { return value })
		if err != nil || got != want {
			t.Errorf("depth %q: got %d, %v; want %d", value, got, err, want)
		}
	}
	for _, value := range []string{"8", "99"} {
		_, err := checkDepth("docker", func(string) string { return value })
		e, ok := err.(*Error)
		if !ok || e.Code != ExitLoop || !strings.Contains(e.Msg, "wrapped "+value+" times") || e.Hint == "" {
			t.Errorf("depth %q: err = %#v, want ExitLoop naming the depth, with a hint", value, err)
		}
	}
}
