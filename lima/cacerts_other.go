//go:build !darwin

package lima

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// localCADirs are where a Linux host's administrator adds CAs to those its
// distribution ships: Debian and Ubuntu, then Fedora and RHEL.
var localCADirs = []string{"/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors"}

// systemCACerts are the certificates of localCADirs. A file that cannot
// be read or holds none is the OS's business, and left out.
func systemCACerts() ([]string, error) {
	var certs []string
	for _, dir := range localCADirs {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".crt") || strings.HasSuffix(path, ".pem")) {
				return nil
			}
			if data, err := os.ReadFile(path); err == nil {
				certs = append(certs, pemCerts(data)...)
			}
			return nil
		})
	}
	return certs, nil
}
