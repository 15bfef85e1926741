package fastpath

import (
	"bytes"
	"hash/fnv"
	"os"
	"path" // io/fs imports it, so os readies it first
	"syscall"
)

// Record is what the full path worked out for a project's docker calls:
// which engine must answer, and the environment the real tool gets.
type Record struct {
	Socket string   // the engine to ping first; "" for the host's own engine
	Set    []string // KEY=VALUE pairs that replace the user's, in order
	Unset  []string // keys removed from the user's environment
	// Mounted are the paths the VM mounts the project at; a $PWD outside
	// them takes the full path, which warns about bind mounts.
	Mounted []string
	// Elsewhere are the other pixi workspaces already warned about.
	Elsewhere []string
	// PortLog is the host agent log and PortLogSize its size when the full
	// path looked for port clashes: a failed listen after it may tell of a
	// new one.
	PortLog     string
	PortLogSize int64
}

// magic starts every record; a record of another format is never used.
const magic = "pixi-lima fastpath 3"

// File is where a project's record lives, in env.Paths.Prefix.
func File(root string) string { return root + "/.pixi/pixi-lima/fastpath" }

// Save writes rec for the project at root, keyed by the inputs the full
// path derived it from. It gives up silently: calls then take the full path.
func Save(root string, rec Record, environ []string) {
	if exe, err := os.Executable(); err == nil {
		save(exe, root, rec, environ)
	}
}

// save is Save for the binary at exe.
func save(exe, root string, rec Record, environ []string) {
	self, err := os.Stat(exe)
	if err != nil || !sameDir(exe, root) {
		return
	}
	k, ok := key(root, self, environ)
	if !ok {
		return
	}
	data, ok := rec.encode(k)
	if !ok {
		return
	}
	file := File(root)
	if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, data) {
		return
	}
	tmp, err := os.CreateTemp(root+"/.pixi/pixi-lima", ".fastpath-*")
	if err != nil {
		return
	}
	_ = tmp.Chmod(0o644)
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), file) != nil {
		os.Remove(tmp.Name())
	}
}

// sameDir reports whether the fast path would find root from exe.
func sameDir(exe, root string) bool {
	r, ok := rootOf(exe)
	if !ok {
		return false
	}
	a, err := os.Stat(r)
	b, err2 := os.Stat(root)
	return err == nil && err2 == nil && os.SameFile(a, b)
}

// load returns the project's record when its key matches.
func load(root string, self os.FileInfo, environ []string) (Record, bool) {
	data, err := os.ReadFile(File(root))
	if err != nil {
		return Record{}, false
	}
	k, ok := key(root, self, environ)
	if !ok {
		return Record{}, false
	}
	return decode(data, k)
}

// key condenses the inputs of a record: the binary, the manifest, the
// user's docker config and the PIXI_LIMA_ settings. A file counts by one
// stat: identity, size and modification time.
func key(root string, exe os.FileInfo, environ []string) (string, bool) {
	manifest, err := manifest(root)
	if err != nil {
		return "", false
	}
	var b []byte
	user := userConfig(environ)
	userInfo, err := os.Stat(user)
	if err != nil {
		userInfo = nil // absent, or unreadable: a state of its own
	}
	b = append(append(b, user...), 0)
	for _, info := range []os.FileInfo{exe, manifest, userInfo} {
		if info == nil {
			b = append(b, 0xff) // cannot collide with the 16 or 32 bytes of a stat
			continue
		}
		n := []uint64{uint64(info.Size()), uint64(info.ModTime().UnixNano())}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n = append(n, uint64(st.Dev), uint64(st.Ino))
		}
		for _, v := range n {
			for i := 0; i < 8; i++ {
				b = append(b, byte(v>>(8*i)))
			}
		}
	}
	for _, kv := range environ {
		k, _, _ := cut(kv, '=')
		if len(k) > len("PIXI_LIMA_") && k[:len("PIXI_LIMA_")] == "PIXI_LIMA_" && k != DepthVar && k != forceArg0Var && k != userDockerConfigVar {
			b = append(append(b, kv...), 0)
		}
	}
	h := fnv.New128a()
	h.Write(b)
	return hex(h.Sum(nil)), true
}

// userDockerConfigVar is dockerconfig.UserVar, left out of key: userConfig has it.
const userDockerConfigVar = "PIXI_LIMA_USER_DOCKER_CONFIG"

// userConfig is the config.json of dockerconfig.UserDir, whose package
// would order this init late; record_test.go checks both agree.
func userConfig(environ []string) string {
	dir := lookup(environ, "DOCKER_CONFIG")
	if dir == "" || isProjectDir(dir) {
		dir = lookup(environ, userDockerConfigVar)
		if home := lookup(environ, "HOME"); dir == "" && home != "" {
			dir = home + "/.docker"
		}
	}
	if dir == "" {
		return ""
	}
	return path.Clean(dir + "/config.json")
}

// isProjectDir is dockerconfig.IsProjectDir.
func isProjectDir(dir string) bool {
	const project = "/.pixi/docker"
	dir = path.Clean(dir)
	return len(dir) >= len(project) && dir[len(dir)-len(project):] == project
}

// manifest stats the file the settings come from, as env.ManifestPath
// picks it but without a TOML parser: the full path checked its tables.
func manifest(root string) (os.FileInfo, error) {
	if info, err := os.Stat(root + "/pixi.toml"); err == nil {
		return info, nil
	}
	return os.Stat(root + "/pyproject.toml")
}

