package lima

import (
	"bufio"
	"net"
	"strings"
	"time"
)

// Ping reports whether a Docker engine answers on the unix socket. A socket
// file alone proves nothing: after a crash it can remain with no listener,
// and Lima's forwarder accepts connections even when the guest is gone. So
// ask the engine itself (GET /_ping) and require an HTTP 200.
func Ping(socket string, timeout time.Duration) bool {
	conn, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "HTTP/1.") && strings.Contains(line, " 200 ")
}

// WaitPing polls Ping until it succeeds or the time is up.
func WaitPing(socket string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if Ping(socket, 2*time.Second) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}
