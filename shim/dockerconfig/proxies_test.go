package dockerconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixi-lima/pixi-lima/env/settings"
)

// The VM's proxy goes into "proxies" of the project's config only, 0600,
// and goes again with the proxy; the other keys stay.
func TestSetProxies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".pixi", "docker")
	os.MkdirAll(dir, 0o755)
	file := filepath.Join(dir, "config.json")
	os.WriteFile(file, []byte(`{"auths":{}}`), 0o644)
	p := settings.Proxy{HTTP: "http://u:pw@192.168.5.2:3128", HTTPS: "http://u:pw@192.168.5.2:3128", NoProxy: "host.lima.internal"}
	if err := SetProxies(dir, p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(file)
	if !strings.Contains(string(data), `"proxies": {`) || !strings.Contains(string(data), `"httpsProxy": "http://u:pw@192.168.5.2:3128"`) ||
		!strings.Contains(string(data), `"noProxy": "host.lima.internal"`) || !strings.Contains(string(data), `"auths"`) {
		t.Errorf("config.json:\n%s", data)
	}
	if info, _ := os.Stat(file); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
	if err := SetProxies(dir, settings.Proxy{}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(file); strings.Contains(string(data), "proxies") || !strings.Contains(string(data), "auths") {
		t.Errorf("after no proxy:\n%s", data)
	}
	// A "proxies" the user wrote is theirs.
	os.WriteFile(file, []byte(`{"proxies":{"default":{"httpProxy":"http://mine:1"}}}`), 0o600)
	SetProxies(dir, p)
	if data, _ := os.ReadFile(file); !strings.Contains(string(data), "mine") {
		t.Errorf("the user's proxies were replaced:\n%s", data)
	}
}
