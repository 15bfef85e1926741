package dockerconfig

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginWithoutHelper: the real docker CLI logs in to a registry in the
// project's config when the user's config names a helper that is not
// installed, and keeps the credentials in the project's config.json. The
// registry is a local server that accepts any password; no engine runs, so
// docker logs in itself (its fallback when the daemon does not answer).
func TestLoginWithoutHelper(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("the docker CLI is not on PATH")
	}
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, ok := r.BasicAuth(); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		w.WriteHeader(http.StatusOK)
	}))
	defer registry.Close()
	host := strings.TrimPrefix(registry.URL, "http://")

	f := newFixture(t)
	f.o.path = t.TempDir() // no docker-credential-desktop on it
	f.userConfig(t, `{"credsStore": "desktop"}`)
	_ = f.o.sync() // warns about desktop

	cmd := exec.Command(docker, "login", "--username", "pltest", "--password-stdin", host)
	cmd.Stdin = strings.NewReader("s3cret\n")
	cmd.Env = []string{
		"PATH=" + f.o.path,
		"HOME=" + filepath.Dir(f.home),
		"DOCKER_CONFIG=" + f.o.dir,
		"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "none.sock"),
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker login: %v\n%s", err, out)
	}
	var doc struct {
		Auths map[string]any `json:"auths"`
	}
	must(t, json.Unmarshal(readFile(t, filepath.Join(f.o.dir, "config.json")), &doc))
	if doc.Auths[host] == nil {
		t.Errorf("the login to %s is not in the project's config.json: %v", host, doc.Auths)
	}
	if data := readFile(t, filepath.Join(f.home, "config.json")); string(data) != `{"credsStore": "desktop"}` {
		t.Errorf("the user's config.json changed: %s", data)
	}
}
