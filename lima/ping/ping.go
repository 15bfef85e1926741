// Package ping asks a Docker engine on a unix socket whether it answers.
// It uses bare system calls and must import nothing the linker initializes
// late, not even package net: shim/fastpath calls it from an init function
// that runs before Lima's packages initialize.
package ping

import (
	"bytes"
	"syscall"
	"time"
)

// Engine reports whether a Docker engine answers GET /_ping with a 200 on
// the socket: Lima's forwarder accepts connections even when the guest is gone.
func Engine(socket string, timeout time.Duration) bool {
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	// On unix sockets these bound connect, write and read alike.
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	if syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv) != nil ||
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv) != nil {
		return false
	}
	if retry(func() error { return syscall.Connect(fd, &syscall.SockaddrUnix{Name: socket}) }) != nil {
		return false
	}
	request := []byte("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
	for len(request) > 0 {
		var n int
		if retry(func() (err error) { n, err = syscall.Write(fd, request); return err }) != nil {
			return false
		}
		request = request[n:]
	}
	var status []byte
	buf := make([]byte, 64)
	for !bytes.Contains(status, []byte("\n")) && len(status) < 256 {
		var n int
		if retry(func() (err error) { n, err = syscall.Read(fd, buf); return err }) != nil || n <= 0 {
			return false
		}
		status = append(status, buf[:n]...)
	}
	return bytes.HasPrefix(status, []byte("HTTP/1.")) && bytes.Contains(status, []byte(" 200 "))
}

// retry repeats a system call that a signal interrupted: with a timeout
// set, socket calls fail with EINTR whatever SA_RESTART says.
func retry(call func() error) error {
	for {
		if err := call(); err != syscall.EINTR {
			return err
		}
	}
}

// Wait polls Engine until it answers or the time is up.
func Wait(socket string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if Engine(socket, 2*time.Second) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}
