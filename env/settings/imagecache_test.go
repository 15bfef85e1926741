package settings

import (
	"path/filepath"
	"strings"
	"testing"
)

// image-cache: "~" is the user's home, a relative path the project's,
// the variable wins, and nothing overlapping .pixi is taken.
func TestParseConfigImageCache(t *testing.T) {
	home, root := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	parse := func(value string, vars map[string]string) (Config, error) {
		manifest := "[workspace]\nname = \"w\"\n"
		if value != "" {
			manifest += "[tool.pixi-lima]\nimage-cache = " + value + "\n"
		}
		return Parse(root, []byte(manifest), configEnv(vars))
	}
	for value, want := range map[string]string{
		``:                       "",
		`""`:                     "",
		`"~/.cache/pixi-lima"`:   filepath.Join(home, ".cache", "pixi-lima"),
		`"../shared"`:            filepath.Join(filepath.Dir(root), "shared"),
		`"/var/tmp/images/../x"`: "/var/tmp/x",
	} {
		c, err := parse(value, nil)
		if err != nil || c.ImageCache != want {
			t.Errorf("image-cache = %s: got %q, %v; want %q", value, c.ImageCache, err, want)
		}
	}
	c, err := parse(`"/a"`, map[string]string{"PIXI_LIMA_IMAGE_CACHE": "~/b"})
	if err != nil || c.ImageCache != filepath.Join(home, "b") {
		t.Errorf("PIXI_LIMA_IMAGE_CACHE=~/b: got %q, %v", c.ImageCache, err)
	}
	for _, value := range []string{`".pixi/cache"`, `"."`, `"` + root + `/.pixi"`, `true`} {
		if _, err := parse(value, nil); err == nil || !strings.Contains(err.Error(), "image-cache: got ") {
			t.Errorf("image-cache = %s: err = %v, want it refused", value, err)
		}
	}
}
