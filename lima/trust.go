package lima

import (
	"fmt"
	"os"
	"path/filepath"

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
