package fpgascore

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

func TestLabels(t *testing.T) {
	if n := len(Labels()); n != NumClasses {
		t.Fatalf("%d labels", n)
	}
	if Label(0) != "tench" || Label(1) != "goldfish" || Label(-1) != "class -1" || Label(1000) != "class 1000" {
		t.Fatalf("labels: %q %q %q %q", Label(0), Label(1), Label(-1), Label(1000))
	}
	for i, l := range Labels() {
		if l == "" || strings.TrimSpace(l) != l {
			t.Fatalf("label %d is %q", i, l)
		}
	}
}

func TestTopK(t *testing.T) {
	row := []float32{0.1, 0.5, 0.2, 0.5, 0}
	top := TopK(row, 3)
	want := []int{1, 3, 2}
	for i, p := range top {
		if p.ClassID != want[i] || p.Score != row[want[i]] || p.Label != Label(want[i]) {
			t.Fatalf("TopK = %v", top)
		}
	}
	nan := float32(math.NaN())
	if got := TopK([]float32{nan, 0.2, nan, 0.5}, 4); got[0].ClassID != 3 || got[1].ClassID != 1 || got[2].ClassID != 0 || got[3].ClassID != 2 {
		t.Fatalf("TopK with NaN = %v", got)
	}
	if len(TopK(row, 10)) != 5 || TopK(row, 0) != nil || TopK(nil, 3) != nil {
		t.Fatal("TopK bounds")
	}
	s := &Scores{Values: []float32{1, 2, 3, 6, 5, 4}, Shape: []int64{2, 3}}
	if s.Len() != 2 || s.Width() != 3 || s.TopK(1)[0].ClassID != 2 || s.RowTopK(1, 1)[0].ClassID != 0 {
		t.Fatalf("Scores: %v %v", s.TopK(1), s.RowTopK(1, 1))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Row(2) did not panic")
		}
	}()
	s.Row(2)
}

