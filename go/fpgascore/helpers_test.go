package fpgascore

// Test helpers: the repository root, test certificates, the reference server (the Python
// emulator, scripts/run-emulator) started on demand, and a small in-process gRPC server
// for failures the emulator cannot inject.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

const (
	testPrimaryKey   = "primary-key-0123456789abcdef"
	testSecondaryKey = "secondary-key-fedcba9876543210"
)

var (
	testDir   string // temporary directory of this test run
	testCerts *certSet
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fpgascore-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testDir = dir
	testCerts, err = makeCerts(filepath.Join(dir, "certs"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "making test certificates:", err)
		os.Exit(2)
	}
	code := m.Run()
	stopAllEmulators()
	if os.Getenv("FPGASCORE_KEEP_TEST_DIR") == "" {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "test files kept in", dir)
	}
	os.Exit(code)
}

// repoRoot walks up from the working directory to the folder holding scripts/run-emulator
// (or, failing that, the go/ module's parent).
func repoRoot() string {
	wd, _ := os.Getwd()
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "run-emulator")); err == nil {
			return dir
		}
		if _, err := os.Stat(filepath.Join(dir, "conformance", "CLIENT_SPEC.md")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return filepath.Dir(filepath.Dir(wd)) // go/fpgascore -> repo
		}
	}
}

func testImage(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "conformance", "testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// ---------------------------------------------------------------------------------------
// Certificates.

type certSet struct {
	dir        string
	caPEM      []byte
	caFile     string
	otherCA    string // a CA file that signed none of the server certs
	good       keyPair
	selfSigned keyPair
	wrongHost  keyPair
	expired    keyPair
}

type keyPair struct{ certFile, keyFile string }

func makeCerts(dir string) (*certSet, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cs := &certSet{dir: dir}
	caKey, caCert, caDER, err := newCA("fpgascore test CA")
	if err != nil {
		return nil, err
	}
	cs.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	cs.caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(cs.caFile, cs.caPEM, 0o600); err != nil {
		return nil, err
	}
	_, _, otherDER, err := newCA("fpgascore other CA")
	if err != nil {
		return nil, err
	}
	cs.otherCA = filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(cs.otherCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherDER}), 0o600); err != nil {
		return nil, err
	}
	now := time.Now()
	loopback := []string{"localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	specs := []struct {
		name       string
		dst        *keyPair
		dns        []string
		ips        []net.IP
		notBefore  time.Time
		notAfter   time.Time
		selfSigned bool
	}{
		{"good", &cs.good, loopback, ips, now.Add(-time.Hour), now.Add(24 * time.Hour), false},
		{"self-signed", &cs.selfSigned, loopback, ips, now.Add(-time.Hour), now.Add(24 * time.Hour), true},
		{"wrong-host", &cs.wrongHost, []string{"wrong.example.com"}, nil, now.Add(-time.Hour), now.Add(24 * time.Hour), false},
		{"expired", &cs.expired, loopback, ips, now.Add(-48 * time.Hour), now.Add(-24 * time.Hour), false},
	}
	for i, s := range specs {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(100 + i)),
			Subject:      pkix.Name{CommonName: "fpgascore test " + s.name},
			DNSNames:     s.dns,
			IPAddresses:  s.ips,
			NotBefore:    s.notBefore,
			NotAfter:     s.notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		parent, signer := caCert, caKey
		if s.selfSigned {
			parent, signer = tmpl, key
			tmpl.BasicConstraintsValid = true
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
		if err != nil {
			return nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		s.dst.certFile = filepath.Join(dir, s.name+".pem")
		s.dst.keyFile = filepath.Join(dir, s.name+".key")
		chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(s.dst.certFile, chain, 0o600); err != nil {
			return nil, err
		}
		if err := os.WriteFile(s.dst.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

func newCA(name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, der, err
}

// ---------------------------------------------------------------------------------------
// The reference server (scripts/run-emulator).

type emulator struct {
	name    string
	addr    string // 127.0.0.1:port
	port    int
	cmd     *exec.Cmd
	logFile string
	done    chan struct{}
}

var (
	emulatorsMu sync.Mutex
	emulators   = map[string]*emulator{}
	emulatorErr = map[string]error{}
)

// emulatorKinds are the reference-server configurations the tests use.
func emulatorArgs(kind string) ([]string, error) {
	keys := []string{"--primary-key-file", writeKeyFile("primary", testPrimaryKey),
		"--secondary-key-file", writeKeyFile("secondary", testSecondaryKey)}
	tlsArgs := func(kp keyPair) []string { return []string{"--tls-cert", kp.certFile, "--tls-key", kp.keyFile} }
	switch kind {
	case "plain":
		return []string{"--conformance"}, nil
	case "plain-auth":
		return append([]string{"--conformance", "--require-auth"}, keys...), nil
	case "tls":
		return append(append([]string{"--conformance"}, tlsArgs(testCerts.good)...), keys...), nil
	case "tls-self-signed":
		return append(tlsArgs(testCerts.selfSigned), keys...), nil
	case "tls-wrong-host":
		return append(tlsArgs(testCerts.wrongHost), keys...), nil
	case "tls-expired":
		return append(tlsArgs(testCerts.expired), keys...), nil
	case "queue-1":
		return []string{"--conformance", "--queue-depth", "1", "--service-time-ms", "300"}, nil
	case "large-answers": // sends answers over the clients' 16 MiB response limit
		return []string{"--conformance", "--max-message-bytes", strconv.Itoa(32 << 20)}, nil
	}
	return nil, fmt.Errorf("unknown emulator kind %q", kind)
}

func writeKeyFile(name, key string) string {
	path := filepath.Join(testDir, name+".key")
	if _, err := os.Stat(path); err != nil {
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			panic(err)
		}
	}
	return path
}

// emulatorFor returns the shared reference server of a kind, starting it on first use.
// Without scripts/run-emulator the test is skipped, unless FPGASCORE_REQUIRE_EMULATOR=1
// (scripts/test-go.sh sets it), which makes it fail.
func emulatorFor(t testing.TB, kind string) *emulator {
	t.Helper()
	emulatorsMu.Lock()
	defer emulatorsMu.Unlock()
	if e, ok := emulators[kind]; ok {
		return e
	}
	if err, ok := emulatorErr[kind]; ok {
		t.Fatalf("reference server %q did not start: %v", kind, err)
	}
	script := filepath.Join(repoRoot(), "scripts", "run-emulator")
	if _, err := os.Stat(script); err != nil {
		if os.Getenv("FPGASCORE_REQUIRE_EMULATOR") == "1" {
			t.Fatalf("reference server needed but %s is missing", script)
		}
		t.Skipf("no reference server (%s missing)", script)
	}
	args, err := emulatorArgs(kind)
	if err != nil {
		t.Fatal(err)
	}
	e, err := startEmulator(script, kind, args)
	if err != nil {
		emulatorErr[kind] = err
		t.Fatalf("reference server %q did not start: %v", kind, err)
	}
	emulators[kind] = e
	return e
}

func startEmulator(script, kind string, extra []string) (*emulator, error) {
	dir := filepath.Join(testDir, "emulator-"+kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	portFile := filepath.Join(dir, "port")
	logFile := filepath.Join(dir, "stderr.log")
	logOut, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--host", "127.0.0.1", "--port", "0", "--port-file", portFile,
		"--grace-seconds", "1"}, extra...)
	cmd := exec.Command(script, args...)
	cmd.Stdout = logOut
	cmd.Stderr = logOut
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logOut.Close()
		return nil, err
	}
	e := &emulator{name: kind, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() { cmd.Wait(); logOut.Close(); close(e.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(portFile); err == nil && len(strings.TrimSpace(string(data))) > 0 {
			e.port, err = strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				e.stop()
				return nil, err
			}
			e.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port))
			return e, nil
		}
		select {
		case <-e.done:
			log, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("exited early: %s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("no port file after 60 s")
		}
	}
}

