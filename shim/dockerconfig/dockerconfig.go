// Package dockerconfig keeps the project's docker client config (.pixi/docker)
// in step with the user's: their CLI plugin directories and credential
// helpers, and a docker-buildx plugin link. It writes only in .pixi; the
// user's config is only read, and nothing else of it (auths) is copied.
package dockerconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/pixi-lima/pixi-lima/env"
	"github.com/pixi-lima/pixi-lima/env/atomicfile"
)

// UserVar carries the user's docker config directory, as UserDir found it,
// to the calls docker makes back into the shim under the project's config.
const UserVar = "PIXI_LIMA_USER_DOCKER_CONFIG"

// SystemPluginDirs are where docker's CLI plugins are installed outside any
// config directory, in search order; only those that exist are listed.
var SystemPluginDirs = []string{
	"/opt/homebrew/lib/docker/cli-plugins",
	"/usr/local/lib/docker/cli-plugins",
	"/Applications/Docker.app/Contents/Resources/cli-plugins",
	"/usr/libexec/docker/cli-plugins",
	"/usr/lib/docker/cli-plugins",
}

// The keys of config.json that Sync manages; it keeps every other as it is.
const (
	keyPluginDirs  = "cliPluginsExtraDirs"
	keyCredsStore  = "credsStore"
	keyCredHelpers = "credHelpers"
)

var managed = []string{keyPluginDirs, keyCredsStore, keyCredHelpers}

// MemoryFile is what Sync wrote last, beside the config it wrote it to:
// a value there that no longer equals it is the user's edit.
const MemoryFile = "pixi-lima-inherited.json"

// buildx is the plugin conda-forge's docker-buildx ships only as a binary.
const buildx = "docker-buildx"

// UserDir is the docker config directory the user's own docker uses, ""
// when there is none; a project's DOCKER_CONFIG is never it.
func UserDir(getenv func(string) string) string {
	if dir := getenv("DOCKER_CONFIG"); dir != "" && !IsProjectDir(dir) {
		return filepath.Clean(dir)
	}
	if dir := getenv(UserVar); dir != "" {
		return filepath.Clean(dir)
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".docker")
	}
	return ""
}

// IsProjectDir says whether dir is a project's DOCKER_CONFIG.
func IsProjectDir(dir string) bool {
	return strings.HasSuffix(filepath.Clean(dir), "/.pixi/docker")
}

// Sync brings the project's docker client config in step with the user's;
// with inherit false it removes what it inherited. It writes only what
// changed, and its error lists every part that failed, with a
// *MissingHelperError once for each helper left out for not being on PATH.
func Sync(p env.Paths, getenv func(string) string, inherit bool) error {
	return options{
		dir:        p.DockerConfig,
		bin:        p.Bin,
		userDir:    UserDir(getenv),
		path:       getenv("PATH"),
		inherit:    inherit,
		systemDirs: SystemPluginDirs,
	}.sync()
}

// options are Sync's inputs, spelled out for the tests.
type options struct {
	dir        string // the project's DOCKER_CONFIG
	bin        string // the project's .pixi/bin: the shim, never docker-buildx
	userDir    string // UserDir; "" for none
	path       string // PATH, searched for docker-buildx and credential helpers
	inherit    bool
	systemDirs []string
}

// memory is MemoryFile's content.
type memory struct {
	Keys   map[string]json.RawMessage `json:"keys,omitempty"`
	Buildx string                     `json:"buildx,omitempty"`
	Warned []string                   `json:"warned,omitempty"`
	// Proxies is the "proxies" value SetProxies wrote last.
	Proxies json.RawMessage `json:"proxies,omitempty"`
}