func TestLocalChecks(t *testing.T) {
	img := make([]float32, 224*224*3)
	cases := []struct {
		name string
		err  error
	}{
		{"empty batch", checkImages(nil)},
		{"empty image", checkImages([][]byte{{1}, {}})},
		{"no shape", second(checkTensor(img, nil))},
		{"zero dim", second(checkTensor(nil, []int64{0, 224, 224, 3}))},
		{"negative dim", second(checkTensor(img, []int64{-1, 224, 224, 3}))},
		{"count mismatch", second(checkTensor(img[:10], []int64{1, 224, 224, 3}))},
		{"bad shape", second(checkTensor(img, []int64{224, 672}))},
		{"bad rank", second(checkTensor(img, []int64{1, 1, 224, 224, 3}))},
		{"bad channels", second(checkTensor(img, []int64{224, 224 * 3, 1}))},
	}
	for _, c := range cases {
		if status.Code(c.err) != codes.InvalidArgument {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
	send, err := checkTensor(img, []int64{224, 224, 3})
	if err != nil || fmt.Sprint(send) != "[1 224 224 3]" {
		t.Fatalf("[224,224,3] -> %v %v", send, err)
	}
	nan := append([]float32(nil), img...)
	nan[0] = float32(math.NaN())
	if _, err := checkTensor(nan, []int64{1, 224, 224, 3}); err != nil {
		t.Fatalf("non-finite values must pass: %v", err)
	}
}

func second(_ []int64, err error) error { return err }

func TestDecodeErrors(t *testing.T) {
	good := scoresResponse(2, false)
	if _, err := decodeScores(good, DefaultOutputName, 2, NumClasses); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeScores(scoresResponse(2, true), DefaultOutputName, 2, NumClasses); err != nil {
		t.Fatal(err)
	}
	bad := map[string]*pb.PredictResponse{
		"missing output": {Outputs: map[string]*pb.TensorProto{"other": good.Outputs[DefaultOutputName]}},
		"wrong dtype":    {Outputs: map[string]*pb.TensorProto{DefaultOutputName: {Dtype: pb.DataType_DT_DOUBLE}}},
		"short content": {Outputs: map[string]*pb.TensorProto{DefaultOutputName: {
			Dtype: pb.DataType_DT_FLOAT, TensorShape: shapeProto([]int64{2, 1000}), TensorContent: make([]byte, 7)}}},
		"size mismatch": {Outputs: map[string]*pb.TensorProto{DefaultOutputName: {
			Dtype: pb.DataType_DT_FLOAT, TensorShape: shapeProto([]int64{2, 1000}), FloatVal: make([]float32, 1000)}}},
		"empty": {Outputs: map[string]*pb.TensorProto{DefaultOutputName: {
			Dtype: pb.DataType_DT_FLOAT, TensorShape: shapeProto([]int64{2, 1000})}}},
	}
	for name, resp := range bad {
		_, err := decodeScores(resp, DefaultOutputName, 2, NumClasses)
		if status.Code(err) != codes.Internal {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := decodeScores(good, DefaultOutputName, 3, NumClasses); status.Code(err) != codes.Internal {
		t.Errorf("row count mismatch: %v", err)
	}
	_, err := decodeScores(bad["missing output"], DefaultOutputName, 2, NumClasses)
	if !strings.Contains(err.Error(), `"output_alias"`) {
		t.Errorf("message does not name the output: %v", err)
	}
}

func TestBackoffBound(t *testing.T) {
	p := DefaultRetryPolicy()
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 2 * time.Second, 2 * time.Second}
	for i, w := range want {
		if got := p.BackoffBound(i + 1); got != w {
			t.Errorf("bound %d = %v, want %v", i+1, got, w)
		}
	}
	if got := p.BackoffBound(10000); got != 2*time.Second {
		t.Errorf("bound 10000 = %v", got)
	}
	if got, err := (RetryPolicy{MaxAttempts: 1}).normalized(); err != nil || got.MaxAttempts != 1 || got.InitialBackoff != 100*time.Millisecond {
		t.Errorf("normalized %+v, %v", got, err)
	}
	j := newJitter()
	for i := 0; i < 1000; i++ {
		d := p.retryDelay(2, j, nil, nil)
		if d < 0 || d > 200*time.Millisecond {
			t.Fatalf("jittered sleep %v outside [0, 200ms]", d)
		}
	}
	pb := metadata.Pairs(PushbackKey, "700")
	if d := p.retryDelay(1, j, nil, pb); d != 700*time.Millisecond {
		t.Fatalf("pushback sleep %v", d)
	}
}

func TestRetryable(t *testing.T) {
	with := metadata.Pairs(PushbackKey, "0")
	for _, c := range []struct {
		code    codes.Code
		trailer metadata.MD
		want    bool
	}{
		{codes.Unavailable, nil, true},
		{codes.Aborted, nil, true},
		{codes.ResourceExhausted, nil, false},
		{codes.ResourceExhausted, with, true},
		{codes.ResourceExhausted, metadata.Pairs(PushbackKey, "-1"), false},
		{codes.ResourceExhausted, metadata.Pairs(PushbackKey, "soon"), false},
		{codes.InvalidArgument, nil, false},
		{codes.Unauthenticated, nil, false},
		{codes.PermissionDenied, nil, false},
		{codes.DeadlineExceeded, nil, false},
		{codes.FailedPrecondition, nil, false},
		{codes.Internal, nil, false},
	} {
		if got := retryable(c.code, nil, c.trailer); got != c.want {
			t.Errorf("retryable(%v, %v) = %v", c.code, c.trailer, got)
		}
	}
}

func TestErrorType(t *testing.T) {
	cause := status.Error(codes.Unavailable, "down, key "+testPrimaryKey)
	e := errorFromCall(cause, nil, metadata.Pairs(RequestIDKey, "rid-1"), []string{testPrimaryKey})
	var err error = e
	if status.Code(err) != codes.Unavailable || e.RequestID != "rid-1" {
		t.Fatalf("%v", err)
	}
	if strings.Contains(err.Error(), testPrimaryKey) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), testPrimaryKey) {
		t.Fatalf("key in error: %v", err)
	}
	st, ok := status.FromError(fmt.Errorf("wrapped: %w", err))
	_ = st
	_ = ok // status.FromError does not unwrap in grpc-go 1.33; errors.As does:
	var fe *Error
	if !errors.As(fmt.Errorf("wrapped: %w", err), &fe) || fe.RequestID != "rid-1" {
		t.Fatal("errors.As")
	}
	if !errors.Is(err, &Error{Code: codes.Unavailable}) || errors.Is(err, &Error{Code: codes.Internal}) {
		t.Fatal("errors.Is")
	}
	if errors.Unwrap(err) != cause {
		t.Fatal("Unwrap")
	}
	if CodeName(codes.Canceled) != "CANCELLED" || CodeName(codes.Unavailable) != "UNAVAILABLE" {
		t.Fatal("CodeName")
	}
	if !strings.Contains(err.Error(), "UNAVAILABLE") || !strings.Contains(err.Error(), "rid-1") {
		t.Fatalf("Error() = %q", err.Error())
	}
	// A certificate failure that did not pass through our credentials still says so.
	x := errorFromCall(status.Error(codes.Unavailable, "connection error: x509: certificate signed by unknown authority"), nil, nil, nil)
	if !strings.Contains(x.Message, untrustedPhrase) {
		t.Fatalf("%v", x)
	}
}

func TestTLSMismatchClassification(t *testing.T) {
	for _, tc := range []struct {
		message string
		tls     bool
		phrase  string // "" when no mismatch is seen
	}{
		{`connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`, true, notTLSPhrase},
		{`connection error: desc = "error reading server preface: EOF"`, false, speaksTLSPhrase},
		{`connection error: desc = "error reading server preface: http2: frame too large"`, false, speaksTLSPhrase},
		{`connection error: desc = "error reading server preface: EOF"`, true, ""},
		{`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`, false, ""},
		{`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`, true, ""},
	} {
		e := errorFromCall(status.Error(codes.Unavailable, tc.message), nil, nil, nil)
		e.classifyMismatch(tc.tls)
		switch {
		case tc.phrase == "" && (e.Message != tc.message || e.neverRetried()):
			t.Errorf("%q (tls %v): %q, neverRetried %v", tc.message, tc.tls, e.Message, e.neverRetried())
		case tc.phrase != "" && (!strings.HasPrefix(e.Message, tc.phrase) || !strings.Contains(e.Message, tc.message) || !e.neverRetried()):
			t.Errorf("%q (tls %v): %q, neverRetried %v", tc.message, tc.tls, e.Message, e.neverRetried())
		}
	}
	// Another code is left alone.
	e := errorFromCall(status.Error(codes.Internal, "error reading server preface: EOF"), nil, nil, nil)
	if e.classifyMismatch(false); e.Message != "error reading server preface: EOF" {
		t.Errorf("INTERNAL rewritten: %q", e.Message)
	}
}

// No key in a %v / %+v / %#v of a client, its options or its credentials.
func TestKeyNeverPrinted(t *testing.T) {
	c, err := NewClient("127.0.0.1:1", WithTLS(), WithAccessToken(testPrimaryKey), WithSecondaryAccessToken(testSecondaryKey), WithBearerScheme())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	creds := &AccessTokenCredentials{Key: testPrimaryKey}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		for _, x := range []interface{}{c, *c, &c.opts, c.opts, creds, *creds, c.keys, c.opts.primaryKey} {
			s := fmt.Sprintf(verb, x)
			if strings.Contains(s, testPrimaryKey) || strings.Contains(s, testSecondaryKey) {
				t.Fatalf("%s of %T shows a key: %s", verb, x, s)
			}
		}
	}
	if s := c.String(); !strings.Contains(s, "bearer key + secondary") {
		t.Fatalf("String() = %s", s)
	}
}

