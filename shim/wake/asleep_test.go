package wake

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testdata/snapshot.json holds the answers of a real dockerd (Debian's
// 20.10.24) with two containers (web running, stopped created), the images
// pltest/bb:1 and registry.example:5000/team/bb:tag (one image), a volume
// data and a network backend. Record it again with
//
//	go test ./shim/wake -run TestRecordSnapshot -args -dockerd=/path/to/docker.sock
var dockerd = flag.String("dockerd", "", "record testdata/snapshot.json from the engine on this socket")

const recorded = "testdata/snapshot.json"

func TestRecordSnapshot(t *testing.T) {
	if *dockerd == "" {
		t.Skip("no -dockerd")
	}
	if err := TakeSnapshot(context.Background(), *dockerd, recorded); err != nil {
		t.Fatal(err)
	}
}

// asleep is a wake socket whose engine never answers, with the recorded
// snapshot; a request that starts the engine fails at once.
func asleep(t *testing.T) (*fixture, *snapshot) {
	snap := filepath.Join(t.TempDir(), "snapshot.json")
	data, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snap, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := loadSnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	shorten(t, &failureMemo, 0)
	f := newFixtureOn(t, nil, 0, io.ErrUnexpectedEOF, func(l net.Listener) net.Listener { return l },
		func(s *Server) { s.Snapshot = snap })
	return f, s
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func (f *fixture) do(t *testing.T, method, path string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, "http://docker"+path, nil)
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// Read-only calls get dockerd's recorded answers, found by id, prefix or
// name as dockerd finds them; nothing starts the engine.
func TestAsleepAnswers(t *testing.T) {
	f, snap := asleep(t)
	var version struct{ ApiVersion, Version string }
	json.Unmarshal(snap.Version, &version)

	ping := f.do(t, "GET", "/_ping")
	if ping.code != 200 || ping.body != "OK" || ping.header.Get("Api-Version") != version.ApiVersion ||
		ping.header.Get("Ostype") != "linux" || ping.header.Get("Docker-Experimental") != "false" ||
		ping.header.Get("Cache-Control") != "no-cache, no-store, must-revalidate" || ping.header.Get("Pragma") != "no-cache" ||
		ping.header.Get("Content-Type") != "text/plain; charset=utf-8" || ping.header.Get("Server") != "Docker/"+version.Version+" (linux)" {
		t.Errorf("GET /_ping: %+v", ping)
	}
	if head := f.do(t, "HEAD", "/v1.41/_ping"); head.code != 200 || head.body != "" || head.header.Get("Api-Version") != version.ApiVersion {
		t.Errorf("HEAD /_ping: %+v", head)
	}
	if v := f.do(t, "GET", "/v1.41/version"); v.code != 200 || v.body != string(snap.Version)+"\n" || v.header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /version: %+v", v)
	}

	var info, recordedInfo map[string]json.RawMessage
	json.Unmarshal(snap.Info, &recordedInfo)
	if err := json.Unmarshal([]byte(f.do(t, "GET", "/info").body), &info); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	json.Unmarshal(info["Warnings"], &warnings)
	if want := "asleep: answered by pixi-lima from the state of " + snap.Taken.Format(time.RFC3339); len(warnings) == 0 || warnings[len(warnings)-1] != want {
		t.Errorf("info's warnings %q, want the last %q", warnings, want)
	}
	delete(info, "Warnings")
	delete(recordedInfo, "Warnings")
	if a, b := mustJSON(info), mustJSON(recordedInfo); a != b {
		t.Errorf("info changed beyond its warnings")
	}

	names := func(path string) string {
		var list []struct{ Names []string }
		json.Unmarshal([]byte(f.do(t, "GET", path).body), &list)
		var out []string
		for _, c := range list {
			out = append(out, c.Names...)
		}
		return strings.Join(out, " ")
	}
	for path, want := range map[string]string{
		"/containers/json":                                   "/web",
		"/v1.41/containers/json":                             "/web",
		"/containers/json?all=1":                             "/stopped /web",
		"/containers/json?all=0&limit=-1&size=0&trunc_cmd=0": "/web", // the Python SDK's
		"/containers/json?all=true&size=false":               "/stopped /web",
	} {
		if got := names(path); got != want {
			t.Errorf("%s lists %q, want %q", path, got, want)
		}
	}

	var webID string
	for id := range snap.ContainerInspect {
		if snap.containerNames["web"] == id {
			webID = id
		}
	}
	var images []struct{ Id string }
	json.Unmarshal(snap.Images, &images)
	imageID := images[0].Id
	found := map[string]string{ // path: the id of the answer, "" for a 404
		"/containers/web/json":                                 webID,
		"/containers//web/json":                                webID,
		"/containers/" + webID + "/json":                       webID,
		"/containers/" + webID[:5] + "/json":                   webID,
		"/containers/nope/json":                                "",
		"/images/pltest/bb:1/json":                             imageID,
		"/v1.41/images/registry.example:5000/team/bb:tag/json": imageID,
		"/images/" + imageID + "/json":                         imageID,
		"/images/" + imageID[7:19] + "/json":                   imageID,
		"/images/" + imageID[:19] + "/json":                    imageID,
		"/images/docker.io/pltest/bb:1/json":                   imageID,
		"/images/pltest/bb/json":                               "", // :latest
		"/networks/backend":                                    snap.networkNames["backend"],
		"/networks/" + snap.networkNames["backend"][:6]:        snap.networkNames["backend"],
		"/networks/nope":                                       "",
		"/volumes/data":                                        "data",
		"/volumes/nope":                                        "",
	}
	for path, want := range found {
		a := f.do(t, "GET", path)
		var got struct{ Id, ID, Name, Message string }
		json.Unmarshal([]byte(a.body), &got)
		id := got.Id + got.ID
		if strings.HasPrefix(path, "/volumes/") {
			id = got.Name
		}
		switch {
		case want == "" && (a.code != 404 || got.Message == ""):
			t.Errorf("%s: %d %s, want a 404", path, a.code, a.body)
		case want != "" && (a.code != 200 || id != want):
			t.Errorf("%s: %d, id %q, want %q", path, a.code, id, want)
		}
	}
	for _, path := range []string{"/images/json", "/networks", "/volumes", "/system/df"} {
		if a := f.do(t, "GET", path); a.code != 200 || !json.Valid([]byte(a.body)) {
			t.Errorf("%s: %+v", path, a)
		}
	}
	if a := f.do(t, "GET", "/networks?filters=%7B%7D"); a.code != 200 { // the Python SDK's
		t.Errorf("networks with empty filters: %+v", a)
	}
	if a := f.do(t, "HEAD", "/containers/web/json"); a.code != 200 || a.body != "" {
		t.Errorf("HEAD: %+v", a)
	}
	f.noStart(t)

	// What the snapshot cannot answer starts the engine.
	for _, r := range []string{"GET /containers/json?filters=%7B%22label%22%3A%5B%22a%22%5D%7D", "GET /containers/json?size=1",
		"GET /images/json?all=1", "GET /containers/web/logs", "GET /images/pltest/bb:1/history", "POST /containers/create"} {
		method, path, _ := strings.Cut(r, " ")
		before := f.starts.Load()
		if a := f.do(t, method, path); a.code != http.StatusServiceUnavailable || f.starts.Load() != before+1 {
			t.Errorf("%s: %d, %d starts; want a start (which fails here)", r, a.code, f.starts.Load()-before)
		}
	}
}

// Without a snapshot, reads start the engine as every call does.
func TestNoSnapshotStarts(t *testing.T) {
	f2 := newFixtureOn(t, http.HandlerFunc(ok), 0, nil, func(l net.Listener) net.Listener { return l },
		func(s *Server) { s.Snapshot = filepath.Join(t.TempDir(), "none.json") })
	if a := f2.do(t, "GET", "/_ping"); a.code != 200 || f2.starts.Load() != 1 {
		t.Errorf("%+v, %d starts", a, f2.starts.Load())
	}
}

func TestAsleep(t *testing.T) {
	taken, ok := Asleep(recorded)
	if !ok || taken.IsZero() || taken.Location() != time.UTC {
		t.Errorf("Asleep(%s) = %v, %v", recorded, taken, ok)
	}
	if _, ok := Asleep(filepath.Join(t.TempDir(), "none.json")); ok {
		t.Error("no snapshot, asleep")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