// encode writes the record as lines; a value with a newline cannot be.
func (r Record) encode(key string) ([]byte, bool) {
	lines := []string{magic, "key " + key, "socket " + r.Socket}
	for _, kv := range r.Set {
		lines = append(lines, "set "+kv)
	}
	for _, k := range r.Unset {
		lines = append(lines, "unset "+k)
	}
	for _, m := range r.Mounted {
		lines = append(lines, "mounted "+m)
	}
	for _, w := range r.Elsewhere {
		lines = append(lines, "elsewhere "+w)
	}
	if r.PortLog != "" && r.PortLogSize >= 0 {
		lines = append(lines, "portlog "+formatDepth(int(r.PortLogSize))+" "+r.PortLog)
	}
	var b []byte
	for _, l := range lines {
		if bytes.IndexByte([]byte(l), '\n') >= 0 {
			return nil, false
		}
		b = append(append(b, l...), '\n')
	}
	return b, true
}

// decode reads a record written by encode, if it carries key.
func decode(data []byte, key string) (Record, bool) {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines) < 4 || string(lines[0]) != magic || string(lines[1]) != "key "+key {
		return Record{}, false
	}
	var r Record
	for _, l := range lines[2:] {
		word, rest, _ := cut(string(l), ' ')
		switch word {
		case "socket":
			r.Socket = rest
		case "set":
			r.Set = append(r.Set, rest)
		case "unset":
			r.Unset = append(r.Unset, rest)
		case "mounted":
			r.Mounted = append(r.Mounted, rest)
		case "elsewhere":
			r.Elsewhere = append(r.Elsewhere, rest)
		case "portlog":
			size, file, _ := cut(rest, ' ')
			n, ok := parseSize(size)
			if !ok || file == "" {
				return Record{}, false
			}
			r.PortLog, r.PortLogSize = file, n
		case "":
		default:
			return Record{}, false
		}
	}
	return r, true
}

// environ is base with the record and the depth applied, as env.Build does.
func (r Record) environ(base []string, depth int) []string {
	set := append(append([]string(nil), r.Set...), DepthVar+"="+formatDepth(depth))
	drop := make(map[string]bool, len(set)+len(r.Unset))
	for _, kv := range set {
		k, _, _ := cut(kv, '=')
		drop[k] = true
	}
	for _, k := range r.Unset {
		drop[k] = true
	}
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		if k, _, _ := cut(kv, '='); !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// reaches says whether a call from the logical directory pwd reaches the
// project at root only by a path the VM mounts, or is outside the project.
func (r Record) reaches(pwd, root string) bool {
	if r.Socket == "" || len(pwd) == 0 || pwd[0] != '/' {
		return true // the host's engine sees the host's paths; no $PWD to go by
	}
	for _, m := range r.Mounted {
		if pwd == m || len(pwd) > len(m) && pwd[:len(m)] == m && pwd[len(m)] == '/' {
			return true
		}
	}
	var project syscall.Stat_t
	if syscall.Stat(root, &project) != nil {
		return false
	}
	for dir := pwd; ; dir = parent(dir) {
		var st syscall.Stat_t
		if syscall.Stat(dir, &st) == nil && st.Dev == project.Dev && st.Ino == project.Ino {
			return false
		}
		if dir == "/" {
			return true
		}
	}
}

// elsewhere reports whether pwd is in a pixi workspace other than the
// project at root that no call has warned about yet.
func (r Record) elsewhere(pwd, root string) bool {
	if r.Socket == "" || len(pwd) == 0 || pwd[0] != '/' {
		return false // the host's engine is everyone's; no $PWD to go by
	}
	for dir := pwd; ; dir = parent(dir) {
		if dir == root || contains(r.Mounted, dir) {
			return false
		}
		if isWorkspace(dir) {
			return !contains(r.Elsewhere, dir)
		}
		if dir == "/" {
			return false
		}
	}
}

// isWorkspace is env.ManifestPath(dir) != "" without a TOML parser.
func isWorkspace(dir string) bool {
	var st syscall.Stat_t
	if syscall.Stat(dir+"/pixi.toml", &st) == nil {
		return true
	}
	data, err := os.ReadFile(dir + "/pyproject.toml")
	return err == nil && bytes.Contains(data, []byte("[tool.pixi"))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// parent is filepath.Dir of an absolute, clean path.
func parent(path string) string {
	if i := bytes.LastIndexByte([]byte(path), '/'); i > 0 {
		return path[:i]
	}
	return "/"
}

func hex(sum []byte) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 2*len(sum))
	for _, c := range sum {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

// parseSize reads a size encode wrote.
func parseSize(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// portLogChanged says whether the host agent's log has told of a new
// forward (another process may share its port) or a failed listen (another
// holds it) since the full path looked, or cannot be read from there. Lima
// on macOS logs every connection it accepts on a port below 1024
// (pkg/portfwd/listener_darwin.go), so growth alone says nothing.
func (r Record) portLogChanged() bool {
	if r.PortLog == "" {
		return false
	}
	f, err := os.Open(r.PortLog)
	if err != nil {
		return true
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return true
	}
	grown := info.Size() - r.PortLogSize
	if grown == 0 {
		return false
	}
	if grown < 0 || grown > portLogRead {
		return true // the full path reads it all and records the new size
	}
	buf := make([]byte, grown)
	if n, err := f.ReadAt(buf, r.PortLogSize); n != len(buf) && err != nil {
		return true
	}
	return bytes.Contains(buf, []byte("failed to listen")) || bytes.Contains(buf, []byte("Forwarding TCP from"))
}

// portLogRead is the most of the log a call reads: a busy forward logs
// about 130 bytes a connection, and the full path, once past this, moves
// the record's offset on.
const portLogRead = 256 << 10