func TestNewClientConfigErrors(t *testing.T) {
	cases := map[string]struct {
		target string
		opts   []Option
		code   codes.Code
	}{
		"key over plaintext":     {"127.0.0.1:1", []Option{WithAccessToken("k")}, codes.FailedPrecondition},
		"secondary over plain":   {"127.0.0.1:1", []Option{WithAccessToken("k"), WithSecondaryAccessToken("k2")}, codes.FailedPrecondition},
		"secondary only":         {"127.0.0.1:1", []Option{WithTLS(), WithSecondaryAccessToken("k2")}, codes.InvalidArgument},
		"empty target":           {"", nil, codes.InvalidArgument},
		"missing roots file":     {"127.0.0.1:1", []Option{WithRootCAFile("/nonexistent/ca.pem")}, codes.InvalidArgument},
		"roots without PEM":      {"127.0.0.1:1", []Option{WithRootCAPEM([]byte("not a certificate"))}, codes.InvalidArgument},
		"nil roots PEM":          {"127.0.0.1:1", []Option{WithRootCAPEM(nil)}, codes.InvalidArgument},
		"empty roots PEM":        {"127.0.0.1:1", []Option{WithRootCAPEM([]byte{})}, codes.InvalidArgument},
		"empty roots file path":  {"127.0.0.1:1", []Option{WithRootCAFile("")}, codes.InvalidArgument},
		"authorization metadata": {"127.0.0.1:1", []Option{WithTLS(), WithMetadata("Authorization", "k2")}, codes.InvalidArgument},
		"allowed insecure key":   {"127.0.0.1:1", []Option{WithAccessToken("k"), WithAllowInsecureKey()}, codes.OK},
		"key with TLS":           {"127.0.0.1:1", []Option{WithTLS(), WithAccessToken("k")}, codes.OK},
		"roots imply TLS w/ key": {"127.0.0.1:1", []Option{WithRootCAPEM(testCerts.CAPEM), WithAccessToken("k")}, codes.OK},
	}
	for name, c := range cases {
		client, err := NewClient(c.target, c.opts...)
		if got := ErrorCode(err); got != c.code {
			t.Errorf("%s: code %v, err %v", name, got, err)
		}
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Errorf("%s: %T is not *Error", name, err)
			}
			if strings.Contains(err.Error(), "k2") {
				t.Errorf("%s: key in error", name)
			}
		}
		if client != nil {
			client.Close()
		}
	}
}

