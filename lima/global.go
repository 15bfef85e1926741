package lima

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lima-vm/lima/pkg/store"
)

// Global is the Lima state that lives outside every project: where Lima
// keeps instances and images when LIMA_HOME is unset. Users who ran Lima
// before pixi-lima often have gigabytes there.
type Global struct {
	Home  string // $HOME/.lima: Lima's default LIMA_HOME
	Cache string // Lima's download cache: os.UserCacheDir()/lima
}

// GlobalDirs says where Lima keeps its global state for this HOME, the way
// Lima derives it (dirnames.LimaDir and os.UserCacheDir); a LIMA_HOME in the
// environment is ignored on purpose: the global home is the one to clean.
func GlobalDirs(goos string, getenv func(string) string) (Global, error) {
	home := getenv("HOME")
	if home == "" || !filepath.IsAbs(home) {
		return Global{}, errors.New("HOME is not set to an absolute path, so there is no global Lima home to look at")
	}
	cache := filepath.Join(home, ".cache")
	if goos == "darwin" {
		cache = filepath.Join(home, "Library", "Caches")
	} else if x := getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		cache = x
	}
	return Global{Home: filepath.Join(home, ".lima"), Cache: filepath.Join(cache, "lima")}, nil
}

// Kinds of GlobalItem.
const (
	KindInstance = "instance"
	KindConfig   = "config"
	KindCache    = "cache"
)

// GlobalItem is one thing clean-global lists and, with --yes, deletes.
type GlobalItem struct {
	Kind   string
	Name   string // instance name, or the directory's base name
	Path   string
	Status string // Lima's status, for instances
	Bytes  int64  // allocated on the host
}

// GlobalPlan is everything clean-global would delete, and why it leaves
// the rest alone. Only Items are ever deleted.
type GlobalPlan struct {
	Global
	Items      []GlobalItem
	Others     []string // entries of Home that are not listed; they keep Home in place
	Skipped    []string // symlinks that are not followed, as "<path> -> <target>"
	RemoveHome bool     // Home is left empty once Items are gone, so it goes too
}

// ErrNoSuchInstance is returned for --instance NAME when Home has no NAME.
var ErrNoSuchInstance = errors.New("no such instance")

// generatedConfig are the files Lima writes into _config by itself: the
// ssh key it creates on first use and its default networks.yaml. A _config
// holding anything else (default.yaml, override.yaml) is the user's.
var generatedConfig = []string{"user", "user.pub", "networks.yaml"}

// Total is the size of every listed item.
func (p *GlobalPlan) Total() int64 {
	var n int64
	for _, it := range p.Items {
		n += it.Bytes
	}
	return n
}

// Plan inspects the global state through Lima's pkg/store, following no
// symlink: a symlinked Home, cache, instance or _config is reported and
// left alone. With instance set, only that instance is listed.
func (g Global) Plan(instance string) (*GlobalPlan, error) {
	p := &GlobalPlan{Global: g}
	homeIsDir, err := p.realDir(g.Home)
	if err != nil {
		return nil, err
	}
	var config *GlobalItem
	if homeIsDir {
		UseHome(g.Home)
		entries, err := os.ReadDir(g.Home)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			path := filepath.Join(g.Home, e.Name())
			switch {
			case e.Name() == "_config" && e.IsDir() && onlyGenerated(path):
				config = &GlobalItem{Kind: KindConfig, Name: e.Name(), Path: path, Bytes: DiskUsage(path)}
			case e.Type()&fs.ModeSymlink != 0:
				p.skip(path)
				p.Others = append(p.Others, e.Name())
			case !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_"):
				p.Others = append(p.Others, e.Name())
			default:
				inst, err := store.Inspect(e.Name())
				if err != nil { // no lima.yaml, or not a valid instance name: not Lima's
					p.Others = append(p.Others, e.Name())
					continue
				}
				p.Items = append(p.Items, GlobalItem{Kind: KindInstance, Name: e.Name(), Path: path,
					Status: inst.Status, Bytes: DiskUsage(path)})
			}
		}
	}
	if instance != "" {
		i := slices.IndexFunc(p.Items, func(it GlobalItem) bool { return it.Name == instance })
		if i < 0 {
			return p, fmt.Errorf("%w %q in %s", ErrNoSuchInstance, instance, g.Home)
		}
		p.Items = []GlobalItem{p.Items[i]}
		return p, nil
	}
	if homeIsDir && len(p.Others) == 0 {
		// Lima's generated _config goes only with the whole home: while
		// anything else stays, Lima may still need its key.
		if config != nil {
			p.Items = append(p.Items, *config)
		}
		p.RemoveHome = true
	} else if config != nil {
		p.Others = append(p.Others, config.Name)
	}
	cacheIsDir, err := p.realDir(g.Cache)
	if err != nil {
		return nil, err
	}
	if cacheIsDir {
		p.Items = append(p.Items, GlobalItem{Kind: KindCache, Name: filepath.Base(g.Cache), Path: g.Cache, Bytes: DiskUsage(g.Cache)})
	}
	return p, nil
}

