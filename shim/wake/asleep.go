package wake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// noops are the query parameters, per read-only path, whose values ask
// for nothing the raw answer does not hold: what the docker CLI and the
// Python SDK send by default. Any other parameter (filters, since, size=1,
// …) needs the engine to evaluate it. An empty filters ("{}", the Python
// SDK's network list) filters nothing.
var noops = map[string]url.Values{
	"/containers/json":    {"all": {"0", "false", "1", "true"}, "limit": {"-1"}, "size": {"0", "false"}, "trunc_cmd": {"0", "false"}},
	"/containers/{}/json": {"size": {"0", "false"}},
	"/images/json":        {"all": {"0", "false"}, "only_ids": {"0"}},
}

func noop(template string, q url.Values) bool {
	for k, vs := range q {
		for _, v := range vs {
			if !(k == "filters" && (v == "" || v == "{}")) && !slices.Contains(noops[template][k], v) {
				return false
			}
		}
	}
	return true
}

// fromSnapshot answers a read-only request from the snapshot, for an
// engine that is down, as dockerd would have answered it. It says false,
// having written nothing, where it cannot: no snapshot, or a query.
func (s *Server) fromSnapshot(w http.ResponseWriter, r *http.Request) bool {
	if s.Snapshot == "" || !readOnly(r) {
		return false
	}
	snap := s.snapshots.get(s.Snapshot)
	template, _ := route(r.URL.Path)
	if snap == nil || !noop(template, r.URL.Query()) {
		return false
	}
	h := w.Header()
	snapshotHeaders(h, snap)
	s.logAsleep(snap.Taken)

	code, body := http.StatusOK, json.RawMessage(nil)
	name := name(r.URL.Path, template)
	switch template {
	case "/_ping":
		var info struct {
			ExperimentalBuild bool
			BuilderVersion    string
		}
		json.Unmarshal(snap.Info, &info)
		h.Set("Docker-Experimental", strconv.FormatBool(info.ExperimentalBuild))
		if info.BuilderVersion != "" {
			h.Set("Builder-Version", info.BuilderVersion)
		}
		h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
		h.Set("Pragma", "no-cache")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		body = []byte("OK")
	case "/version":
		body = snap.Version
	case "/info":
		body = withWarning(snap.Info, "asleep: answered by pixi-lima from the state of "+snap.Taken.UTC().Format(time.RFC3339))
	case "/events": // HEAD only: the events handler takes a GET
	case "/containers/json":
		body = snap.Containers
		if all := r.URL.Query().Get("all"); all != "1" && all != "true" {
			body = running(snap.Containers)
		}
	case "/containers/{}/json":
		code, body = find(snap.ContainerInspect, containerID(snap, name), "No such container: "+name)
	case "/images/json":
		body = snap.Images
	case "/images/{}/json":
		code, body = find(snap.ImageInspect, imageID(snap, name), "No such image: "+name)
	case "/networks":
		body = snap.Networks
	case "/networks/{}":
		code, body = find(snap.NetworkInspect, networkID(snap, name), "network "+name+" not found")
	case "/volumes":
		body = snap.Volumes
	case "/volumes/{}":
		code, body = find(snap.VolumeInspect, name, "get "+name+": no such volume")
	case "/system/df":
		body = snap.DF
	}
	if template != "/_ping" && body != nil {
		body = append(body, '\n') // as dockerd's encoder ends each answer
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return true
}

// snapshotHeaders are those dockerd sets on every answer, and a JSON type.
func snapshotHeaders(h http.Header, snap *snapshot) {
	var version struct{ ApiVersion, Version, Os string }
	json.Unmarshal(snap.Version, &version)
	h.Set("Api-Version", version.ApiVersion)
	h.Set("Ostype", version.Os)
	h.Set("Server", fmt.Sprintf("Docker/%s (%s)", version.Version, version.Os))
	h.Set("Content-Type", "application/json")
}

// logAsleep says once, after each time the engine was up, that answers now
// come from the snapshot; a poller's every call would flood the log.
func (s *Server) logAsleep(taken time.Time) {
	up := s.answered.Load()
	if s.loggedAsleep.Swap(up) != up {
		s.logf("the engine is down; answering read-only calls from the snapshot of %s", taken.Format(time.RFC3339))
	}
}

// withWarning is /info with one more line in Warnings, which docker info
// prints; every other field stays as dockerd wrote it.
func withWarning(info json.RawMessage, warning string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(info, &m) != nil {
		return info
	}
	var warnings []string
	json.Unmarshal(m["Warnings"], &warnings)
	m["Warnings"], _ = json.Marshal(append(warnings, warning))
	out, err := json.Marshal(m)
	if err != nil {
		return info
	}
	return out
}

// running is the list of containers without those not running, as dockerd
// lists them without all=1.
func running(list json.RawMessage) json.RawMessage {
	var all []json.RawMessage
	json.Unmarshal(list, &all)
	out := []json.RawMessage{}
	for _, c := range all {
		var state struct{ State string }
		if json.Unmarshal(c, &state) == nil && state.State == "running" {
			out = append(out, c)
		}
	}
	b, _ := json.Marshal(out)
	return b
}

// find is the answer under id, else a 404 in the Docker API's shape.
func find(m map[string]json.RawMessage, id, notFound string) (int, json.RawMessage) {
	if raw, ok := m[id]; ok && id != "" {
		return http.StatusOK, raw
	}
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{notFound})
	return http.StatusNotFound, b
}

// containerID resolves as dockerd does: full id, name, unique id prefix.
func containerID(s *snapshot, name string) string {
	if _, ok := s.ContainerInspect[name]; ok {
		return name
	}
	if id, ok := s.containerNames[strings.TrimPrefix(name, "/")]; ok {
		return id
	}
	return uniquePrefix(s.ContainerInspect, name)
}

// imageID resolves an id ("sha256:…" or without it, or a unique prefix),
// or a reference among RepoTags and RepoDigests, where a name without tag
// is :latest and Docker Hub's long forms are the familiar ones.
func imageID(s *snapshot, name string) string {
	if _, ok := s.ImageInspect["sha256:"+strings.TrimPrefix(name, "sha256:")]; ok {
		return "sha256:" + strings.TrimPrefix(name, "sha256:")
	}
	ref := name
	for _, long := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(ref, long); ok {
			ref = rest
			break
		}
	}
	if !strings.Contains(ref, "@") && !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		ref += ":latest"
	}
	if id, ok := s.imageRefs[ref]; ok {
		return id
	}
	if hex := strings.TrimPrefix(name, "sha256:"); hex != "" && strings.Trim(hex, "0123456789abcdef") == "" {
		return uniquePrefix(s.ImageInspect, "sha256:"+hex)
	}
	return ""
}

func networkID(s *snapshot, name string) string {
	if _, ok := s.NetworkInspect[name]; ok {
		return name
	}
	if id, ok := s.networkNames[name]; ok {
		return id
	}
	return uniquePrefix(s.NetworkInspect, name)
}

// uniquePrefix is the one key that starts with prefix, else "".
func uniquePrefix(m map[string]json.RawMessage, prefix string) string {
	found := ""
	for k := range m {
		if prefix != "" && strings.HasPrefix(k, prefix) {
			if found != "" {
				return ""
			}
			found = k
		}
	}
	return found
}
