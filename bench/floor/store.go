//go:build store

package main

// The floor with Lima's pkg/store linked in, unused: what the import alone
// costs a process that never calls it.
import _ "github.com/lima-vm/lima/pkg/store"
