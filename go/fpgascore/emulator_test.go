package fpgascore

// Client behaviour against the reference server (scripts/run-emulator), started by the
// tests on demand: scoring, batches, both output encodings, injected failures and retries,
// deadlines, TLS trust, the auth matrix, and the documented raw-stub pattern.

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

var scoredImages = []string{"checkerboard.png", "gradient.jpg", "large-150k.jpg", "rings.jpg", "tiny-noise.png"}

func withCase(ctx context.Context, id string, kv ...string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, append([]string{"x-conformance-case", id}, kv...)...)
}

func checkRows(t *testing.T, s *Scores, rows int) {
	t.Helper()
	if s.Len() != rows || s.Width() != NumClasses || len(s.Values) != rows*NumClasses {
		t.Fatalf("shape %v, %d values; want [%d 1000]", s.Shape, len(s.Values), rows)
	}
	for i := 0; i < rows; i++ {
		sum := 0.0
		for _, v := range s.Row(i) {
			if v < 0 || v > 1 || math.IsNaN(float64(v)) {
				t.Fatalf("row %d has score %v", i, v)
			}
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-3 {
			t.Fatalf("row %d sums to %v", i, sum)
		}
	}
}

func TestEmulatorScoreImages(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr)
	ctx := context.Background()
	var batch [][]byte
	var singles []*Scores
	for _, name := range scoredImages {
		img := testImage(t, name)
		batch = append(batch, img)
		s, err := c.ScoreImage(ctx, img)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkRows(t, s, 1)
		top := s.TopK(5)
		if len(top) != 5 || top[0].Label == "" || top[0].Score < top[4].Score {
			t.Fatalf("%s: top-5 %v", name, top)
		}
		singles = append(singles, s)
	}
	s, err := c.ScoreImages(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, s, len(batch))
	for i := range batch {
		a, b := s.RowTopK(i, 5), singles[i].TopK(5)
		for k := range a {
			if a[k].ClassID != b[k].ClassID || math.Abs(float64(a[k].Score-b[k].Score)) > 1e-5 {
				t.Fatalf("batch row %d differs from its single call: %v vs %v", i, a, b)
			}
		}
	}
	f, err := os.Open(repoRoot() + "/conformance/testdata/images/gradient.jpg")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := c.ScoreImageReader(ctx, f)
	if err != nil || r.TopK(1)[0].ClassID != singles[1].TopK(1)[0].ClassID {
		t.Fatalf("reader: %v", err)
	}
}

func TestEmulatorScoreTensor(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr)
	values := make([]float32, 2*224*224*3)
	for i := range values {
		values[i] = float32(i%251) - 120
	}
	s, err := c.ScoreTensor(context.Background(), values, []int64{2, 224, 224, 3})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, s, 2)
	one, err := c.ScoreTensor(context.Background(), values[:224*224*3], []int64{224, 224, 3})
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, one, 1)
	if one.TopK(1)[0].ClassID != s.TopK(1)[0].ClassID {
		t.Fatal("row 0 differs between [1,...] and [2,...] calls")
	}
}

func TestEmulatorOutputEncodings(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr)
	img := [][]byte{testImage(t, "rings.jpg"), testImage(t, "checkerboard.png")}
	var got [2]*Scores
	for i, enc := range []string{"tensor_content", "float_val"} {
		ctx := withCase(context.Background(), caseID(t, enc), "x-conformance-encoding", enc)
		s, err := c.ScoreImages(ctx, img)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		checkRows(t, s, 2)
		got[i] = s
	}
	for i := range got[0].Values {
		if got[0].Values[i] != got[1].Values[i] {
			t.Fatalf("value %d: tensor_content %v, float_val %v", i, got[0].Values[i], got[1].Values[i])
		}
	}
}

