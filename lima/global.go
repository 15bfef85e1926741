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

// Global is the Lima state outside every project: where Lima keeps
// instances and images when LIMA_HOME is unset.
type Global struct {
	Home  string // $HOME/.lima: Lima's default LIMA_HOME
	Cache string // Lima's download cache: os.UserCacheDir()/lima
}

// GlobalDirs says where Lima keeps its global state for this HOME, as
// Lima derives it; LIMA_HOME is ignored, as the global home is the one to clean.
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

// GlobalPlan is what clean-global would delete (Items) and what it leaves.
type GlobalPlan struct {
	Global
	Items      []GlobalItem
	Protected  []GlobalItem // instances `limactl protect`ed: listed as kept, never stopped or deleted
	Others     []string     // entries of Home that are not deleted (protected instances too); they keep Home and _config in place
	Skipped    []string     // symlinks that are not followed, as "<path> -> <target>"
	RemoveHome bool         // Home is left empty once Items are gone, so it goes too
}

// ErrNoSuchInstance is returned for --instance NAME when Home has no NAME.
var ErrNoSuchInstance = errors.New("no such instance")

// generatedConfig are the files Lima writes into _config by itself; a
// _config holding anything else is the user's.
var generatedConfig = []string{"user", "user.pub", "networks.yaml"}

// Total is the size of every listed item.
func (p *GlobalPlan) Total() int64 {
	var n int64
	for _, it := range p.Items {
		n += it.Bytes
	}
	return n
}

// Plan inspects the global state through Lima's pkg/store, following and
// deleting no symlink. With instance set, only that instance is listed.
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
				it := GlobalItem{Kind: KindInstance, Name: e.Name(), Path: path, Status: inst.Status, Bytes: DiskUsage(path)}
				if inst.Protected {
					p.Protected = append(p.Protected, it)
					p.Others = append(p.Others, e.Name())
					continue
				}
				p.Items = append(p.Items, it)
			}
		}
	}
	if instance != "" {
		named := func(it GlobalItem) bool { return it.Name == instance }
		i, j := slices.IndexFunc(p.Items, named), slices.IndexFunc(p.Protected, named)
		switch {
		case i >= 0:
			p.Items, p.Protected = []GlobalItem{p.Items[i]}, nil
		case j >= 0:
			p.Items, p.Protected = nil, []GlobalItem{p.Protected[j]}
		default:
			return p, fmt.Errorf("%w %q in %s", ErrNoSuchInstance, instance, g.Home)
		}
		return p, nil
	}
	if homeIsDir && len(p.Others) == 0 {
		// While anything else stays, Lima may still need _config's ssh key.
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

// realDir says whether path is a directory, not a symlink, which it skips.
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

// ErrNotStopped marks an instance left in place because its graceful stop
// failed and Clean was not allowed to kill it.
var ErrNotStopped = errors.New("it did not stop gracefully, and without --force it is not killed")

// Clean deletes exactly the listed items, instances through l (LIMA_HOME
// set to Home), going on after a failure; force lets it kill an instance.
func (p *GlobalPlan) Clean(ctx context.Context, l Limactl, force bool) (CleanResult, error) {
	var res CleanResult
	var errs []error
	var left []string // instances still in Home
	for _, it := range p.Items {
		var err error
		switch {
		case it.Kind == KindInstance:
			err = deleteInstance(ctx, l, it, force)
		case it.Kind == KindConfig && len(left) > 0:
			err = fmt.Errorf("kept because instance %s is still there", strings.Join(left, ", "))
		default:
			if info, lerr := os.Lstat(it.Path); lerr == nil && info.Mode()&fs.ModeSymlink != 0 {
				err = errors.New("it became a symlink since it was listed; not touching it")
			} else {
				err = os.RemoveAll(it.Path)
			}
		}
		if _, lerr := os.Lstat(it.Path); errors.Is(lerr, fs.ErrNotExist) {
			res.Removed = append(res.Removed, it)
			res.Freed += it.Bytes
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s was removed, but: %w", it.Kind, it.Path, err))
			}
			continue
		}
		if it.Kind == KindInstance {
			left = append(left, it.Name)
		}
		if err == nil {
			err = errors.New("it is still there")
		}
		errs = append(errs, fmt.Errorf("%s %s was not removed: %w", it.Kind, it.Path, err))
	}
	if p.RemoveHome {
		err := errors.New("not everything in it was removed")
		if len(res.Removed) == len(p.Items) {
			// Anything that appeared in Home meanwhile stays.
			err = os.Remove(p.Home)
		}
		if err == nil {
			res.HomeRemoved = true
		} else {
			errs = append(errs, fmt.Errorf("%s was not removed: %w", p.Home, err))
		}
	}
	return res, errors.Join(errs...)
}

// deleteInstance stops the instance gracefully, kills it only when force
// allows and that failed, then deletes it; delete gets --force only after
// a kill, since Lima's delete --force kills without a shutdown.
func deleteInstance(ctx context.Context, l Limactl, it GlobalItem, force bool) error {
	del := []string{"--tty=false", "delete", it.Name}
	if it.Status != store.StatusStopped {
		err := l.Run(ctx, fmt.Sprintf("stopping global VM %q", it.Name), "--tty=false", "stop", it.Name)
		if err != nil && !force {
			return fmt.Errorf("%s: %w", limactlReason(err), ErrNotStopped)
		}
		if err != nil {
			if err := l.Run(ctx, fmt.Sprintf("killing global VM %q (--force)", it.Name), "--tty=false", "stop", "--force", it.Name); err != nil {
				return errors.New(limactlReason(err))
			}
			del = []string{"--tty=false", "delete", "--force", it.Name}
		}
	}
	if err := l.Run(ctx, fmt.Sprintf("deleting global VM %q", it.Name), del...); err != nil {
		return errors.New(limactlReason(err))
	}
	return nil
}

// limactlReason is a failed limactl run with the last line it printed.
func limactlReason(err error) string {
	var se *StageError
	if errors.As(err, &se) && len(se.Tail) > 0 {
		return fmt.Sprintf("%v: %s", se.Err, se.Tail[len(se.Tail)-1])
	}
	return err.Error()
}
