package lima

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/lima-vm/lima/pkg/store"

	"github.com/pixi-lima/pixi-lima/env/settings"
)

// ReadCACerts reads the certificates the ca-certs entries name ("system"
// and PEM files) into one deduplicated, sorted list of PEM blocks: inlined
// in lima.yaml, the VM depends on no file of the host.
func ReadCACerts(entries []string) ([]string, error) {
	return readCACerts(entries, systemCACerts)
}

// readCACerts is ReadCACerts with the host's own additions from system.
func readCACerts(entries []string, system func() ([]string, error)) ([]string, error) {
	var certs []string
	for _, e := range entries {
		if e == settings.SystemCAs {
			found, err := system()
			if err != nil {
				return nil, &HintError{Msg: "cannot read the CAs this host trusts: " + err.Error(),
					Hint: `list the CA files in [tool.pixi-lima] ca-certs instead of "system", or set ca-certs = "none"`}
			}
			certs = append(certs, found...)
			continue
		}
		data, err := os.ReadFile(e)
		if err != nil {
			return nil, &HintError{Msg: "cannot read CA file " + e + ": " + err.Error(),
				Hint: "restore it, or take it out of [tool.pixi-lima] ca-certs"}
		}
		found := pemCerts(data)
		if len(found) == 0 {
			return nil, &HintError{Msg: "CA file " + e + " holds no PEM certificate",
				Hint: "convert it: openssl x509 -inform der -in " + e + " -out " + e}
		}
		certs = append(certs, found...)
	}
	return normalCerts(certs), nil
}

// pemCerts are the certificates of data, PEM or (as Fedora's anchors may
// be) one DER certificate, each re-encoded as a bare PEM block.
func pemCerts(data []byte) []string {
	var out []string
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})))
		}
	}
	if len(out) == 0 {
		if _, err := x509.ParseCertificate(data); err == nil {
			out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: data})))
		}
	}
	return out
}

// normalCerts re-encodes, deduplicates and sorts certs, so that the same
// CAs always give the same lima.yaml and no drift; nil for none.
func normalCerts(certs []string) []string {
	var out []string
	for _, c := range certs {
		out = append(out, pemCerts([]byte(c))...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Fingerprint is the start of a certificate's SHA-256: enough to tell the
// CAs of a project apart, in messages that must not carry whole PEMs.
func Fingerprint(cert string) string {
	b, _ := pem.Decode([]byte(cert))
	if b == nil {
		return "?"
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:6])
}

// showCerts says how many CAs and which: "2 CAs (1a2b3c4d5e6f, …)".
func showCerts(certs []string) string {
	if len(certs) == 0 {
		return "none"
	}
	var fps []string
	for _, c := range certs {
		fps = append(fps, Fingerprint(c))
	}
	noun := "CAs"
	if len(certs) == 1 {
		noun = "CA"
	}
	return fmt.Sprintf("%d %s (%s)", len(certs), noun, strings.Join(fps, ", "))
}

// vmCACerts are the CAs the instance's lima.yaml gives the guest.
func vmCACerts(inst *store.Instance) []string {
	if inst == nil || inst.Config == nil {
		return nil
	}
	return normalCerts(inst.Config.CACertificates.Certs)
}

// VMCACerts counts the CAs the instance gets beyond its own, for status.
func VMCACerts(inst *store.Instance) int { return len(vmCACerts(inst)) }

// caExpression sets the guest's extra CAs, which Lima hands to
// cloud-init's ca_certs at every boot (its instance-id changes each time).
func caExpression(certs []string) string {
	if certs == nil {
		certs = []string{}
	}
	return ".caCerts.certs = " + mustJSON(certs)
}

// wantCACerts are the CAs the project wants the guest to have: those the
// Manager read, or, where it has not, what can be read without running
// macOS's `security` (status must stay fast); known is false when that
// leaves the answer open.
func wantCACerts(c settings.Config) (certs []string, known bool) {
	if c.CACertPEMs != nil {
		return normalCerts(c.CACertPEMs), true
	}
	system := systemCACerts
	if runtime.GOOS == "darwin" {
		if slices.Contains(c.CACerts, settings.SystemCAs) {
			return nil, false
		}
		system = nil
	}
	certs, err := readCACerts(c.CACerts, system)
	return certs, err == nil
}
