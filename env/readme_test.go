package env

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeNamesLimaCache: README's table of what lives where names the
// download cache limactl really uses on each OS.
func TestReadmeNamesLimaCache(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPaths("/r")
	for _, goos := range []string{"linux", "darwin"} {
		rel, _ := filepath.Rel("/r", p.LimaCache(goos))
		if !strings.Contains(string(readme), "`"+rel+"/`") {
			t.Errorf("README does not name %s's Lima cache `%s/`", goos, rel)
		}
	}
	// limactl really uses it: os.UserCacheDir under the overrides.
	for goos, cache := range map[string]string{"linux": p.LimaCache("linux"), "darwin": p.LimaCache("darwin")} {
		set := LimaOverrides(p, goos).Set
		var base string
		if goos == "darwin" {
			base = filepath.Join(set["HOME"], "Library", "Caches")
		} else {
			base = set["XDG_CACHE_HOME"]
		}
		if filepath.Join(base, "lima") != cache {
			t.Errorf("%s: limactl caches in %s/lima, LimaCache says %s", goos, base, cache)
		}
	}
}
