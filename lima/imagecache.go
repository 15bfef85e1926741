package lima

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pixi-lima/pixi-lima/env"
)

// SharedCache is Lima's download cache in the image-cache directory dir:
// dir/lima, laid out as Lima lays out its own ~/.cache/lima.
func SharedCache(dir string) string { return filepath.Join(dir, "lima") }

// LinkImageCache makes link, where the project's limactl keeps its
// downloads (env.Paths.LimaCache), a symlink to SharedCache(dir), or with
// dir "" the project's own directory again. Only that directory moves, so
// the rest of limactl's XDG_CACHE_HOME and HOME stays in .pixi. Sharing
// is safe: Lima copies an image into the instance at create and locks each
// cache entry, and deleting .pixi removes the link, not its target.
func LinkImageCache(link, dir string) error {
	info, lerr := os.Lstat(link)
	isLink := lerr == nil && info.Mode()&fs.ModeSymlink != 0
	if dir == "" {
		if isLink {
			return os.Remove(link)
		}
		return nil
	}
	target := SharedCache(dir)
	// Also when the link is in place: clean-global may have removed the target.
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	if isLink {
		if cur, _ := os.Readlink(link); cur == target {
			return nil
		}
	} else if lerr == nil {
		// The project's own cache, of no use once the shared one is.
		if err := os.RemoveAll(link); err != nil {
			return err
		}
	} else if !errors.Is(lerr, fs.ErrNotExist) {
		return lerr
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	// A rename replaces a link atomically, so concurrent calls never see none.
	tmp := link + ".new" + strconv.Itoa(os.Getpid())
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// AddImageCache lists SharedCache(dir) of the setting image-cache, unless
// Plan lists it already as Lima's own cache (dir is then ~/.cache).
func (p *GlobalPlan) AddImageCache(dir string) error {
	if dir == "" {
		return nil
	}
	cache := SharedCache(dir)
	if env.ResolvePath(cache) == env.ResolvePath(p.Cache) {
		return nil
	}
	isDir, err := p.realDir(cache)
	if err != nil || !isDir {
		return err
	}
	p.Items = append(p.Items, GlobalItem{Kind: KindCache, Name: "image-cache", Path: cache, Bytes: DiskUsage(cache)})
	return nil
}
