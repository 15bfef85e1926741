package lima

import (
	"strings"
	"testing"
)

// The TCG warning's fix must be one the user can do: joining the kvm group
// helps only where /dev/kvm exists.
func TestTCGWarningFix(t *testing.T) {
	if w := tcgWarning(true); !strings.Contains(w, "usermod -aG kvm") {
		t.Errorf("with /dev/kvm: %s", w)
	}
	if w := tcgWarning(false); strings.Contains(w, "usermod") || !strings.Contains(w, "so that /dev/kvm exists") {
		t.Errorf("without /dev/kvm: %s", w)
	}
}
