package lima

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pixi-lima/pixi-lima/env"
)

// SharedCache is Lima's download cache in the image-cache directory dir.
func SharedCache(dir string) string { return filepath.Join(dir, "lima") }

// LinkImageCache makes link (env.Paths.LimaCache) a symlink to
// SharedCache(dir), or with dir "" the project's own directory again.
// Sharing is safe: Lima locks each cache entry and copies images at create.
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
		if err := os.RemoveAll(link); err != nil {
			return err
		}
	} else if !errors.Is(lerr, fs.ErrNotExist) {
		return lerr
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
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

// AddImageCache lists SharedCache(dir) unless Plan listed it as Lima's own.
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
