package lima

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// LinkImageCache with real files: the project's own cache gives way to a
// link, a second call changes nothing, a removed target comes back, and
// with the setting gone the link goes and the shared cache stays.
func TestLinkImageCache(t *testing.T) {
	tmp := t.TempDir()
	link := filepath.Join(tmp, "p", ".pixi", "pixi-lima", "cache", "lima")
	shared := filepath.Join(tmp, "shared")
	entry := filepath.Join(SharedCache(shared), "download", "data")

	// No cache yet: the link and its target are made.
	if err := LinkImageCache(link, shared); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(link); got != SharedCache(shared) {
		t.Fatalf("link -> %q, want %q", got, SharedCache(shared))
	}
	if err := os.MkdirAll(filepath.Dir(entry), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entry, []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Lstat(link)
	if err := LinkImageCache(link, shared); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Lstat(link); !os.SameFile(before, after) {
		t.Error("a second call replaced a link that was right")
	}

	// clean-global removed the shared cache: it is made again, so that
	// Lima does not meet a dangling link.
	if err := os.RemoveAll(shared); err != nil {
		t.Fatal(err)
	}
	if err := LinkImageCache(link, shared); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(link); err != nil || !info.IsDir() {
		t.Fatalf("after the target was removed: %v", err)
	}

	// The setting removed: the link goes, never what it pointed to.
	if err := os.WriteFile(filepath.Join(SharedCache(shared), "keep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LinkImageCache(link, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(SharedCache(shared), "keep")); err != nil {
		t.Errorf("the shared cache lost a file: %v", err)
	}

	// The project's own cache, a real directory, gives way to the link;
	// without the setting it is left alone.
	if err := os.MkdirAll(filepath.Join(link, "download"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := LinkImageCache(link, ""); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || !info.IsDir() {
		t.Fatalf("own cache without the setting: %v", err)
	}
	if err := LinkImageCache(link, shared); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(link); got != SharedCache(shared) {
		t.Errorf("own cache not replaced: link -> %q", got)
	}
	if leftovers, _ := filepath.Glob(link + ".new*"); len(leftovers) > 0 {
		t.Errorf("temporary links left: %v", leftovers)
	}
}

// clean-global lists the shared cache once, and not when it is Lima's own.
func TestAddImageCache(t *testing.T) {
	home := t.TempDir()
	g := Global{Home: filepath.Join(home, ".lima"), Cache: filepath.Join(home, ".cache", "lima")}
	shared := filepath.Join(home, "shared")
	for _, dir := range []string{g.Cache, SharedCache(shared)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p, err := g.Plan("")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", filepath.Join(home, ".cache"), shared} {
		if err := p.AddImageCache(dir); err != nil {
			t.Fatal(err)
		}
	}
	var caches []string
	for _, it := range p.Items {
		caches = append(caches, it.Name+" "+it.Path)
	}
	want := []string{"lima " + g.Cache, "image-cache " + SharedCache(shared)}
	if strings.Join(caches, "\n") != strings.Join(want, "\n") {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(caches, "\n"), strings.Join(want, "\n"))
	}
}