func TestEmulatorBadInputs(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr)
	ctx := context.Background()
	_, err := c.ScoreImages(ctx, [][]byte{testImage(t, "gradient.jpg"), testImage(t, "corrupt.jpg")})
	var fe *Error
	if !asError(err, &fe) || fe.Code != codes.InvalidArgument || fe.RequestID == "" || !strings.Contains(fe.Message, "image 1") {
		t.Fatalf("corrupt image: %#v", err)
	}
	if len(fe.RequestID) < 16 {
		t.Fatalf("request id %q", fe.RequestID)
	}
	// A wrong input name is the server's INVALID_ARGUMENT, not retried.
	c2 := newTestClient(t, e.Addr, WithInputName("pixels"))
	id := caseID(t, "input-name")
	_, err = c2.ScoreImage(withCase(ctx, id), testImage(t, "gradient.jpg"))
	if status.Code(err) != codes.InvalidArgument || len(e.Records(id)) != 1 {
		t.Fatalf("wrong input name: %v, %d attempts", err, len(e.Records(id)))
	}
	// An unknown output is refused by the server; "features" is served.
	c3 := newTestClient(t, e.Addr, WithOutputName("nonsense"))
	if _, err := c3.ScoreImage(ctx, testImage(t, "gradient.jpg")); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown output: %v", err)
	}
	// It is no [N, 1000] score tensor: the Score calls refuse it (as the Python and C#
	// clients do), Predict + DecodeScores read it.
	c4 := newTestClient(t, e.Addr, WithOutputName("features"))
	if _, err := c4.ScoreImage(ctx, testImage(t, "gradient.jpg")); status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("features output through ScoreImage: %v", err)
	}
	resp, err := c4.Predict(ctx, c4.newRequest(imagesTensor([][]byte{testImage(t, "gradient.jpg")})))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c4.DecodeScores(resp)
	if err != nil || s.Len() != 1 || s.Width() < 1 {
		t.Fatalf("features output: %v", err)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}

func TestEmulatorRetries(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr, fastRetries)
	img := testImage(t, "tiny-noise.png")
	for _, tc := range []struct {
		fail     string
		code     codes.Code
		attempts int
	}{
		{"2:UNAVAILABLE", codes.OK, 3},
		{"3:ABORTED", codes.OK, 4},
		{"4:UNAVAILABLE", codes.Unavailable, 4},
		{"1:RESOURCE_EXHAUSTED", codes.OK, 2}, // the server sends pushback 0
		{"1:INVALID_ARGUMENT", codes.InvalidArgument, 1},
		{"1:UNAUTHENTICATED", codes.Unauthenticated, 1},
		{"1:PERMISSION_DENIED", codes.PermissionDenied, 1},
		{"1:INTERNAL", codes.Internal, 1},
		{"1:DEADLINE_EXCEEDED", codes.DeadlineExceeded, 1},
		{"1:FAILED_PRECONDITION", codes.FailedPrecondition, 1},
	} {
		id := caseID(t, tc.fail)
		_, err := c.ScoreImage(withCase(context.Background(), id, "x-conformance-fail", tc.fail), img)
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v", tc.fail, err)
		}
		if n := len(e.Records(id)); n != tc.attempts {
			t.Errorf("%s: %d attempts, want %d", tc.fail, n, tc.attempts)
		}
		if err != nil {
			if fe := err.(*Error); fe.RequestID == "" || !strings.Contains(fe.Message, "injected failure") {
				t.Errorf("%s: %+v", tc.fail, fe)
			}
		}
	}
	// max_attempts 1: no retry.
	c1 := newTestClient(t, e.Addr, WithRetryPolicy(NoRetries()))
	id := caseID(t, "no-retries")
	if _, err := c1.ScoreImage(withCase(context.Background(), id, "x-conformance-fail", "1:UNAVAILABLE"), img); status.Code(err) != codes.Unavailable {
		t.Fatal(err)
	}
	if n := len(e.Records(id)); n != 1 {
		t.Fatalf("%d attempts", n)
	}
}

