package lima

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/lima-vm/lima/pkg/limayaml"
)

// MissingToolError says which program Lima needs is missing, and how to install it.
type MissingToolError struct {
	Tool    string // "qemu-system-x86_64"
	Purpose string // "to run the VM"
	Install string // "sudo apt-get install qemu-system-x86 (Debian, Ubuntu)"
}

func (e *MissingToolError) Error() string {
	return fmt.Sprintf("%s is not on PATH: Lima needs it %s", e.Tool, e.Purpose)
}

// QEMUSystem is the emulator Lima runs for a guest of the host's
// architecture, honouring Lima's QEMU_SYSTEM_<ARCH> override.
func QEMUSystem(getenv func(string) string) string {
	arch := string(limayaml.NewArch(runtime.GOARCH))
	if v := getenv("QEMU_SYSTEM_" + strings.ToUpper(arch)); v != "" {
		if words := strings.Fields(v); len(words) > 0 {
			return words[0]
		}
	}
	return "qemu-system-" + arch
}

// qemuPackage names what provides a QEMU program on this OS.
func qemuPackage(tool string) string {
	if runtime.GOOS == "darwin" {
		return "brew install qemu"
	}
	pkg := "qemu-utils"
	if strings.HasPrefix(tool, "qemu-system-") {
		pkg = "qemu-system-" + map[string]string{"x86_64": "x86", "aarch64": "arm"}[strings.TrimPrefix(tool, "qemu-system-")]
	}
	return fmt.Sprintf("sudo apt-get install %s (Debian, Ubuntu), sudo dnf install qemu-kvm (Fedora), or brew install qemu", pkg)
}

// CheckQEMUImg finds qemu-img, which `limactl create` runs for a QEMU VM.
func CheckQEMUImg(vmType string) error {
	if vmType != QEMU {
		return nil
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return &MissingToolError{Tool: "qemu-img", Purpose: "to create the VM's disk", Install: qemuPackage("qemu-img")}
	}
	return nil
}

// CheckQEMUSystem finds the emulator before `limactl start`, whose host
// agent would die without saying why on stderr.
func CheckQEMUSystem(vmType string, getenv func(string) string) error {
	if vmType != QEMU {
		return nil
	}
	tool := QEMUSystem(getenv)
	if _, err := exec.LookPath(tool); err != nil {
		return &MissingToolError{Tool: tool, Purpose: "to run the VM", Install: qemuPackage(tool)}
	}
	return nil
}

// KVM says whether QEMU can use KVM; without it Lima emulates the CPU.
func KVM() (ok bool, why string) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false, err.Error()
	}
	f.Close()
	return true, "/dev/kvm is usable"
}

// ShareDir is where a limactl finds its guest agent and templates.
func ShareDir(limactl string) string {
	if real, err := filepath.EvalSymlinks(limactl); err == nil {
		limactl = real
	}
	return filepath.Join(filepath.Dir(filepath.Dir(limactl)), "share", "lima")
}

// GuestAgent is the guest agent for the host's architecture, compressed or not.
func GuestAgent(share string) (string, bool) {
	base := filepath.Join(share, "lima-guestagent.Linux-"+string(limayaml.NewArch(runtime.GOARCH)))
	for _, p := range []string{base + ".gz", base} {
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return base + ".gz", false
}
