package listeners

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// TCP lists this user's sockets that listen on any of ports, as lsof sees
// them; first is for Linux's sake.
func TCP(ports []uint16, first ...int) []Listener {
	if len(ports) == 0 {
		return nil
	}
	args := []string{"-nP", "-w", "-sTCP:LISTEN", "-Fpn"}
	for _, p := range ports {
		args = append(args, "-iTCP:"+strconv.Itoa(int(p)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// lsof exits 1 when it finds nothing: what it printed is the answer.
	out, _ := exec.CommandContext(ctx, lsof(), args...).Output()
	return parseLsof(out)
}

// lsof is macOS's own, in /usr/sbin, which a pixi environment's PATH may lack.
func lsof() string {
	if _, err := os.Stat("/usr/sbin/lsof"); err == nil {
		return "/usr/sbin/lsof"
	}
	return "lsof"
}