// realDir says whether path is a directory itself, not a symlink to one;
// a symlink is recorded as skipped.
func (p *GlobalPlan) realDir(path string) (bool, error) {
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case info.Mode()&fs.ModeSymlink != 0:
		p.skip(path)
		return false, nil
	}
	return info.IsDir(), nil
}

func (p *GlobalPlan) skip(path string) {
	target, _ := os.Readlink(path)
	p.Skipped = append(p.Skipped, path+" -> "+target)
}

func onlyGenerated(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !slices.Contains(generatedConfig, e.Name()) {
			return false
		}
	}
	return true
}

// CleanResult is what Clean removed.
type CleanResult struct {
	Removed     []GlobalItem
	Freed       int64 // bytes of the removed items, as listed
	HomeRemoved bool
}

// Clean deletes exactly the listed items: instances through limactl
// (which must run with LIMA_HOME set to Home), the rest with os.RemoveAll,
// which removes a symlink itself and never what it points to. It goes on
// after a failure so one stuck instance does not keep the rest, and counts
// an item as freed only once it is really gone.
func (p *GlobalPlan) Clean(ctx context.Context, l Limactl) (CleanResult, error) {
	var res CleanResult
	var errs []error
	for _, it := range p.Items {
		var err error
		switch it.Kind {
		case KindInstance:
			if it.Status != store.StatusStopped {
				// The disk goes next, so there is nothing to shut down gracefully for.
				err = l.Run(ctx, fmt.Sprintf("stopping global VM %q", it.Name), "--tty=false", "stop", "--force", it.Name)
			}
			if err == nil {
				err = l.Run(ctx, fmt.Sprintf("deleting global VM %q", it.Name), "--tty=false", "delete", "--force", it.Name)
			}
		default:
			if info, lerr := os.Lstat(it.Path); lerr == nil && info.Mode()&fs.ModeSymlink != 0 {
				err = fmt.Errorf("%s became a symlink since it was listed; not touching it", it.Path)
			} else {
				err = os.RemoveAll(it.Path)
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
		if _, lerr := os.Lstat(it.Path); errors.Is(lerr, fs.ErrNotExist) {
			res.Removed = append(res.Removed, it)
			res.Freed += it.Bytes
		}
	}
	// os.Remove, not RemoveAll: if anything appeared in Home meanwhile, it stays.
	if p.RemoveHome && len(errs) == 0 && os.Remove(p.Home) == nil {
		res.HomeRemoved = true
	}
	return res, errors.Join(errs...)
}

// Overlaps says whether a and b are the same directory or one holds the other.
func Overlaps(a, b string) bool {
	a, b = resolvePath(a), resolvePath(b)
	return a == b || within(a, b) || within(b, a)
}

func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolvePath resolves the symlinks of the longest part of path that exists.
func resolvePath(path string) string {
	path = filepath.Clean(path)
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	parent := filepath.Dir(path)
	if parent == path {
		return path
	}
	return filepath.Join(resolvePath(parent), filepath.Base(path))
}
