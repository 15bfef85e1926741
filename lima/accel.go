package lima

import (
	"runtime"
	"strings"

	"github.com/lima-vm/lima/pkg/limayaml"
)

// tcgArgs are QEMU's software-emulation settings per guest architecture:
// Lima v1.2 always asks Linux's QEMU for KVM (accel=kvm, -cpu host) and
// the VM dies at once where /dev/kvm is missing or not ours. Lima takes
// extra emulator arguments from QEMU_SYSTEM_<ARCH> and then leaves out its
// own -machine and -cpu; a large translation cache halves TCG boot times.
var tcgArgs = map[limayaml.Arch]string{
	limayaml.X8664:   "-machine q35,vmport=off -accel tcg,thread=multi,tb-size=512 -cpu max",
	limayaml.AARCH64: "-machine virt -accel tcg,thread=multi,tb-size=512 -cpu max",
}

// TCGFallback returns the QEMU_SYSTEM_<ARCH> variable that makes Lima use
// software emulation, when QEMU is the VM type on Linux, KVM is not
// usable, and the user has not chosen an emulator command themselves.
func TCGFallback(vmType string, getenv func(string) string) (key, value string, ok bool) {
	if runtime.GOOS != "linux" || !UsesQEMU(vmType) {
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