func (o options) sync() error {
	// Without .pixi, pixi-lima is not installed here: create nothing.
	if _, err := os.Stat(filepath.Dir(o.dir)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(o.dir, "cli-plugins"), 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(o.dir)
	if err != nil {
		return fmt.Errorf("cannot lock %s: %w", o.dir, err)
	}
	defer unlock()

	var last memory
	memFile := filepath.Join(o.dir, MemoryFile)
	if data, err := os.ReadFile(memFile); err == nil {
		// A damaged record counts as none, which loses at most a removal.
		_ = json.Unmarshal(data, &last)
	}
	var errs []error
	next := last
	if keys, missing, err := o.syncConfig(last.Keys); err != nil {
		errs = append(errs, err)
	} else {
		next.Keys = keys
		next.Warned = nil
		for _, m := range missing {
			next.Warned = append(next.Warned, m.Helper)
			if !slices.Contains(last.Warned, m.Helper) {
				errs = append(errs, m)
			}
		}
	}
	if target, err := o.syncBuildx(last.Buildx); err != nil {
		errs = append(errs, err)
	} else {
		next.Buildx = target
	}
	old, _ := json.Marshal(last)
	data, err := json.Marshal(next)
	if err == nil && !bytes.Equal(old, data) {
		err = atomicfile.WriteFile(memFile, data, 0o644)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("cannot record what it inherited in %s: %w", memFile, err))
	}
	return errors.Join(errs...)
}

// syncConfig merges the inherited values into the project's config.json
// and returns what it now holds as Sync set it, and the helpers left out.
func (o options) syncConfig(last map[string]json.RawMessage) (map[string]json.RawMessage, []*MissingHelperError, error) {
	want, missing, err := o.inherited()
	if err != nil {
		return last, nil, err
	}
	file := filepath.Join(o.dir, "config.json")
	doc := map[string]json.RawMessage{}
	perm := fs.FileMode(0o600) // docker's, for a file that may hold auths
	data, err := os.ReadFile(file)
	switch {
	case err == nil:
		if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, &doc) != nil {
			return last, nil, fmt.Errorf("%s is not valid JSON, so it is left as it is and docker there has none of your plugins and credential helpers (hint: fix it, or remove it and pixi-lima writes it again)", file)
		}
		if info, err := os.Stat(file); err == nil {
			perm = info.Mode().Perm()
		}
	case !errors.Is(err, fs.ErrNotExist):
		return last, nil, err
	}
	if doc == nil { // the file said null
		doc = map[string]json.RawMessage{}
	}
	owned, changed := merge(doc, last, want)
	missing = relevant(missing, doc, owned, file)
	if !changed {
		return owned, missing, nil
	}
	if err := atomicfile.WriteFile(file, encode(doc), perm); err != nil {
		return last, nil, fmt.Errorf("cannot write %s: %w", file, err)
	}
	return owned, missing, nil
}

// inherited returns the managed values the project's config should hold,
// and the user's credential helpers left out for not being on PATH.
func (o options) inherited() (map[string]json.RawMessage, []*MissingHelperError, error) {
	want := map[string]json.RawMessage{}
	if !o.inherit {
		return want, nil, nil
	}
	var user struct {
		CredsStore          string            `json:"credsStore"`
		CredHelpers         map[string]string `json:"credHelpers"`
		CLIPluginsExtraDirs []string          `json:"cliPluginsExtraDirs"`
	}
	var dirs []string
	if o.userDir != "" {
		file := filepath.Join(o.userDir, "config.json")
		data, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("cannot read your docker config: %w", err)
		}
		if len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, &user); err != nil {
				return nil, nil, fmt.Errorf("your docker config %s is not valid docker config JSON (%v), so the project keeps what it inherited before", file, err)
			}
		}
		dirs = append(dirs, filepath.Join(o.userDir, "cli-plugins"))
	}
	// Docker runs the first plugin of a name it finds: the project's first.
	dirs = append([]string{filepath.Join(o.dir, "cli-plugins")}, dirs...)
	dirs = append(dirs, user.CLIPluginsExtraDirs...)
	for _, dir := range o.systemDirs {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			dirs = append(dirs, dir)
		}
	}
	set := func(key string, v any) {
		if data, err := json.Marshal(v); err == nil {
			want[key] = data
		}
	}
	set(keyPluginDirs, dedupe(dirs))
	// A helper docker cannot run would fail every login and pull.
	missing := map[string]*MissingHelperError{}
	miss := func(helper, registry string) {
		m := missing[helper]
		if m == nil {
			m = &MissingHelperError{Helper: helper, UserConfig: filepath.Join(o.userDir, "config.json")}
			missing[helper] = m
		}
		if registry == "" {
			m.CredsStore = true
		} else {
			m.Registries = append(m.Registries, registry)
		}
	}
	if user.CredsStore != "" {
		if o.lookPath(helperPrefix+user.CredsStore, nil) != "" {
			set(keyCredsStore, user.CredsStore)
		} else {
			miss(user.CredsStore, "")
		}
	}
	helpers := map[string]string{}
	for registry, helper := range user.CredHelpers {
		if o.lookPath(helperPrefix+helper, nil) != "" {
			helpers[registry] = helper
		} else {
			miss(helper, registry)
		}
	}
	if len(helpers) > 0 {
		set(keyCredHelpers, helpers)
	}
	var list []*MissingHelperError
	for _, m := range missing {
		slices.Sort(m.Registries)
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b *MissingHelperError) int { return strings.Compare(a.Helper, b.Helper) })
	return want, list, nil
}

