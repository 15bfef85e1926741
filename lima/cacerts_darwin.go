package lima

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// systemCACerts are the certificates of the System and login keychains
// that the admin or the user trusts for SSL: where a company's MDM or its
// IT puts the root of its TLS inspection. Apple's own roots live in
// SystemRootCertificates.keychain and the guest has its own.
func systemCACerts() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pems []byte
	keychains := []string{"/Library/Keychains/System.keychain"}
	if home, err := os.UserHomeDir(); err == nil {
		keychains = append(keychains, filepath.Join(home, "Library/Keychains/login.keychain-db"))
	}
	for _, kc := range keychains {
		if _, err := os.Stat(kc); err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, "security", "find-certificate", "-a", "-p", kc).Output()
		if err != nil {
			return nil, fmt.Errorf("security find-certificate %s: %w", kc, err)
		}
		pems = append(pems, out...)
	}
	var exports [][]byte
	for _, domain := range []string{"-d", "-u"} { // admin, user
		data, err := trustExport(ctx, domain)
		if err != nil {
			return nil, err
		}
		exports = append(exports, data)
	}
	return trustedForSSL(pems, exports...)
}

// trustExport is `security trust-settings-export` of one domain; empty
// when the domain has no trust settings, which security reports as an error.
func trustExport(ctx context.Context, domain string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "pixi-lima-trust")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "trust.plist")
	out, err := exec.CommandContext(ctx, "security", "trust-settings-export", domain, file).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No Trust Settings") {
			return nil, nil
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, err
		}
		return nil, fmt.Errorf("security trust-settings-export %s: %v: %s", domain, err, strings.TrimSpace(string(out)))
	}
	return os.ReadFile(file)
}
