package settings

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
)

// SystemCAs in ca-certs stands for the CAs the host trusts beyond what its
// OS ships: a company's root for TLS inspection is one.
const SystemCAs = "system"

// The words of proxy besides a URL.
const (
	ProxyAuto = "auto" // the environment of the command that starts the VM
	ProxyNone = "none"
)

// Proxy is the proxy as docker and curl read it from the environment:
// one URL for http, one for https, and the hosts that bypass both.
type Proxy struct {
	HTTP    string `json:"http,omitempty"`
	HTTPS   string `json:"https,omitempty"`
	NoProxy string `json:"noProxy,omitempty"`
}

// IsZero says there is no proxy: NO_PROXY alone changes nothing.
func (p Proxy) IsZero() bool { return p.HTTP == "" && p.HTTPS == "" }

// proxyFromEnv is proxy = "auto": each variable in either case, the
// uppercase one winning as Lima's and curl's order has it. A value with a
// control character cannot be a URL and is left out.
func proxyFromEnv(getenv func(string) string) Proxy {
	get := func(name string) string {
		for _, n := range []string{strings.ToUpper(name), name} {
			if v := strings.TrimSpace(getenv(n)); v != "" && !hasControl(v) {
				return v
			}
		}
		return ""
	}
	p := Proxy{HTTP: get("http_proxy"), HTTPS: get("https_proxy"), NoProxy: get("no_proxy")}
	if p.IsZero() {
		return Proxy{}
	}
	return p
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// setProxy takes "auto" (the environment, Load's default), "none" or a
// URL, which serves http and https alike.
func setProxy(c *Config, v any, _ string) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("got %s", show(v))
	}
	switch s {
	case ProxyAuto:
		c.Proxy = c.envProxy
		return nil
	case ProxyNone:
		c.Proxy = Proxy{}
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || hasControl(s):
		return errors.New("got a value that is not a URL")
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5":
		// Never the value itself: it may hold a password.
		return fmt.Errorf("got a URL of scheme %q (http, https or socks5)", u.Scheme)
	case u.Hostname() == "":
		return errors.New("got a URL without a host")
	}
	c.Proxy = Proxy{HTTP: s, HTTPS: s}
	return nil
}

// setCACerts takes a list of PEM files and "system", or "none" alone (a
// list or a word). Each file must hold a certificate now: a VM that boots
// without the CA a proxy needs fails far from the cause.
func setCACerts(c *Config, v any, root string) error {
	var list []any
	switch v := v.(type) {
	case string:
		if v != SystemCAs && v != ProxyNone {
			return fmt.Errorf("got %s", show(v))
		}
		list = []any{v}
	case []any:
		list = v
	default:
		return fmt.Errorf("got %s", show(v))
	}
	c.CACerts = nil
	for _, item := range list {
		s, ok := item.(string)
		switch {
		case !ok || s == "":
			return fmt.Errorf("got %s in the list", show(item))
		case s == ProxyNone && len(list) == 1:
			return nil
		case s == ProxyNone:
			return fmt.Errorf(`got "none" with other entries ("none" stands alone)`)
		case s == SystemCAs:
			c.CACerts = append(c.CACerts, s)
			continue
		}
		path, err := hostPath(s, root)
		if err != nil {
			return err
		}
		if err := checkPEM(path); err != nil {
			return err
		}
		c.CACerts = append(c.CACerts, path)
	}
	return nil
}

// checkPEM says what is wrong with a CA file, and what to do about it.
func checkPEM(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("CA file %s does not exist (export the CA as PEM to it, or take it out of the list)", path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot read CA file %s: %v (make it readable, or take it out of the list)", path, err)
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			return nil
		}
	}
	return fmt.Errorf("CA file %s holds no PEM certificate (convert it: openssl x509 -inform der -in FILE -out %s)", path, path)
}
