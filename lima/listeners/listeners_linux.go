package listeners

import (
	"os"
	"strconv"
	"strings"
)

// TCP lists the sockets that listen on any of ports, looking for the
// owner of each socket's inode among first, then among all processes
// whose /proc/<pid>/fd this user may read.
func TCP(ports []uint16, first ...int) []Listener {
	want := make(map[uint16]bool, len(ports))
	for _, p := range ports {
		want[p] = true
	}
	var socks []socket
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if b, err := os.ReadFile(file); err == nil {
			socks = append(socks, parseProcNet(b, want)...)
		}
	}
	if len(socks) == 0 {
		return nil
	}
	owner := make(map[uint64]int, len(socks))
	for _, s := range socks {
		owner[s.inode] = 0
	}
	left := len(owner)
	scan := func(pid int) {
		fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		if err != nil {
			return
		}
		for _, fd := range fds {
			link, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
			inode, ok := socketInode(link)
			if p, known := owner[inode]; ok && known && p == 0 {
				owner[inode] = pid
				left--
			}
		}
	}
	for _, pid := range first {
		if left > 0 {
			scan(pid)
		}
	}
	if left > 0 {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if pid, err := strconv.Atoi(e.Name()); err == nil && left > 0 {
				scan(pid)
			}
		}
	}
	found := make([]Listener, 0, len(socks))
	for _, s := range socks {
		found = append(found, Listener{s.addr, owner[s.inode]})
	}
	return found
}

// socketInode reads the target of an fd link to a socket, "socket:[123]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, false
	}
	inode, err := strconv.ParseUint(s[:len(s)-1], 10, 64)
	return inode, err == nil
}
