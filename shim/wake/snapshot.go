package wake

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pixi-lima/pixi-lima/env/atomicfile"
)

// snapshot is the engine's answers to the read-only calls, as they were
// when it stopped: one JSON file that `pixi-lima stop` (TakeSnapshot) and
// the guest's idle watcher (a Python script) both write, so its field
// names are a format. Answers are raw, passed through unchanged.
type snapshot struct {
	Taken            time.Time                  `json:"taken"`
	Version          json.RawMessage            `json:"version"`
	Info             json.RawMessage            `json:"info"`
	Containers       json.RawMessage            `json:"containers"`
	ContainerInspect map[string]json.RawMessage `json:"containerInspect"`
	Images           json.RawMessage            `json:"images"`
	ImageInspect     map[string]json.RawMessage `json:"imageInspect"`
	Networks         json.RawMessage            `json:"networks"`
	NetworkInspect   map[string]json.RawMessage `json:"networkInspect"`
	Volumes          json.RawMessage            `json:"volumes"`
	VolumeInspect    map[string]json.RawMessage `json:"volumeInspect"`
	DF               json.RawMessage            `json:"df"`

	// Indexes built at load: names to ids.
	containerNames map[string]string // "web", without the leading "/"
	imageRefs      map[string]string // RepoTags and RepoDigests entries
	networkNames   map[string]string
}

// loadSnapshot reads and indexes the snapshot at path. A snapshot without
// its time, version or info is no snapshot: /_ping needs them.
func loadSnapshot(path string) (*snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Taken.IsZero() || isNull(s.Version) || isNull(s.Info) {
		return nil, fmt.Errorf("%s: no taken, version or info", path)
	}
	s.containerNames, s.imageRefs, s.networkNames = map[string]string{}, map[string]string{}, map[string]string{}
	for id, raw := range s.ContainerInspect {
		var c struct{ Name string }
		if json.Unmarshal(raw, &c) == nil && c.Name != "" {
			s.containerNames[strings.TrimPrefix(c.Name, "/")] = id
		}
	}
	for id, raw := range s.ImageInspect {
		var i struct{ RepoTags, RepoDigests []string }
		if json.Unmarshal(raw, &i) == nil {
			for _, ref := range append(i.RepoTags, i.RepoDigests...) {
				s.imageRefs[ref] = id
			}
		}
	}
	for id, raw := range s.NetworkInspect {
		var n struct{ Name string }
		if json.Unmarshal(raw, &n) == nil && n.Name != "" {
			s.networkNames[n.Name] = id
		}
	}
	return &s, nil
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// Asleep says whether the wake socket has a snapshot to answer read-only
// calls from while the engine is down, and when it was taken.
func Asleep(snapshotPath string) (taken time.Time, ok bool) {
	s, err := loadSnapshot(snapshotPath)
	if err != nil {
		return time.Time{}, false
	}
	return s.Taken, true
}

// snapshotCache keeps the last snapshot loaded, for as long as its file is
// the same: a poller's every call must not parse it again.
type snapshotCache struct {
	mu   sync.Mutex
	fi   os.FileInfo
	snap *snapshot
}

func (c *snapshotCache) get(path string) *snapshot {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fi != nil && os.SameFile(c.fi, fi) && c.fi.ModTime().Equal(fi.ModTime()) && c.fi.Size() == fi.Size() {
		return c.snap
	}
	c.snap, _ = loadSnapshot(path)
	c.fi = fi
	return c.snap
}

// TakeSnapshot asks the engine on engineSocket for its read-only answers
// and writes them to path, atomically: the wake socket may be reading it.
func TakeSnapshot(ctx context.Context, engineSocket, path string) error {
	c := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", engineSocket)
		},
		DisableCompression: true,
	}}
	defer c.CloseIdleConnections()
	get := func(path string) (json.RawMessage, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		if !json.Valid(body) {
			return nil, fmt.Errorf("GET %s: not JSON", path)
		}
		return body, nil
	}
	// inspect fills m with each item's answer; one gone meanwhile is left out.
	inspect := func(m map[string]json.RawMessage, keys []string, path func(string) string) error {
		for _, k := range keys {
			raw, err := get(path(k))
			if err != nil && ctx.Err() != nil {
				return err
			}
			if err == nil {
				m[k] = raw
			}
		}
		return nil
	}
	s := snapshot{Taken: time.Now().UTC().Truncate(time.Second),
		ContainerInspect: map[string]json.RawMessage{}, ImageInspect: map[string]json.RawMessage{},
		NetworkInspect: map[string]json.RawMessage{}, VolumeInspect: map[string]json.RawMessage{}}
	var err error
	for _, f := range []struct {
		path string
		to   *json.RawMessage
	}{
		{"/version", &s.Version}, {"/info", &s.Info}, {"/containers/json?all=1", &s.Containers},
		{"/images/json", &s.Images}, {"/networks", &s.Networks}, {"/volumes", &s.Volumes}, {"/system/df", &s.DF},
	} {
		if *f.to, err = get(f.path); err != nil {
			return err
		}
	}
	var containers, images, networks []struct{ Id string }
	var volumes struct{ Volumes []struct{ Name string } }
	if err := decodeAll(s.Containers, &containers, s.Images, &images, s.Networks, &networks, s.Volumes, &volumes); err != nil {
		return err
	}
	ids := func(items []struct{ Id string }) (keys []string) {
		for _, i := range items {
			keys = append(keys, i.Id)
		}
		return keys
	}
	var names []string
	for _, v := range volumes.Volumes {
		names = append(names, v.Name)
	}
	escape := func(prefix, suffix string) func(string) string {
		return func(k string) string { return prefix + url.PathEscape(k) + suffix }
	}
	if err := firstError(
		inspect(s.ContainerInspect, ids(containers), escape("/containers/", "/json")),
		inspect(s.ImageInspect, ids(images), escape("/images/", "/json")),
		inspect(s.NetworkInspect, ids(networks), escape("/networks/", "")),
		inspect(s.VolumeInspect, names, escape("/volumes/", "")),
	); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644)
}

// decodeAll decodes pairs of (raw, destination).
func decodeAll(pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		if err := json.Unmarshal(pairs[i].(json.RawMessage), pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