// helperPrefix begins the name of every docker credential helper.
const helperPrefix = "docker-credential-"

// MissingHelperError is a credential helper of the user's docker config
// that Sync left out of the project's: it is not on PATH.
type MissingHelperError struct {
	Helper        string   // "desktop" for docker-credential-desktop
	CredsStore    bool     // the user's credsStore names it
	Registries    []string // the user's credHelpers entries that name it
	UserConfig    string   // the user's config.json
	ProjectConfig string   // the project's config.json
	Instead       string   // the helper docker uses instead; "" for ProjectConfig itself
}

func (e *MissingHelperError) Error() string {
	var remove []string
	if e.CredsStore {
		remove = append(remove, `"credsStore"`)
	}
	for _, r := range e.Registries {
		remove = append(remove, strconv.Quote(r))
	}
	from := "from"
	if len(e.Registries) > 0 {
		from = `from "credHelpers" in`
	}
	what := "credentials"
	if !e.CredsStore {
		what += " for " + strings.Join(e.Registries, ", ")
	}
	where := "in " + e.ProjectConfig
	if e.Instead != "" {
		where = "with " + helperPrefix + e.Instead
	}
	return fmt.Sprintf("credential helper %s%s is not on PATH; docker login stores %s %s instead (install it, or remove %s %s %s)",
		helperPrefix, e.Helper, what, where, strings.Join(remove, " and "), from, e.UserConfig)
}

// relevant keeps the missing helpers docker would have used, not those the
// project's own values override, and fills in where the credentials go.
func relevant(missing []*MissingHelperError, doc, owned map[string]json.RawMessage, file string) []*MissingHelperError {
	_, ownStore := doc[keyCredsStore] // the project's own where the user's is missing
	_, helpers := doc[keyCredHelpers]
	_, inherited := owned[keyCredHelpers]
	ownHelpers := helpers && !inherited
	var store string
	_ = json.Unmarshal(doc[keyCredsStore], &store)
	var out []*MissingHelperError
	for _, m := range missing {
		m.CredsStore = m.CredsStore && !ownStore
		if ownHelpers {
			m.Registries = nil
		}
		if !m.CredsStore && len(m.Registries) == 0 {
			continue
		}
		m.ProjectConfig = file
		if !m.CredsStore {
			m.Instead = store
		}
		out = append(out, m)
	}
	return out
}

