package settings

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testPEM = `-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUQ0l0kY6xZbq6x7qkz7m6m9p0qCwwCgYIKoZIzj0EAwIw
-----END CERTIFICATE-----
`

func TestCACertsForms(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "corp.pem"), []byte(testPEM), 0o644)
	os.WriteFile(filepath.Join(root, "junk.pem"), []byte("hello"), 0o644)
	corp := filepath.Join(root, "corp.pem")
	for _, tc := range []struct {
		toml, env string
		want      []string
		err       string
	}{
		{want: []string{SystemCAs}},
		{toml: `["system", "corp.pem"]`, want: []string{SystemCAs, corp}},
		{toml: `["corp.pem"]`, want: []string{corp}},
		{toml: `"none"`, want: nil},
		{toml: `["none"]`, want: nil},
		{toml: `"system"`, want: []string{SystemCAs}},
		{toml: `["corp.pem"]`, env: "none", want: nil},
		{env: "system, corp.pem", want: []string{SystemCAs, corp}},
		{toml: `["none", "system"]`, err: `"none" stands alone`},
		{toml: `["missing.pem"]`, err: "CA file " + filepath.Join(root, "missing.pem") + " does not exist (export the CA as PEM to it, or take it out of the list)"},
		{toml: `["junk.pem"]`, err: "holds no PEM certificate"},
		{env: "nope.pem", err: "PIXI_LIMA_CA_CERTS: CA file"},
		{toml: `true`, err: "got true (a boolean)"},
	} {
		manifest := "[tool.pixi-lima]\n"
		if tc.toml != "" {
			manifest += "ca-certs = " + tc.toml + "\n"
		}
		c, err := Parse(root, []byte(manifest), configEnv(map[string]string{"PIXI_LIMA_CA_CERTS": tc.env}))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s / %q: error %v, want %q", tc.toml, tc.env, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s / %q: %v", tc.toml, tc.env, err)
		case tc.err == "" && !slices.Equal(c.CACerts, tc.want):
			t.Errorf("%s / %q: %q, want %q", tc.toml, tc.env, c.CACerts, tc.want)
		}
	}
}

func TestProxyForms(t *testing.T) {
	env := map[string]string{"http_proxy": "http://lower:3128", "HTTP_PROXY": "http://upper:3128", "https_proxy": "http://s:3128", "no_proxy": "corp"}
	for _, tc := range []struct {
		toml, env string
		want      Proxy
		err       string
	}{
		{want: Proxy{HTTP: "http://upper:3128", HTTPS: "http://s:3128", NoProxy: "corp"}},
		{toml: `"none"`, want: Proxy{}},
		{toml: `"none"`, env: "auto", want: Proxy{HTTP: "http://upper:3128", HTTPS: "http://s:3128", NoProxy: "corp"}},
		{toml: `"http://u:pw@p.corp:8080"`, want: Proxy{HTTP: "http://u:pw@p.corp:8080", HTTPS: "http://u:pw@p.corp:8080"}},
		{env: "none", want: Proxy{}},
		{toml: `"ftp://u:secret@p"`, err: `scheme "ftp"`},
		{toml: `"http://"`, err: "without a host"},
	} {
		manifest := "[tool.pixi-lima]\n"
		if tc.toml != "" {
			manifest += "proxy = " + tc.toml + "\n"
		}
		vars := map[string]string{"PIXI_LIMA_PROXY": tc.env}
		for k, v := range env {
			vars[k] = v
		}
		c, err := Parse("/x", []byte(manifest), configEnv(vars))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret")):
			t.Errorf("%s: error %v, want %q without the password", tc.toml, err, tc.err)
		case tc.err == "" && (err != nil || c.Proxy != tc.want):
			t.Errorf("%s / %q: %+v, %v; want %+v", tc.toml, tc.env, c.Proxy, err, tc.want)
		}
	}
	// NO_PROXY alone is no proxy.
	if c, _ := Parse("/x", nil, configEnv(map[string]string{"NO_PROXY": "x"})); !c.Proxy.IsZero() || c.Proxy.NoProxy != "" {
		t.Errorf("NO_PROXY alone: %+v", c.Proxy)
	}
}
