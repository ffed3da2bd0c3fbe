package testkit

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Manager is a running control plane (scripts/run-emulator manage) on 127.0.0.1 with its
// own admin token and state directory; Start again after Stop or Kill reuses both and the
// port (what a restarted manager does). Its output goes to LogFile.
type Manager struct {
	Token     string // the admin token, random
	TokenFile string
	StateDir  string
	Port      int
	Addr      string // 127.0.0.1:Port
	LogFile   string
	dir       string
	args      []string
	proc      *child
}

// StartManager runs scripts/run-emulator manage --host 127.0.0.1 --port 0 --port-file
// dir/manager.port --state-dir dir/state --admin-token-file dir/admin.token --runtime
// process --monitor-interval 0.5 ARGS with a new random token, its output in
// dir/manager.log, and returns once it serves.
func StartManager(dir string, args ...string) (*Manager, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	m := &Manager{Token: base64.RawURLEncoding.EncodeToString(raw), TokenFile: filepath.Join(dir, "admin.token"),
		StateDir: filepath.Join(dir, "state"), LogFile: filepath.Join(dir, "manager.log"), dir: dir, args: args}
	if err := os.WriteFile(m.TokenFile, []byte(m.Token+"\n"), 0o600); err != nil {
		return nil, err
	}
	return m, m.Start()
}

// Start starts the manager (again): on its state directory, and on its port once it had one.
func (m *Manager) Start() error {
	if m.proc != nil {
		select {
		case <-m.proc.done:
		default:
			return fmt.Errorf("the manager is running")
		}
	}
	portFile := filepath.Join(m.dir, "manager.port")
	args := append([]string{"manage", "--host", "127.0.0.1", "--port", strconv.Itoa(m.Port), "--port-file", portFile,
		"--state-dir", m.StateDir, "--admin-token-file", m.TokenFile, "--runtime", "process",
		"--monitor-interval", "0.5"}, m.args...)
	proc, port, err := startRunEmulator("the manager", m.LogFile, portFile, args)
	if err != nil {
		return err
	}
	m.proc, m.Port, m.Addr = proc, port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return nil
}

// Stop stops the manager (SIGTERM) and waits; its services keep running.
func (m *Manager) Stop() { m.proc.stop(syscall.SIGTERM) }

// Kill crashes the manager (SIGKILL) and waits; its services keep running.
func (m *Manager) Kill() { m.proc.stop(syscall.SIGKILL) }

// Log is the manager's output so far (all its starts).
func (m *Manager) Log() string {
	data, _ := os.ReadFile(m.LogFile)
	return string(data)
}

// ServerPIDs are the live reference servers started under this manager's state directory
// (a service's port file is there).
func (m *Manager) ServerPIDs() []int {
	prefix := m.servicesDir() + string(os.PathSeparator)
	servers := processes(func(argv []string) bool {
		serve, under := false, false
		for _, arg := range argv {
			serve = serve || arg == "serve"
			under = under || strings.HasPrefix(arg, prefix)
		}
		return serve && under
	})
	out := make([]int, 0, len(servers))
	for pid := range servers {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// BalancerPIDs are the live nginx masters (the load balancer of a service of several
// replicas) whose configuration is under this manager's state directory. A worker the master
// has just forked still shows the master's title until it sets its own: a process whose
// parent is among them is not counted.
func (m *Manager) BalancerPIDs() []int {
	marker := " -c " + m.servicesDir() + string(os.PathSeparator)
	masters := processes(func(argv []string) bool {
		line := strings.Join(argv, " ")
		return strings.HasPrefix(line, "nginx: master process") && strings.Contains(line, marker)
	})
	var out []int
	for pid, parent := range masters {
		if _, forked := masters[parent]; !forked {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

// servicesDir is the manager's <state-dir>/services, resolved as the manager resolves it.
func (m *Manager) servicesDir() string {
	services := filepath.Join(m.StateDir, "services")
	if abs, err := filepath.Abs(services); err == nil {
		services = abs
	}
	if real, err := filepath.EvalSymlinks(services); err == nil {
		services = real
	}
	return services
}

// processes are the live (not zombie) processes whose command line matches: pid → parent pid.
func processes(match func(argv []string) bool) map[int]int {
	entries, _ := os.ReadDir("/proc")
	pids := map[int]int{}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "stat"))
		if err != nil {
			continue
		}
		// stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if match(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")) {
			pids[pid], _ = strconv.Atoi(fields[1])
		}
	}
	return pids
}

// Close stops the manager and kills every server and balancer it left (a failed test must not leave
// servers running).
func (m *Manager) Close() {
	if m.proc != nil {
		m.proc.stop(syscall.SIGTERM)
	}
	for _, pid := range append(m.ServerPIDs(), m.BalancerPIDs()...) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
