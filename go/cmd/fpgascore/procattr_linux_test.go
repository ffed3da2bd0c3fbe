package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the reference server get SIGTERM when the test process dies, so no
// server outlives the tests.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
