package wake

import (
	"net/http"
	"strings"
)

// readOnlyPaths are the Engine API's reads that a snapshot can answer, as
// Docker Desktop's Resource Saver lets them through without waking the VM.
// Other reads (logs, archive, export, stats, top, history, search, …) need
// the engine's live state, or a registry, and wake it.
var readOnlyPaths = map[string]bool{
	"/_ping": true, "/version": true, "/info": true, "/events": true,
	"/containers/json": true, "/images/json": true,
	"/networks": true, "/volumes": true, "/system/df": true,
}

// readOnly says whether r only reads state the snapshot holds.
func readOnly(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	_, ok := route(r.URL.Path)
	return ok
}

// route is the template of a read-only path, unversioned, with the name in
// it as {}: "/containers/{}/json", "/images/{}/json" (an image's name may
// hold slashes and a registry's port), "/networks/{}", "/volumes/{}".
func route(path string) (string, bool) {
	p := unversioned(path)
	if readOnlyPaths[p] {
		return p, true
	}
	for _, r := range []struct{ prefix, suffix string }{
		{"/containers/", "/json"}, {"/images/", "/json"}, {"/networks/", ""}, {"/volumes/", ""},
	} {
		name, ok := strings.CutPrefix(p, r.prefix)
		if !ok {
			continue
		}
		if name, ok = strings.CutSuffix(name, r.suffix); !ok || name == "" {
			continue
		}
		// A container's name may come with its leading "/"; only an
		// image's holds more slashes.
		if trimmed := strings.TrimPrefix(name, "/"); r.prefix != "/images/" && (trimmed == "" || strings.Contains(trimmed, "/")) {
			continue
		}
		return r.prefix + "{}" + r.suffix, true
	}
	return "", false
}

// name is the {} of a path that route matched.
func name(path, template string) string {
	prefix, suffix, _ := strings.Cut(template, "{}")
	return strings.TrimSuffix(strings.TrimPrefix(unversioned(path), prefix), suffix)
}

// unversioned strips the API version, "/v1.47", as dockerd's router does.
func unversioned(path string) string {
	rest, ok := strings.CutPrefix(path, "/v")
	if !ok {
		return path
	}
	i := strings.IndexByte(rest, '/')
	if i <= 0 || strings.Trim(rest[:i], "0123456789.") != "" {
		return path
	}
	return rest[i:]
}
