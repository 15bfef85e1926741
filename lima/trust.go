package lima

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lima-vm/lima/pkg/store"
	"github.com/lima-vm/lima/pkg/store/filenames"
)

// prepareTrust reads the CAs the guest is to trust before anything
// changes, so that a CA file gone bad stops the call with nothing done;
// and for a start no user asked for, it keeps the proxy the VM has.
func (m *Manager) prepareTrust(req Request, inst *store.Instance) error {
	certs, err := ReadCACerts(m.Config.CACerts)
	if err != nil {
		return err
	}
	m.Config.CACertPEMs = append([]string{}, certs...) // read: not nil
	if req.Background {
		m.Config.Proxy = VMProxy(inst)
	}
	return nil
}

// started gives the clients the proxy the guest now has.
func (m *Manager) started() error {
	privateConfig(m.dir())
	if m.OnStart == nil {
		return nil
	}
	if err := m.OnStart(GuestProxy(m.Config.Proxy)); err != nil {
		fmt.Fprintf(m.Stderr, "pixi-lima: warning: VM %q runs, but builds and containers may not use its proxy: %v\n", m.Config.Name, err)
	}
	return nil
}

// privateConfig makes lima.yaml readable by its owner only: it holds the
// proxy's credentials. Lima's later rewrites keep the mode (os.WriteFile).
func privateConfig(dir string) {
	os.Chmod(filepath.Join(dir, filenames.LimaYAML), 0o600)
}

// trustSep parts GuestTrustScript's two outputs.
const trustSep = "--- pixi-lima proxy ---"

// GuestTrustScript prints in the guest the CAs cloud-init installed from
// lima.yaml and docker's proxy drop-in, for doctor. cloud-init 23.1 and
// later (Ubuntu's) write cloud-init-ca-cert-N.crt, older ones (Debian 12's
// 22.4) one cloud-init-ca-certs.crt with them all.
const GuestTrustScript = "cat /usr/local/share/ca-certificates/cloud-init-ca-cert-*.crt /usr/share/ca-certificates/cloud-init-ca-certs.crt 2>/dev/null; echo '" + trustSep +
	"'; sudo -n cat " + systemDropIn + " 2>/dev/null || cat " + userDropIn + " 2>/dev/null; true"

// GuestTrust compares GuestTrustScript's output with the CAs and proxy
// pixi-lima gave the instance in its lima.yaml (how these differ from the
// settings is drift, which doctor says apart): problem is what breaks,
// warning what is only left over; both "" when the guest agrees.
func GuestTrust(inst *store.Instance, out string) (problem, warning string) {
	certs := vmCACerts(inst)
	caText, dropInText, _ := strings.Cut(out, trustSep)
	have := normalCerts(pemCerts([]byte(caText)))
	var missing, extra []string
	for _, c := range certs {
		if !slices.Contains(have, c) {
			missing = append(missing, Fingerprint(c))
		}
	}
	for _, c := range have {
		if !slices.Contains(certs, c) {
			extra = append(extra, Fingerprint(c))
		}
	}
	want := VMProxy(inst)
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("the guest lacks %d of the CAs its lima.yaml gives it (%s)", len(missing), strings.Join(missing, ", ")))
	}
	if strings.TrimSpace(dropInText) != strings.TrimSpace(dropIn(want)) {
		problems = append(problems, "docker's daemon in the guest does not have the proxy "+ShowProxy(want))
	}
	if len(extra) > 0 {
		// cloud-init's ca_certs adds, and never removes.
		warning = fmt.Sprintf("the guest still trusts %d CAs no longer in ca-certs (%s): only a new VM drops them", len(extra), strings.Join(extra, ", "))
	}
	return strings.Join(problems, "; "), warning
}