// Empty explicit roots never fall back to the environment variable's roots.
func TestEmptyRootsDoNotFallBack(t *testing.T) {
	t.Setenv(RootsEnvVar, testCerts.CA)
	for name, opt := range map[string]Option{"pem": WithRootCAPEM(nil), "file": WithRootCAFile("")} {
		c, err := NewClient("127.0.0.1:1", opt)
		if ErrorCode(err) != codes.InvalidArgument {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRedactionMarker(t *testing.T) {
	e := errorFromCall(status.Error(codes.Internal, "bad key "+testPrimaryKey), nil, nil, []string{testPrimaryKey})
	if e.Message != "bad key <redacted>" {
		t.Fatalf("%q", e.Message)
	}
	if s := fmt.Sprint(secret("k")); s != "<redacted>" {
		t.Fatalf("%q", s)
	}
}

func TestDecodeShapeChecks(t *testing.T) {
	out := func(shape []int64, values []float32, content []byte) *pb.PredictResponse {
		return &pb.PredictResponse{Outputs: map[string]*pb.TensorProto{DefaultOutputName: {
			Dtype: pb.DataType_DT_FLOAT, TensorShape: shapeProto(shape), FloatVal: values, TensorContent: content}}}
	}
	bad := map[string]struct {
		resp *pb.PredictResponse
		want string
	}{
		// 999 columns, values matching: not [N, 1000].
		"columns": {out([]int64{1, 999}, make([]float32, 999), nil), "[N, 1000]"},
		// (2^61+1) × 1000 wraps to 1000 in int64: the product must not be trusted.
		"overflow": {out([]int64{1<<61 + 1, 1000}, make([]float32, 1000), nil), "1000 values"},
		"negative": {out([]int64{-1, 1000}, nil, nil), "shape"},
		"rank 1":   {out([]int64{1000}, make([]float32, 1000), nil), "shape"},
	}
	for name, c := range bad {
		_, err := decodeScores(c.resp, DefaultOutputName, 0, NumClasses)
		if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Both encodings set: tensor_content wins, as in the Python client.
	good := scoresResponse(1, false).Outputs[DefaultOutputName]
	both := out([]int64{1, 1000}, make([]float32, 1000), good.TensorContent)
	s, err := decodeScores(both, DefaultOutputName, 1, NumClasses)
	if err != nil || s.TopK(1)[0].ClassID != 1 {
		t.Fatalf("%v %v", s, err)
	}
}

// Bad options are refused by NewClient with INVALID_ARGUMENT naming the option, as the Python
// and C# clients refuse them; zero RetryPolicy fields and no WithTimeout take the defaults.
func TestBadOptionsAreRefused(t *testing.T) {
	for name, opt := range map[string]Option{
		"Multiplier":       WithRetryPolicy(RetryPolicy{Multiplier: 0.5}),
		"MaxAttempts":      WithRetryPolicy(RetryPolicy{MaxAttempts: -1}),
		"must be positive": WithRetryPolicy(RetryPolicy{InitialBackoff: -time.Second}),
		"MaxBackoff":       WithRetryPolicy(RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}),
		"WithTimeout":      WithTimeout(0),
	} {
		c, err := NewClient("127.0.0.1:1", opt)
		if err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if ErrorCode(err) != codes.InvalidArgument || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, err := NewClient("127.0.0.1:1", WithRetryPolicy(RetryPolicy{MaxAttempts: 2}))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
