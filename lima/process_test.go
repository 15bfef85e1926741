package lima

import "testing"

func TestIsLimaProcess(t *testing.T) {
	const dir = "/p/.pixi/lima/x-docker"
	for _, c := range []struct {
		argv []string
		want bool
	}{
		{[]string{"/p/.pixi/pixi-lima/bin/limactl", "hostagent", "--pidfile", dir + "/ha.pid", "x-docker"}, true},
		{[]string{"qemu-system-x86_64", "-machine", "q35", "-pidfile", dir + "/qemu.pid"}, true},
		{[]string{"/usr/bin/qemu-system-aarch64", "-qmp", "unix:" + dir + "/qmp.sock,server,nowait"}, true},
		// A reused pid: anything else, however much it mentions lima.
		{[]string{"vim", "lima/x.go"}, false},
		{[]string{"/usr/bin/vim", dir + "/lima.yaml"}, false},
		{[]string{"limactl", "shell", "other-docker"}, false},                                    // Lima, another instance
		{[]string{"limactl", "hostagent", "--pidfile", "/p/.pixi/lima/x-docker2/ha.pid"}, false}, // a longer name
		{nil, false},
	} {
		if got := isLimaProcess(c.argv, dir); got != c.want {
			t.Errorf("isLimaProcess(%q) = %v, want %v", c.argv, got, c.want)
		}
	}
}
