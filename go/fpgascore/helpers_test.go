package fpgascore

// Test helpers: the repository root, test certificates (scripts/make-dev-certs), the
// reference server (scripts/run-emulator) started on demand, both through internal/testkit,
// and a small in-process gRPC server for failures the emulator cannot inject.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

const (
	testPrimaryKey   = "primary-key-0123456789abcdef"
	testSecondaryKey = "secondary-key-fedcba9876543210"
)

var (
	testDir   string         // temporary directory of this test run
	testCerts *testkit.Certs // scripts/make-dev-certs, once per run
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fpgascore-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testDir = dir
	testCerts, err = testkit.MakeCerts(filepath.Join(dir, "certs"))
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

// repoRoot is the folder holding scripts/run-emulator (or, failing that, the go/ module's parent).
func repoRoot() string {
	if root := testkit.RepoRoot(); root != "" {
		return root
	}
	wd, _ := os.Getwd()
	return filepath.Dir(filepath.Dir(wd)) // go/fpgascore -> repo
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
// The reference server (scripts/run-emulator, through testkit).

var (
	emulatorsMu sync.Mutex
	emulators   = map[string]*testkit.Emulator{}
	emulatorErr = map[string]error{}
)

// emulatorArgs are the serve flags of each reference-server configuration the tests use.
func emulatorArgs(kind string) ([]string, error) {
	keys := []string{"--primary-key-file", writeKeyFile("primary", testPrimaryKey),
		"--secondary-key-file", writeKeyFile("secondary", testSecondaryKey)}
	tlsArgs := func(kp testkit.Pair) []string { return []string{"--tls-cert", kp.Cert, "--tls-key", kp.Key} }
	switch kind {
	case "plain":
		return []string{"--conformance"}, nil
	case "plain-auth":
		return append([]string{"--conformance", "--require-auth"}, keys...), nil
	case "tls":
		return append(append([]string{"--conformance"}, tlsArgs(testCerts.Server)...), keys...), nil
	case "tls-self-signed":
		return append(tlsArgs(testCerts.SelfSigned), keys...), nil
	case "tls-wrong-host":
		return append(tlsArgs(testCerts.WrongHost), keys...), nil
	case "tls-expired":
		return append(tlsArgs(testCerts.Expired), keys...), nil
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
func emulatorFor(t testing.TB, kind string) *testkit.Emulator {
	t.Helper()
	emulatorsMu.Lock()
	defer emulatorsMu.Unlock()
	if e, ok := emulators[kind]; ok {
		return e
	}
	if err, ok := emulatorErr[kind]; ok {
		t.Fatalf("reference server %q did not start: %v", kind, err)
	}
	if _, err := testkit.Script("run-emulator"); err != nil {
		if os.Getenv("FPGASCORE_REQUIRE_EMULATOR") == "1" {
			t.Fatalf("reference server needed: %v", err)
		}
		t.Skipf("no reference server: %v", err)
	}
	args, err := emulatorArgs(kind)
	if err != nil {
		t.Fatal(err)
	}
	e, err := testkit.StartEmulator(filepath.Join(testDir, "emulator-"+kind), args...)
	if err != nil {
		emulatorErr[kind] = err
		t.Fatalf("reference server %q did not start: %v", kind, err)
	}
	emulators[kind] = e
	return e
}

func stopAllEmulators() {
	emulatorsMu.Lock()
	defer emulatorsMu.Unlock()
	var wg sync.WaitGroup
	for _, e := range emulators {
		wg.Add(1)
		go func(e *testkit.Emulator) { defer wg.Done(); e.Stop() }(e)
	}
	wg.Wait()
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

func serverTLS(t testing.TB, kp testkit.Pair) credentials.TransportCredentials {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(kp.Cert, kp.Key)
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