func TestEmulatorDeadlines(t *testing.T) {
	e := emulatorFor(t, "plain")
	img := testImage(t, "tiny-noise.png")
	c := newTestClient(t, e.Addr, WithTimeout(300*time.Millisecond))
	start := time.Now()
	_, err := c.ScoreImage(withCase(context.Background(), caseID(t, "default"), "x-conformance-delay-ms", "3000"), img)
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 2*time.Second {
		t.Fatalf("default deadline: %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c2 := newTestClient(t, e.Addr)
	start = time.Now()
	_, err = c2.ScoreImage(withCase(ctx, caseID(t, "ctx"), "x-conformance-delay-ms", "3000"), img)
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 2*time.Second {
		t.Fatalf("ctx deadline: %v after %v", err, time.Since(start))
	}
	// The deadline bounds retries: each attempt takes 200 ms and fails; 450 ms allow at
	// most 3 attempts and end in the last UNAVAILABLE or DEADLINE_EXCEEDED, never later.
	id := caseID(t, "bounded")
	c3 := newTestClient(t, e.Addr, WithTimeout(450*time.Millisecond), fastRetries)
	start = time.Now()
	_, err = c3.ScoreImage(withCase(context.Background(), id, "x-conformance-delay-ms", "200", "x-conformance-fail", "10:UNAVAILABLE"), img)
	if code := status.Code(err); code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v", el)
	}
	time.Sleep(300 * time.Millisecond) // let the server log a late attempt
	if n := len(e.Records(id)); n < 1 || n > 3 {
		t.Fatalf("%d attempts", n)
	}
}

func TestEmulatorQueueFullPushback(t *testing.T) {
	e := emulatorFor(t, "queue-1")
	img := testImage(t, "tiny-noise.png")
	run := func(c *Client, n int) []error {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, errs[i] = c.ScoreImage(context.Background(), img)
			}(i)
		}
		wg.Wait()
		return errs
	}
	noRetry := newTestClient(t, e.Addr, WithRetryPolicy(NoRetries()))
	exhausted := 0
	for _, err := range run(noRetry, 6) {
		if status.Code(err) == codes.ResourceExhausted {
			exhausted++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if exhausted == 0 {
		t.Fatal("no RESOURCE_EXHAUSTED from a full queue")
	}
	retrying := newTestClient(t, e.Addr, WithRetryPolicy(RetryPolicy{MaxAttempts: 20}), WithTimeout(30*time.Second))
	for _, err := range run(retrying, 4) {
		if err != nil {
			t.Fatalf("with pushback retries: %v", err)
		}
	}
}

// ---------------------------------------------------------------------------------------
// TLS.

func TestEmulatorTLSTrusted(t *testing.T) {
	e := emulatorFor(t, "tls")
	img := testImage(t, "gradient.jpg")
	ctx := context.Background()
	for name, opts := range map[string][]Option{
		"root file":           {WithRootCAFile(testCerts.CA)},
		"root PEM":            {WithRootCAPEM(testCerts.CAPEM)},
		"name override":       {WithRootCAFile(testCerts.CA), WithServerNameOverride("localhost")},
		"TLS + root PEM":      {WithTLS(), WithRootCAPEM(testCerts.CAPEM)},
		"localhost by target": {WithRootCAFile(testCerts.CA)},
	} {
		target := e.Addr
		if name == "localhost by target" {
			target = strings.Replace(e.Addr, "127.0.0.1", "localhost", 1)
		}
		c := newTestClient(t, target, append(opts, WithAccessToken(testPrimaryKey))...)
		if _, err := c.ScoreImage(ctx, img); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEmulatorTLSRootsEnvVar(t *testing.T) {
	e := emulatorFor(t, "tls")
	img := testImage(t, "gradient.jpg")
	t.Setenv(RootsEnvVar, testCerts.CA)
	c := newTestClient(t, e.Addr, WithTLS(), WithAccessToken(testPrimaryKey))
	if _, err := c.ScoreImage(context.Background(), img); err != nil {
		t.Fatalf("env roots: %v", err)
	}
	// Explicit roots win over the variable.
	c2 := newTestClient(t, e.Addr, WithRootCAFile(testCerts.UntrustedCA), WithAccessToken(testPrimaryKey))
	if _, err := c2.ScoreImage(context.Background(), img); !untrusted(err) {
		t.Fatalf("explicit other CA: %v", err)
	}
	// The variable replaces the system roots: a file with another CA is not trusted.
	t.Setenv(RootsEnvVar, testCerts.UntrustedCA)
	c3 := newTestClient(t, e.Addr, WithTLS(), WithAccessToken(testPrimaryKey))
	if _, err := c3.ScoreImage(context.Background(), img); !untrusted(err) {
		t.Fatalf("env other CA: %v", err)
	}
	// An unreadable file is a configuration error.
	t.Setenv(RootsEnvVar, testCerts.Dir+"/missing.pem")
	if _, err := NewClient(e.Addr, WithTLS()); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("missing env file: %v", err)
	}
}

func untrusted(err error) bool {
	return status.Code(err) == codes.Unavailable && strings.Contains(err.Error(), "certificate was not trusted")
}

func TestEmulatorTLSUntrusted(t *testing.T) {
	t.Setenv(RootsEnvVar, "")
	img := testImage(t, "gradient.jpg")
	for _, tc := range []struct{ kind, name string }{
		{"tls", "system roots"},
		{"tls", "other CA"},
		{"tls-self-signed", "self-signed"},
		{"tls-wrong-host", "wrong host"},
		{"tls-expired", "expired"},
	} {
		e := emulatorFor(t, tc.kind)
		opts := []Option{WithRootCAFile(testCerts.CA), WithAccessToken(testPrimaryKey)}
		switch tc.name {
		case "system roots":
			opts = []Option{WithTLS(), WithAccessToken(testPrimaryKey)}
		case "other CA":
			opts[0] = WithRootCAFile(testCerts.UntrustedCA)
		}
		c := newTestClient(t, e.Addr, opts...)
		start := time.Now()
		_, err := c.ScoreImage(context.Background(), img)
		if !untrusted(err) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if strings.Contains(err.Error(), testPrimaryKey) {
			t.Errorf("%s: key in error", tc.name)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("%s: took %v", tc.name, el)
		}
	}
	// The wrong-host certificate is fine when its name is the override.
	e := emulatorFor(t, "tls-wrong-host")
	c := newTestClient(t, e.Addr, WithRootCAFile(testCerts.CA), WithServerNameOverride(testkit.WrongHostName), WithAccessToken(testPrimaryKey))
	if _, err := c.ScoreImage(context.Background(), img); err != nil {
		t.Fatalf("override: %v", err)
	}
}

// TestEmulatorTLSMismatch: TLS against a plaintext port and plaintext against a TLS port
// are UNAVAILABLE errors that say what to do, and are not retried.
func TestEmulatorTLSMismatch(t *testing.T) {
	img := testImage(t, "gradient.jpg")
	patient := WithRetryPolicy(RetryPolicy{MaxAttempts: 5, InitialBackoff: 50 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Multiplier: 1})
	for _, tc := range []struct {
		name, kind, phrase, option string
		opts                       []Option
	}{
		{"TLS to plaintext", "plain", "the server does not speak TLS", "drop WithTLS()", []Option{WithRootCAFile(testCerts.CA)}},
		{"plaintext to TLS", "tls", "the server speaks TLS", "use WithTLS()", nil},
	} {
		e := emulatorFor(t, tc.kind)
		c := newTestClient(t, e.Addr, append(tc.opts, patient)...)
		var info CallInfo
		_, err := c.ScoreImage(WithCallInfo(context.Background(), &info), img)
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != codes.Unavailable {
			t.Errorf("%s: %v, want an UNAVAILABLE *Error", tc.name, err)
			continue
		}
		if !strings.HasPrefix(fe.Message, tc.phrase) || !strings.Contains(fe.Message, tc.option) {
			t.Errorf("%s: message %q lacks %q / %q", tc.name, fe.Message, tc.phrase, tc.option)
		}
		if st, _ := status.FromError(err); st.Message() != fe.Message || st.Code() != codes.Unavailable {
			t.Errorf("%s: GRPCStatus %v", tc.name, st)
		}
		if untrusted(err) {
			t.Errorf("%s: classified as a certificate failure: %v", tc.name, err)
		}
		if info.Attempts != 1 {
			t.Errorf("%s: %d attempts, want 1 (a mismatch is not retried)", tc.name, info.Attempts)
		}
	}
}

// ---------------------------------------------------------------------------------------
// Auth.

func fingerprint(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])[:16]
}

