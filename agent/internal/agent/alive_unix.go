//go:build unix

package agent

import (
	"errors"
	"syscall"
)

// processAlive tells whether a process with that pid runs (known: whether it could tell).
func processAlive(pid int) (alive, known bool) {
	err := syscall.Kill(pid, 0) // signal 0: checks only
	if err == nil || errors.Is(err, syscall.EPERM) {
		return true, true // running (as another user when EPERM)
	}
	return false, errors.Is(err, syscall.ESRCH)
}