func (e *emulator) stop() {
	if e.cmd.Process == nil {
		return
	}
	e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		e.cmd.Process.Kill()
		<-e.done
	}
}

func stopAllEmulators() {
	emulatorsMu.Lock()
	defer emulatorsMu.Unlock()
	var wg sync.WaitGroup
	for _, e := range emulators {
		wg.Add(1)
		go func(e *emulator) { defer wg.Done(); e.stop() }(e)
	}
	wg.Wait()
}

// logRecords returns the server's JSON log lines whose "case" is caseID.
func (e *emulator) logRecords(t testing.TB, caseID string) []map[string]interface{} {
	t.Helper()
	f, err := os.Open(e.logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]interface{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]interface{}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		if rec["case"] == caseID {
			out = append(out, rec)
		}
	}
	return out
}

// logText returns the server's whole log.
func (e *emulator) logText(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(e.logFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// caseID makes a conformance case id unique to this test run.
func caseID(t testing.TB, suffix string) string {
	return fmt.Sprintf("go/%s/%s/%d", t.Name(), suffix, time.Now().UnixNano())
}

// ---------------------------------------------------------------------------------------
// In-process fake server.

// fakeServer is a PredictionService whose answers a test scripts with handle.
type fakeServer struct {
	pb.UnimplementedPredictionServiceServer
	mu     sync.Mutex
	calls  int
	auths  []string
	handle func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error)
	addr   string
	srv    *grpc.Server
}

func (f *fakeServer) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	if md, ok := metadataFromIncoming(ctx); ok {
		f.auths = append(f.auths, strings.Join(md.Get("authorization"), ","))
	}
	f.mu.Unlock()
	if f.handle == nil {
		return scoresResponse(imageCount(req), false), nil
	}
	return f.handle(ctx, n, req)
}

func (f *fakeServer) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// startFake serves a fakeServer on loopback (TLS when creds is non-nil) until the test ends.
func startFake(t testing.TB, creds credentials.TransportCredentials, handle func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error)) *fakeServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	f := &fakeServer{handle: handle, addr: lis.Addr().String(), srv: grpc.NewServer(opts...)}
	pb.RegisterPredictionServiceServer(f.srv, f)
	go f.srv.Serve(lis)
	t.Cleanup(f.srv.Stop)
	return f
}

func serverTLS(t testing.TB, kp keyPair) credentials.TransportCredentials {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewServerTLSFromCert(&cert)
}

func imageCount(req *pb.PredictRequest) int {
	for _, t := range req.GetInputs() {
		if t.GetDtype() == pb.DataType_DT_STRING {
			return len(t.GetStringVal())
		}
		if dims := t.GetTensorShape().GetDim(); len(dims) > 0 {
			return int(dims[0].GetSize())
		}
	}
	return 1
}

// scoresResponse is a valid [n, 1000] response: row i peaks at class i+1.
func scoresResponse(n int, floatVal bool) *pb.PredictResponse {
	values := make([]float32, n*NumClasses)
	for i := 0; i < n; i++ {
		values[i*NumClasses+(i+1)%NumClasses] = 0.9
		values[i*NumClasses+(i+2)%NumClasses] = 0.1
	}
	t := floatTensor(values, []int64{int64(n), NumClasses})
	if floatVal {
		t.TensorContent = nil
		t.FloatVal = values
	}
	return &pb.PredictResponse{Outputs: map[string]*pb.TensorProto{DefaultOutputName: t}}
}