func TestEmulatorAuthMatrix(t *testing.T) {
	e := emulatorFor(t, "tls")
	img := testImage(t, "tiny-noise.png")
	roots := WithRootCAFile(testCerts.CA)
	for _, tc := range []struct {
		name string
		opts []Option
		code codes.Code
		sent []string // authorization values the server saw, in order
	}{
		{"none", nil, codes.Unauthenticated, nil},
		{"wrong", []Option{WithAccessToken("not-the-key")}, codes.Unauthenticated, []string{"not-the-key"}},
		{"primary", []Option{WithAccessToken(testPrimaryKey)}, codes.OK, []string{testPrimaryKey}},
		{"secondary", []Option{WithAccessToken(testSecondaryKey)}, codes.OK, []string{testSecondaryKey}},
		{"bearer", []Option{WithAccessToken(testPrimaryKey), WithBearerScheme()}, codes.OK, []string{"Bearer " + testPrimaryKey}},
		{"failover", []Option{WithAccessToken("retired-key"), WithSecondaryAccessToken(testSecondaryKey)}, codes.OK,
			[]string{"retired-key", testSecondaryKey}},
		{"both wrong", []Option{WithAccessToken("retired-key"), WithSecondaryAccessToken("other-key")}, codes.Unauthenticated,
			[]string{"retired-key", "other-key"}},
	} {
		c := newTestClient(t, e.Addr, append([]Option{roots}, tc.opts...)...)
		id := caseID(t, tc.name)
		_, err := c.ScoreImage(withCase(context.Background(), id), img)
		if status.Code(err) != tc.code {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err != nil && err.(*Error).RequestID == "" {
			t.Errorf("%s: no request id", tc.name)
		}
		// Every attempt is in the server's log with the fingerprint of what was sent.
		recs := e.Records(id)
		if len(recs) != len(tc.sent) && !(tc.sent == nil && len(recs) == 1) {
			t.Errorf("%s: %d server records, want %d", tc.name, len(recs), len(tc.sent))
		} else {
			for i, rec := range recs {
				var want interface{}
				if tc.sent != nil {
					want = fingerprint(tc.sent[i])
				}
				if rec["authorization_sha256"] != want {
					t.Errorf("%s: attempt %d: server saw %v, want %v", tc.name, i+1, rec["authorization_sha256"], want)
				}
			}
		}
		if tc.name == "failover" {
			// Later calls go straight to the secondary key.
			id2 := caseID(t, "failover-2")
			if _, err := c.ScoreImage(withCase(context.Background(), id2), img); err != nil {
				t.Fatal(err)
			}
			if recs := e.Records(id2); len(recs) != 1 || recs[0]["authorization_sha256"] != fingerprint(testSecondaryKey) {
				t.Errorf("after failover: %v", recs)
			}
		}
	}
	if log := e.Log(); strings.Contains(log, testPrimaryKey) || strings.Contains(log, testSecondaryKey) {
		t.Fatal("a key reached the server log")
	}
}

func TestEmulatorInsecureKey(t *testing.T) {
	e := emulatorFor(t, "plain-auth")
	img := testImage(t, "tiny-noise.png")
	if _, err := NewClient(e.Addr, WithAccessToken(testPrimaryKey)); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("key over plaintext: %v", err)
	}
	c := newTestClient(t, e.Addr, WithAccessToken(testPrimaryKey), WithAllowInsecureKey())
	if _, err := c.ScoreImage(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	none := newTestClient(t, e.Addr)
	if _, err := none.ScoreImage(context.Background(), img); status.Code(err) != codes.Unauthenticated {
		t.Fatal(err)
	}
}

// The documented raw pattern: grpc.NewClient with TLS transport credentials and the
// module's per-RPC credentials, then the generated stub.
func TestEmulatorDocumentedDialPattern(t *testing.T) {
	e := emulatorFor(t, "tls")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(testCerts.CAPEM)
	conn, err := grpc.NewClient(e.Addr,
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")),
		grpc.WithPerRPCCredentials(&AccessTokenCredentials{Key: testPrimaryKey}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stub := pb.NewPredictionServiceClient(conn)
	req := vectorClient().newRequest(imagesTensor([][]byte{testImage(t, "gradient.jpg")}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := stub.Predict(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeScores(resp, DefaultOutputName, 1, NumClasses)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, s, 1)
	// Bearer form too.
	conn2, err := grpc.NewClient(e.Addr,
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")),
		grpc.WithPerRPCCredentials(&AccessTokenCredentials{Key: testSecondaryKey, Bearer: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if _, err := pb.NewPredictionServiceClient(conn2).Predict(ctx, req); err != nil {
		t.Fatal(err)
	}
	// grpc-go itself refuses the credentials on a plaintext connection.
	if _, err := grpc.NewClient(e.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(&AccessTokenCredentials{Key: "k"})); err == nil {
		t.Fatal("plaintext dial with key credentials accepted")
	}
}
