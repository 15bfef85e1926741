//go:build !linux && !darwin

package listeners

// TCP cannot list sockets here: it finds none.
func TCP(ports []uint16, first ...int) []Listener { return nil }
