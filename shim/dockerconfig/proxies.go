package dockerconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pixi-lima/pixi-lima/env/atomicfile"
	"github.com/pixi-lima/pixi-lima/env/settings"
)

// keyProxies is where docker's CLI reads the proxy it gives builds and
// containers (docs.docker.com: "Configure Docker to use a proxy server").
const keyProxies = "proxies"

// SetProxies gives the project's docker config at dir the VM's proxy,
// as "proxies" → "default", or removes what it set for none. A value the
// user wrote there is theirs and kept. The file may hold credentials: 0600.
func SetProxies(dir string, p settings.Proxy) error {
	if _, err := os.Stat(filepath.Dir(dir)); errors.Is(err, fs.ErrNotExist) {
		return nil // no .pixi: pixi-lima is not installed here
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return fmt.Errorf("cannot lock %s: %w", dir, err)
	}
	defer unlock()

	var last memory
	memFile := filepath.Join(dir, MemoryFile)
	if data, err := os.ReadFile(memFile); err == nil {
		_ = json.Unmarshal(data, &last)
	}
	var want json.RawMessage
	if !p.IsZero() {
		want, _ = json.Marshal(map[string]map[string]string{"default": proxyEntry(p)})
	}
	file := filepath.Join(dir, "config.json")
	doc := map[string]json.RawMessage{}
	data, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(bytes.TrimSpace(data)) > 0 && json.Unmarshal(data, &doc) != nil {
		return fmt.Errorf("%s is not valid JSON, so docker there has no proxy (hint: fix it, or remove it and pixi-lima writes it again)", file)
	}
	if doc == nil {
		doc = map[string]json.RawMessage{}
	}
	cur, has := doc[keyProxies]
	if has && !same(cur, last.Proxies) && !same(cur, want) {
		return nil // the user's
	}
	switch {
	case want != nil && !(has && same(cur, want)):
		doc[keyProxies] = want
	case want == nil && has:
		delete(doc, keyProxies)
	default:
		return private(file, has)
	}
	if err := atomicfile.WriteFile(file, encode(doc), 0o600); err != nil {
		return fmt.Errorf("cannot write %s: %w", file, err)
	}
	if err := private(file, true); err != nil {
		return err
	}
	last.Proxies = want
	if data, err := json.Marshal(last); err == nil {
		err = atomicfile.WriteFile(memFile, data, 0o644)
		if err != nil {
			return fmt.Errorf("cannot record the proxy it set in %s: %w", memFile, err)
		}
	}
	return nil
}

// proxyEntry is p in the names docker's config uses.
func proxyEntry(p settings.Proxy) map[string]string {
	e := map[string]string{}
	for k, v := range map[string]string{"httpProxy": p.HTTP, "httpsProxy": p.HTTPS, "noProxy": p.NoProxy} {
		if v != "" {
			e[k] = v
		}
	}
	return e
}

// private makes a config that holds a proxy readable by its owner only,
// whatever mode it had.
func private(file string, proxy bool) error {
	if !proxy {
		return nil
	}
	if err := os.Chmod(file, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
