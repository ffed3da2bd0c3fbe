package testkit

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the reference server get SIGTERM when the test process dies (a test
// timeout or a crash skips TestMain's cleanup), so no server outlives the tests.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
