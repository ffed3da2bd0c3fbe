// Package testkit is what the Go tests share with the Python and C# tests: test certificates
// from scripts/make-dev-certs, the reference server started by the one documented command,
// scripts/run-emulator serve --port 0 --port-file FILE, and the manager (scripts/run-emulator
// manage, the control plane). It only runs those scripts: what the certificates are and how
// the servers start are changed there, once, for every language.
package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// WrongHostName is the only name of the wrong-host certificate (Certs.WrongHost).
const WrongHostName = "wrong.example"

// RepoRoot is the folder holding scripts/run-emulator, walking up from the working directory;
// "" when there is none.
func RepoRoot() string {
	wd, _ := os.Getwd()
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "run-emulator")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// Script is the path of scripts/NAME in the repository, or an error when it is missing.
func Script(name string) (string, error) {
	root := RepoRoot()
	if root == "" {
		return "", fmt.Errorf("no scripts/run-emulator above the working directory")
	}
	path := filepath.Join(root, "scripts", name)
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	return path, nil
}

// Pair is a certificate (PEM chain: leaf, then its issuer) and its private key.
type Pair struct{ Cert, Key string }

// Certs are the files scripts/make-dev-certs writes (see its --help).
type Certs struct {
	Dir         string
	CA          string // the CA to trust
	CAPEM       []byte
	UntrustedCA string // a CA that signed only Untrusted, none of the others
	Server      Pair   // localhost, 127.0.0.1; signed by CA
	SelfSigned  Pair   // localhost, 127.0.0.1; its own root
	Expired     Pair   // localhost, 127.0.0.1; signed by CA, expired
	WrongHost   Pair   // WrongHostName only; signed by CA
	Untrusted   Pair   // localhost, 127.0.0.1; signed by UntrustedCA
}

// MakeCerts runs scripts/make-dev-certs --out dir.
func MakeCerts(dir string) (*Certs, error) {
	script, err := Script("make-dev-certs")
	if err != nil {
		return nil, err
	}
	if out, err := exec.Command(script, "--out", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s --out %s: %v\n%s", script, dir, err, out)
	}
	pair := func(stem string) Pair {
		return Pair{filepath.Join(dir, stem+".pem"), filepath.Join(dir, stem+"-key.pem")}
	}
	c := &Certs{Dir: dir, CA: filepath.Join(dir, "ca.pem"), UntrustedCA: filepath.Join(dir, "untrusted-ca.pem"),
		Server: pair("server"), SelfSigned: pair("self-signed"), Expired: pair("expired"),
		WrongHost: pair("wrong-host"), Untrusted: pair("untrusted")}
	if c.CAPEM, err = os.ReadFile(c.CA); err != nil {
		return nil, err
	}
	return c, nil
}

// Emulator is a running reference server on 127.0.0.1; its output goes to LogFile.
type Emulator struct {
	Port    int
	Addr    string // 127.0.0.1:Port
	LogFile string
	proc    *child
}

// StartEmulator runs scripts/run-emulator serve --host 127.0.0.1 --port 0 --port-file
// dir/port --grace-seconds 1 ARGS, with its output in dir/server.log, and returns once the
// server has written its port file (it is listening then). The server gets SIGTERM if the
// test process dies.
func StartEmulator(dir string, args ...string) (*Emulator, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	portFile := filepath.Join(dir, "port")
	e := &Emulator{LogFile: filepath.Join(dir, "server.log")}
	proc, port, err := startRunEmulator("the reference server", e.LogFile, portFile,
		append([]string{"serve", "--host", "127.0.0.1", "--port", "0", "--port-file", portFile, "--grace-seconds", "1"}, args...))
	if err != nil {
		return nil, err
	}
	e.proc, e.Port, e.Addr = proc, port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return e, nil
}

// Stop ends the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (e *Emulator) Stop() { e.proc.stop(syscall.SIGTERM) }

// child is a process of scripts/run-emulator, its output appended to a log file.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startRunEmulator runs scripts/run-emulator ARGS (what names it in errors), its output
// appended to logFile, and returns once it has written portFile (it serves then), with the
// port. It gets SIGTERM if the test process dies.
func startRunEmulator(what, logFile, portFile string, args []string) (*child, int, error) {
	script, err := Script("run-emulator")
	if err != nil {
		return nil, 0, err
	}
	os.Remove(portFile) // never read a stale port
	logOut, err := os.OpenFile(logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, err
	}
	c := &child{cmd: exec.Command(script, args...), done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = logOut, logOut
	c.cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	dieWithParent(c.cmd)
	if err := c.cmd.Start(); err != nil {
		logOut.Close()
		return nil, 0, err
	}
	go func() { c.cmd.Wait(); logOut.Close(); close(c.done) }()
	logText := func() string { data, _ := os.ReadFile(logFile); return string(data) }
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if data, err := os.ReadFile(portFile); err == nil && len(bytes.TrimSpace(data)) > 0 {
			port, err := strconv.Atoi(string(bytes.TrimSpace(data)))
			if err != nil {
				c.stop(syscall.SIGTERM)
				return nil, 0, fmt.Errorf("port file %s: %v", portFile, err)
			}
			return c, port, nil
		}
		select {
		case <-c.done:
			return nil, 0, fmt.Errorf("%s exited early:\n%s", what, logText())
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.stop(syscall.SIGTERM)
	return nil, 0, fmt.Errorf("%s wrote no port file in 60 s:\n%s", what, logText())
}

// stop sends sig (then SIGKILL after 5 s) and waits for the process to end.
func (c *child) stop(sig syscall.Signal) {
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// Log is the server's output so far.
func (e *Emulator) Log() string {
	data, _ := os.ReadFile(e.LogFile)
	return string(data)
}

// Records are the server's JSON log lines whose "case" is caseID.
func (e *Emulator) Records(caseID string) []map[string]interface{} {
	var out []map[string]interface{}
	sc := bufio.NewScanner(strings.NewReader(e.Log()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]interface{}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["case"] == caseID {
			out = append(out, rec)
		}
	}
	return out
}
