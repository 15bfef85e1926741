package lima

import (
	"os"
	"runtime"
	"strings"

	"github.com/lima-vm/lima/pkg/limayaml"
)

// tcgArgs are QEMU's software-emulation settings per guest architecture,
// for Lima's QEMU_SYSTEM_<ARCH>, since Lima asks Linux's QEMU for KVM
// even where it is unusable. A large translation cache halves boot times.
var tcgArgs = map[limayaml.Arch]string{
	limayaml.X8664:   "-machine q35,vmport=off -accel tcg,thread=multi,tb-size=512 -cpu max",
	limayaml.AARCH64: "-machine virt -accel tcg,thread=multi,tb-size=512 -cpu max",
}

// TCGFallback returns the QEMU_SYSTEM_<ARCH> variable that makes Lima
// emulate the CPU where KVM is not usable and the user set none.
func TCGFallback(vmType string, getenv func(string) string) (key, value string, ok bool) {
	if runtime.GOOS != "linux" || vmType == VZ {
		return "", "", false
	}
	arch := limayaml.NewArch(runtime.GOARCH)
	key = "QEMU_SYSTEM_" + strings.ToUpper(string(arch))
	args, known := tcgArgs[arch]
	if getenv(key) != "" || !known {
		return "", "", false
	}
	if usable, _ := KVM(); usable {
		return "", "", false
	}
	return key, "qemu-system-" + string(arch) + " " + args, true
}

// KVMFix is the one thing to do when KVM is not usable.
func KVMFix() string {
	_, err := os.Stat("/dev/kvm")
	return kvmFix(err == nil)
}

func kvmFix(deviceExists bool) string {
	if deviceExists {
		return `sudo usermod -aG kvm "$(id -un)", then log in again`
	}
	return "enable virtualization (VT-x/AMD-V, or nested virtualization for a VM) so that /dev/kvm exists"
}

func tcgWarning(deviceExists bool) string {
	return "/dev/kvm is not usable, so QEMU emulates the CPU (TCG): a start takes minutes, not seconds (fix: " + kvmFix(deviceExists) + ")"
}
