package env

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// MaxRootLength is exact: a project path of that length fits, one more
// does not, and the refusal says the length.
func TestMaxRootLength(t *testing.T) {
	for _, tc := range []struct {
		goos, instance string
		want           int
	}{
		{"darwin", "docker", 59}, {"linux", "docker", 63},
		{"darwin", "company-platform-docker", 42}, {"linux", "company-platform-docker", 46},
	} {
		max := MaxRootLength(tc.instance, tc.goos)
		if max != tc.want {
			t.Errorf("%s %s: MaxRootLength = %d, want %d", tc.goos, tc.instance, max, tc.want)
		}
		root := "/" + strings.Repeat("r", max-1)
		if err := CheckSocketBudget(NewPaths(root).LimaHome, tc.instance, tc.goos); err != nil {
			t.Errorf("%s %s: %d characters: %v", tc.goos, tc.instance, len(root), err)
		}
		err := CheckSocketBudget(NewPaths(root+"r").LimaHome, tc.instance, tc.goos)
		var sock *SocketPathError
		if !errors.As(err, &sock) || sock.MaxRoot != max ||
			!strings.Contains(err.Error(), "a project path of at most "+strconv.Itoa(max)+" characters fits") {
			t.Errorf("%s %s: %d characters: %v; want a refusal naming %d", tc.goos, tc.instance, len(root)+1, err, max)
		}
	}
}
