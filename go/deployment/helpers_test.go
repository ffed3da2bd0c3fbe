package deployment_test

// Test helpers: test certificates (scripts/make-dev-certs) and managers (scripts/run-emulator
// manage) through internal/testkit, scoring clients for the services they run, and the
// golden scores of the test image.

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/fpgascore/fpgascore/go/deployment"
	"github.com/fpgascore/fpgascore/go/fpgascore"
	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

var (
	testDir   string         // temporary directory of this test run
	testCerts *testkit.Certs // scripts/make-dev-certs, once per run
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fpgascore-go-deployment-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testDir = dir
	if _, err := testkit.Script("make-dev-certs"); err == nil {
		if testCerts, err = testkit.MakeCerts(filepath.Join(dir, "certs")); err != nil {
			fmt.Fprintln(os.Stderr, "making test certificates:", err)
			os.Exit(2)
		}
	}
	code := m.Run()
	if os.Getenv("FPGASCORE_KEEP_TEST_DIR") == "" {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "test files kept in", dir)
	}
	os.Exit(code)
}

// needScripts skips the test without scripts/run-emulator and make-dev-certs, unless
// FPGASCORE_REQUIRE_EMULATOR=1 (scripts/test-go.sh sets it), which makes it fail.
func needScripts(t *testing.T) {
	t.Helper()
	if _, err := testkit.Script("run-emulator"); err != nil || testCerts == nil {
		if os.Getenv("FPGASCORE_REQUIRE_EMULATOR") == "1" {
			t.Fatalf("the manager and test certificates are needed: %v", err)
		}
		t.Skipf("no scripts/run-emulator or make-dev-certs: %v", err)
	}
}

// startManager runs a manager of the process runtime in a folder of its own, stopped (and
// its servers killed) when the test ends.
func startManager(t *testing.T, name string) *testkit.Manager {
	t.Helper()
	needScripts(t)
	m, err := testkit.StartManager(filepath.Join(testDir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		if t.Failed() {
			t.Logf("manager log:\n%s", m.Log())
		}
	})
	return m
}

// deployments is a deployment client of the manager, closed when the test ends.
func deployments(t *testing.T, m *testkit.Manager, opts ...deployment.Option) *deployment.Client {
	t.Helper()
	c, err := deployment.NewClient(m.Addr, append([]deployment.Option{deployment.WithAdminToken(m.Token)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// scorer is a scoring client of the service with TLS and the key (without key: plaintext),
// no retries, closed when the test ends.
func scorer(t *testing.T, s *deployment.Service, key string, opts ...fpgascore.Option) *fpgascore.Client {
	t.Helper()
	base := []fpgascore.Option{fpgascore.WithRetryPolicy(fpgascore.NoRetries()), fpgascore.WithTimeout(30 * time.Second)}
	if key != "" {
		base = append(base, fpgascore.WithTLS(), fpgascore.WithAccessToken(key))
	}
	c, err := fpgascore.NewClient(s.Address(), append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var golden struct {
	once   bool
	image  []byte
	sha256 string
}

// score scores the test image and checks the scores against the golden ones; the error of
// the call, or one saying the scores differ.
func score(c *fpgascore.Client) error {
	if !golden.once {
		root := testkit.RepoRoot()
		image, err := os.ReadFile(filepath.Join(root, "conformance", "testdata", "images", "gradient.jpg"))
		if err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(root, "conformance", "testdata", "golden.json"))
		if err != nil {
			return err
		}
		var g map[string]struct {
			SHA256 string `json:"sha256"`
		}
		if err := json.Unmarshal(data, &g); err != nil {
			return err
		}
		golden.image, golden.sha256, golden.once = image, g["gradient.jpg"].SHA256, true
	}
	scores, err := c.ScoreImage(context.Background(), golden.image)
	if err != nil {
		return err
	}
	raw := make([]byte, 4*len(scores.Values))
	for i, v := range scores.Values {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != golden.sha256 {
		return fmt.Errorf("the scores are not the golden ones")
	}
	return nil
}

// mustScore fails the test unless the client scores the test image right.
func mustScore(t *testing.T, c *fpgascore.Client, what string) {
	t.Helper()
	if err := score(c); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// codeOf is the code of an *fpgascore.Error, failing the test for any other error.
func codeOf(t *testing.T, err error) codes.Code {
	t.Helper()
	var e *fpgascore.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *fpgascore.Error, got %T %v", err, err)
	}
	return e.Code
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// portClosed: nothing accepts a connection on 127.0.0.1:port.
func portClosed(port int) bool {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err == nil {
		conn.Close()
		return false
	}
	return true
}