// merge sets each managed key of doc to its value in want, or removes it,
// unless the user wrote a value that is neither last nor want's. It returns
// the managed values doc holds as Sync set them, and whether doc changed.
func merge(doc, last, want map[string]json.RawMessage) (owned map[string]json.RawMessage, changed bool) {
	owned = map[string]json.RawMessage{}
	for _, key := range managed {
		cur, has := doc[key]
		if has && !same(cur, last[key]) && !same(cur, want[key]) {
			continue // the user's
		}
		v, ok := want[key]
		switch {
		case ok:
			owned[key] = v
			if !has || !same(cur, v) {
				doc[key], changed = v, true
			}
		case has:
			delete(doc, key)
			changed = true
		}
	}
	return owned, changed
}

// same says whether two JSON values are equal, however spaced and ordered.
func same(a, b json.RawMessage) bool {
	if a == nil || b == nil {
		return false
	}
	return canonical(a) == canonical(b)
}

func canonical(v json.RawMessage) string {
	var x any
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if d.Decode(&x) != nil {
		return "invalid:" + string(v)
	}
	out, _ := json.Marshal(x) // object keys sorted
	return string(out)
}

// encode writes doc as docker's configfile does (tab-indented, keys
// sorted), but leaves <, > and & in values as they were.
func encode(doc map[string]json.RawMessage) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.SetIndent("", "\t")
	_ = e.Encode(doc) // RawMessages from a successful decode always encode
	return b.Bytes()
}

// dedupe keeps the first of each directory.
func dedupe(dirs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, dir := range dirs {
		if clean := filepath.Clean(dir); !seen[clean] {
			seen[clean] = true
			out = append(out, dir)
		}
	}
	return out
}

// syncBuildx links cli-plugins/docker-buildx to the docker-buildx on PATH,
// which conda-forge ships only as a binary. It changes only the link it
// made (last), and returns the link's target when the link is Sync's.
func (o options) syncBuildx(last string) (string, error) {
	link := filepath.Join(o.dir, "cli-plugins", buildx)
	found := o.findBuildx()
	info, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if found == "" {
			return "", nil
		}
	case err != nil:
		return "", err
	case info.Mode()&fs.ModeSymlink == 0:
		return "", nil // the user's own plugin
	default:
		cur, err := os.Readlink(link)
		if err != nil {
			return "", err
		}
		if cur == found {
			return found, nil
		}
		if cur != last {
			return "", nil // a link the user made
		}
		if found == "" {
			if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return last, err
			}
			return "", nil
		}
	}
	// Renamed over the old, from a name docker skips.
	tmp := filepath.Join(o.dir, "cli-plugins", fmt.Sprintf(".%s.%d", buildx, os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(found, tmp); err != nil {
		return last, fmt.Errorf("cannot link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return last, fmt.Errorf("cannot link %s: %w", link, err)
	}
	atomicfile.SyncDir(filepath.Dir(link))
	return found, nil
}

// findBuildx is the first docker-buildx on PATH outside the project's
// .pixi/bin and its plugin directory, as an absolute path; "" for none.
func (o options) findBuildx() string {
	var skip []os.FileInfo
	for _, dir := range []string{o.bin, filepath.Join(o.dir, "cli-plugins")} {
		if info, err := os.Stat(dir); err == nil {
			skip = append(skip, info)
		}
	}
	return o.lookPath(buildx, skip)
}

// lookPath is the first executable name in PATH's absolute directories
// outside skip; "" for none. Go's os/exec refuses relative ones.
func (o options) lookPath(name string, skip []os.FileInfo) string {
	for _, dir := range filepath.SplitList(o.path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		info, err := os.Stat(dir)
		if err != nil || sameAny(info, skip) {
			continue
		}
		candidate := filepath.Join(dir, name)
		if info, err := os.Stat(candidate); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return candidate
		}
	}
	return ""
}

func sameAny(info os.FileInfo, list []os.FileInfo) bool {
	for _, other := range list {
		if os.SameFile(info, other) {
			return true
		}
	}
	return false
}

// lockDir takes an exclusive flock on dir itself, as Lima's
// pkg/lockutil.WithDirLock does, so that concurrent shims take turns.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}
