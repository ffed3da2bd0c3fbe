package fpgascore

// Client behaviour against an in-process gRPC server whose failures the test scripts
// exactly: retries, pushback, deadlines, key failover, metadata, local checks.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// failFirst fails the first n attempts with code (sending request-id and extra trailers).
func failFirst(n int, code codes.Code, trailer ...string) func(context.Context, int, *pb.PredictRequest) (*pb.PredictResponse, error) {
	return func(ctx context.Context, call int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		md := metadata.Pairs(append([]string{RequestIDKey, "fake-" + string(rune('0'+call))}, trailer...)...)
		grpc.SetTrailer(ctx, md)
		if call <= n {
			return nil, status.Errorf(code, "injected %v on attempt %d", code, call)
		}
		return scoresResponse(imageCount(req), false), nil
	}
}

func newTestClient(t testing.TB, addr string, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var fastRetries = WithRetryPolicy(RetryPolicy{MaxAttempts: 4, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Multiplier: 2})

func TestFakeRetriedCodes(t *testing.T) {
	for _, code := range []codes.Code{codes.Unavailable, codes.Aborted} {
		f := startFake(t, nil, failFirst(3, code))
		c := newTestClient(t, f.addr, fastRetries)
		scores, err := c.ScoreImage(context.Background(), []byte("img"))
		if err != nil {
			t.Fatalf("%v: %v", code, err)
		}
		if f.callCount() != 4 || scores.TopK(1)[0].ClassID != 1 {
			t.Fatalf("%v: %d calls, top %v", code, f.callCount(), scores.TopK(1))
		}
	}
}

func TestFakeRetriesExhausted(t *testing.T) {
	f := startFake(t, nil, failFirst(100, codes.Unavailable))
	c := newTestClient(t, f.addr, fastRetries)
	_, err := c.ScoreImage(context.Background(), []byte("img"))
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.Unavailable || f.callCount() != 4 {
		t.Fatalf("err %v after %d calls", err, f.callCount())
	}
	if e.RequestID != "fake-4" || !strings.Contains(e.Message, "attempt 4") {
		t.Fatalf("last error not returned: %+v", e)
	}
}

func TestFakeNeverRetried(t *testing.T) {
	for _, code := range []codes.Code{codes.InvalidArgument, codes.Unauthenticated, codes.PermissionDenied,
		codes.DeadlineExceeded, codes.FailedPrecondition, codes.Internal, codes.ResourceExhausted, codes.Unknown, codes.NotFound} {
		f := startFake(t, nil, failFirst(1, code))
		c := newTestClient(t, f.addr, fastRetries)
		_, err := c.ScoreImage(context.Background(), []byte("img"))
		if status.Code(err) != code || f.callCount() != 1 {
			t.Errorf("%v: err %v after %d calls", code, err, f.callCount())
		}
	}
}

func TestFakeMaxAttemptsOne(t *testing.T) {
	f := startFake(t, nil, failFirst(1, codes.Unavailable))
	c := newTestClient(t, f.addr, WithRetryPolicy(NoRetries()))
	if _, err := c.ScoreImage(context.Background(), []byte("img")); status.Code(err) != codes.Unavailable || f.callCount() != 1 {
		t.Fatalf("err %v after %d calls", err, f.callCount())
	}
}

func TestFakePushback(t *testing.T) {
	// RESOURCE_EXHAUSTED with pushback is retried, after at least the pushback.
	f := startFake(t, nil, failFirst(1, codes.ResourceExhausted, PushbackKey, "150"))
	c := newTestClient(t, f.addr, fastRetries)
	start := time.Now()
	if _, err := c.ScoreImage(context.Background(), []byte("img")); err != nil || f.callCount() != 2 {
		t.Fatalf("err %v after %d calls", err, f.callCount())
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("retried after %v, before the 150 ms pushback", el)
	}
	// A negative pushback is no pushback: not retried.
	f2 := startFake(t, nil, failFirst(1, codes.ResourceExhausted, PushbackKey, "-1"))
	c2 := newTestClient(t, f2.addr, fastRetries)
	if _, err := c2.ScoreImage(context.Background(), []byte("img")); status.Code(err) != codes.ResourceExhausted || f2.callCount() != 1 {
		t.Fatalf("err %v after %d calls", err, f2.callCount())
	}
}

func TestFakeRetryBoundedByDeadline(t *testing.T) {
	// The server asks for 2 s before a retry; the call has 300 ms: no retry, the last error
	// comes back at once (not a DEADLINE_EXCEEDED after waiting).
	f := startFake(t, nil, failFirst(100, codes.Unavailable, PushbackKey, "2000"))
	c := newTestClient(t, f.addr, fastRetries)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ScoreImage(ctx, []byte("img"))
	if status.Code(err) != codes.Unavailable || f.callCount() != 1 {
		t.Fatalf("err %v after %d calls", err, f.callCount())
	}
	if el := time.Since(start); el > 250*time.Millisecond {
		t.Fatalf("took %v", el)
	}
	// With WithTimeout instead of a ctx deadline, the same.
	f2 := startFake(t, nil, failFirst(100, codes.Unavailable, PushbackKey, "2000"))
	c2 := newTestClient(t, f2.addr, fastRetries, WithTimeout(300*time.Millisecond))
	if _, err := c2.ScoreImage(context.Background(), []byte("img")); status.Code(err) != codes.Unavailable || f2.callCount() != 1 {
		t.Fatalf("err %v after %d calls", err, f2.callCount())
	}
}

func TestFakeDeadlines(t *testing.T) {
	var mu sync.Mutex
	var seen []time.Duration
	slow := func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		if d, ok := ctx.Deadline(); ok {
			mu.Lock()
			seen = append(seen, time.Until(d))
			mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil, status.Error(codes.DeadlineExceeded, "too slow")
		case <-time.After(5 * time.Second):
			return scoresResponse(1, false), nil
		}
	}
	f := startFake(t, nil, slow)
	// The client default.
	c := newTestClient(t, f.addr, WithTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := c.ScoreImage(context.Background(), []byte("img"))
	if status.Code(err) != codes.DeadlineExceeded || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	// A ctx deadline wins over the default.
	c2 := newTestClient(t, f.addr, WithTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := c2.ScoreImage(ctx, []byte("img")); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("err %v", err)
	}
	// Without either, the 10 s default reaches the server.
	c3 := newTestClient(t, f.addr)
	ctx3, cancel3 := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel3() }()
	if _, err := c3.ScoreImage(ctx3, []byte("img")); status.Code(err) != codes.Canceled {
		t.Fatalf("cancelled call: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] > 200*time.Millisecond || seen[1] > 150*time.Millisecond || seen[2] < 9*time.Second || seen[2] > 10*time.Second {
		t.Fatalf("deadlines seen by the server: %v", seen)
	}
}

// authFake accepts only the given authorization values.
func authFake(t *testing.T, accepted ...string) *fakeServer {
	return startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		got := md.Get("authorization")
		for _, a := range accepted {
			if len(got) == 1 && got[0] == a {
				return scoresResponse(imageCount(req), false), nil
			}
		}
		return nil, status.Error(codes.Unauthenticated, "authorization not accepted")
	})
}

func (f *fakeServer) authorizations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...)
}

func TestFakeAuthorizationValues(t *testing.T) {
	f := authFake(t, "k1", "Bearer k2")
	ctx := context.Background()
	raw := newTestClient(t, f.addr, WithAccessToken("k1"), WithAllowInsecureKey())
	if _, err := raw.ScoreImage(ctx, []byte("i")); err != nil {
		t.Fatal(err)
	}
	bearer := newTestClient(t, f.addr, WithAccessToken("k2"), WithBearerScheme(), WithAllowInsecureKey())
	if _, err := bearer.ScoreImage(ctx, []byte("i")); err != nil {
		t.Fatal(err)
	}
	none := newTestClient(t, f.addr)
	if _, err := none.ScoreImage(ctx, []byte("i")); status.Code(err) != codes.Unauthenticated {
		t.Fatal(err)
	}
	if got := strings.Join(f.authorizations(), "|"); got != "k1|Bearer k2|" {
		t.Fatalf("authorizations sent: %q", got)
	}
}

func TestFakeSecondaryKeyFailover(t *testing.T) {
	f := authFake(t, "new")
	c := newTestClient(t, f.addr, WithAccessToken("old"), WithSecondaryAccessToken("new"), WithAllowInsecureKey(),
		WithRetryPolicy(NoRetries())) // the failover is not a retry
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := c.ScoreImage(ctx, []byte("i")); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := strings.Join(f.authorizations(), "|"); got != "old|new|new|new" {
		t.Fatalf("authorizations sent: %q", got)
	}
	// Both keys rejected: UNAUTHENTICATED after exactly two attempts, not retried.
	f2 := authFake(t, "other")
	c2 := newTestClient(t, f2.addr, WithAccessToken("old"), WithSecondaryAccessToken("new"), WithAllowInsecureKey())
	_, err := c2.ScoreImage(ctx, []byte("i"))
	if status.Code(err) != codes.Unauthenticated || f2.callCount() != 2 {
		t.Fatalf("err %v after %d calls", err, f2.callCount())
	}
	if strings.Contains(err.Error(), "old") || strings.Contains(err.Error(), "new") {
		t.Fatalf("key in error: %v", err)
	}
}

// The switch to the other key happens once per call: after it, the call's retries keep the
// switched key instead of trying the rejected one again.
func TestFakeFailoverOncePerCall(t *testing.T) {
	var mu sync.Mutex
	newSeen := 0
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "new" {
			return nil, status.Error(codes.Unauthenticated, "authorization not accepted")
		}
		mu.Lock()
		newSeen++
		first := newSeen == 1
		mu.Unlock()
		if first {
			return nil, status.Error(codes.Unavailable, "briefly down")
		}
		return scoresResponse(imageCount(req), false), nil
	})
	c := newTestClient(t, f.addr, WithAccessToken("old"), WithSecondaryAccessToken("new"), WithAllowInsecureKey(), fastRetries)
	var info CallInfo
	if _, err := c.ScoreImage(WithCallInfo(context.Background(), &info), []byte("i")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScoreImage(context.Background(), []byte("i")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.authorizations(), "|"); got != "old|new|new|new" || info.Attempts != 3 {
		t.Fatalf("authorizations sent: %q, attempts %d", got, info.Attempts)
	}
	// A key rejected after the switch ends the call: no second switch back.
	g := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		if n == 2 {
			return nil, status.Error(codes.Unavailable, "briefly down")
		}
		return nil, status.Error(codes.Unauthenticated, "authorization not accepted")
	})
	c2 := newTestClient(t, g.addr, WithAccessToken("old"), WithSecondaryAccessToken("new"), WithAllowInsecureKey(), fastRetries)
	if _, err := c2.ScoreImage(context.Background(), []byte("i")); status.Code(err) != codes.Unauthenticated {
		t.Fatal(err)
	}
	if got := strings.Join(g.authorizations(), "|"); got != "old|new|new" {
		t.Fatalf("authorizations sent: %q", got)
	}
}

// Per-call "authorization" metadata is refused before anything is sent: it would bypass
// the refusal of keys over plaintext.
func TestFakeCallAuthorizationRefused(t *testing.T) {
	f := startFake(t, nil, nil)
	c := newTestClient(t, f.addr)
	ctxs := []context.Context{
		metadata.AppendToOutgoingContext(context.Background(), "authorization", "k"),
		metadata.AppendToOutgoingContext(context.Background(), "Authorization", "k"),
		metadata.NewOutgoingContext(context.Background(), metadata.MD{"Authorization": {"k"}}),
		metadata.NewOutgoingContext(context.Background(), metadata.Pairs("authorization", "k")),
	}
	for i, ctx := range ctxs {
		if _, err := c.ScoreImage(ctx, []byte("i")); ErrorCode(err) != codes.InvalidArgument {
			t.Errorf("ctx %d: %v", i, err)
		}
	}
	req := &pb.PredictRequest{Inputs: map[string]*pb.TensorProto{"images": imagesTensor([][]byte{[]byte("x")})}}
	if _, err := c.Predict(ctxs[0], req); ErrorCode(err) != codes.InvalidArgument {
		t.Errorf("Predict: %v", err)
	}
	if f.callCount() != 0 {
		t.Fatalf("%d calls made", f.callCount())
	}
}

func TestFakeMetadata(t *testing.T) {
	var got metadata.MD
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		got, _ = metadata.FromIncomingContext(ctx)
		return scoresResponse(1, false), nil
	})
	c := newTestClient(t, f.addr, WithMetadata("x-client", "a"), WithMetadata("x-both", "c"))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-call", "b", "x-both", "d")
	if _, err := c.ScoreImage(ctx, []byte("i")); err != nil {
		t.Fatal(err)
	}
	if got.Get("x-client")[0] != "a" || got.Get("x-call")[0] != "b" || len(got.Get("x-both")) != 2 {
		t.Fatalf("metadata %v", got)
	}
}

func TestFakeLocalChecksMakeNoCall(t *testing.T) {
	f := startFake(t, nil, nil)
	c := newTestClient(t, f.addr)
	ctx := context.Background()
	errs := []error{
		second2(c.ScoreImages(ctx, nil)),
		second2(c.ScoreImages(ctx, [][]byte{})),
		second2(c.ScoreImage(ctx, nil)),
		second2(c.ScoreImages(ctx, [][]byte{[]byte("x"), {}})),
		second2(c.ScoreImageReader(ctx, bytes.NewReader(nil))),
		second2(c.ScoreTensor(ctx, make([]float32, 5), []int64{1, 224, 224, 3})),
		second2(c.ScoreTensor(ctx, nil, []int64{0, 224, 224, 3})),
		second2(c.ScoreTensor(ctx, make([]float32, 6), []int64{2, 3})),
	}
	for i, err := range errs {
		var e *Error
		if !errors.As(err, &e) || e.Code != codes.InvalidArgument || e.RequestID != "" {
			t.Errorf("check %d: %v", i, err)
		}
	}
	if _, err := c.Predict(ctx, nil); status.Code(err) != codes.InvalidArgument {
		t.Errorf("nil request: %v", err)
	}
	if f.callCount() != 0 {
		t.Fatalf("%d calls made", f.callCount())
	}
}

func second2(_ *Scores, err error) error { return err }

func TestFakeBadResponse(t *testing.T) {
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		return &pb.PredictResponse{}, nil
	})
	c := newTestClient(t, f.addr)
	_, err := c.ScoreImage(context.Background(), []byte("i"))
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "output_alias") {
		t.Fatalf("err %v", err)
	}
}

// A response the client cannot decode is an error with the call's request id.
func TestFakeBadResponseRequestID(t *testing.T) {
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		grpc.SetTrailer(ctx, metadata.Pairs(RequestIDKey, "rid-bad"))
		return &pb.PredictResponse{}, nil
	})
	c := newTestClient(t, f.addr)
	ctx := context.Background()
	errs := map[string]error{
		"images": second2(c.ScoreImages(ctx, [][]byte{[]byte("i")})),
		"tensor": second2(c.ScoreTensor(ctx, make([]float32, 224*224*3), []int64{224, 224, 3})),
	}
	for name, err := range errs {
		var e *Error
		if !errors.As(err, &e) || e.Code != codes.Internal || e.RequestID != "rid-bad" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFakeRequestShapes(t *testing.T) {
	var got *pb.PredictRequest
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		got = req
		return scoresResponse(imageCount(req), n%2 == 0), nil
	})
	c := newTestClient(t, f.addr)
	ctx := context.Background()
	values := make([]float32, 224*224*3)
	values[1] = 1.5
	scores, err := c.ScoreTensor(ctx, values, []int64{224, 224, 3})
	if err != nil {
		t.Fatal(err)
	}
	in := got.GetInputs()[DefaultInputName]
	if in.GetDtype() != pb.DataType_DT_FLOAT || len(in.GetFloatVal()) != 0 || len(in.GetTensorContent()) != 4*len(values) ||
		len(in.GetTensorShape().GetDim()) != 4 || in.GetTensorShape().GetDim()[0].GetSize() != 1 {
		t.Fatalf("tensor input: dtype %v shape %v content %d", in.GetDtype(), in.GetTensorShape(), len(in.GetTensorContent()))
	}
	if !bytes.Equal(in.GetTensorContent()[4:8], []byte{0, 0, 0xc0, 0x3f}) {
		t.Fatalf("1.5 not little-endian: %x", in.GetTensorContent()[4:8])
	}
	if scores.Len() != 1 {
		t.Fatal(scores.Shape)
	}
	batch, err := c.ScoreImages(ctx, [][]byte{[]byte("a"), []byte("bb"), []byte("ccc")})
	if err != nil {
		t.Fatal(err)
	}
	in = got.GetInputs()[DefaultInputName]
	if in.GetDtype() != pb.DataType_DT_STRING || len(in.GetStringVal()) != 3 || string(in.GetStringVal()[2]) != "ccc" {
		t.Fatalf("images input %v", in)
	}
	if batch.Len() != 3 || batch.RowTopK(2, 1)[0].ClassID != 3 {
		t.Fatalf("batch %v", batch.Shape)
	}
	r, err := c.ScoreImageReader(ctx, strings.NewReader("jpeg"))
	if err != nil || r.Len() != 1 || string(got.GetInputs()[DefaultInputName].GetStringVal()[0]) != "jpeg" {
		t.Fatalf("reader: %v", err)
	}
}

func TestFakeConcurrentCalls(t *testing.T) {
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		if n%3 == 0 {
			return nil, status.Error(codes.Unavailable, "flaky")
		}
		return scoresResponse(imageCount(req), false), nil
	})
	c := newTestClient(t, f.addr, WithRetryPolicy(RetryPolicy{MaxAttempts: 12, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}),
		WithAccessToken("key-one"), WithSecondaryAccessToken("key-two"), WithAllowInsecureKey())
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.ScoreImages(context.Background(), [][]byte{[]byte("a"), []byte("b")})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestFakeUntrustedCertificate(t *testing.T) {
	f := startFake(t, serverTLS(t, testCerts.SelfSigned), nil)
	c := newTestClient(t, f.addr, WithRootCAFile(testCerts.CA), fastRetries)
	_, err := c.ScoreImage(context.Background(), []byte("i"))
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "certificate was not trusted") {
		t.Fatalf("err %v", err)
	}
	good := startFake(t, serverTLS(t, testCerts.Server), nil)
	c2 := newTestClient(t, good.addr, WithRootCAPEM(testCerts.CAPEM), WithAccessToken("k"))
	if _, err := c2.ScoreImage(context.Background(), []byte("i")); err != nil {
		t.Fatal(err)
	}
	if got := good.authorizations(); len(got) != 1 || got[0] != "k" {
		t.Fatalf("authorizations %v", got)
	}
}

func TestClosedClient(t *testing.T) {
	f := startFake(t, nil, nil)
	c, err := NewClient(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.ScoreImage(context.Background(), []byte("i")); err == nil {
		t.Fatal("call on a closed client succeeded")
	}
}

func TestFakeCallInfo(t *testing.T) {
	f := startFake(t, nil, failFirst(2, codes.Unavailable))
	c := newTestClient(t, f.addr, fastRetries)
	var info CallInfo
	if _, err := c.ScoreImage(WithCallInfo(context.Background(), &info), []byte("i")); err != nil {
		t.Fatal(err)
	}
	if info.Attempts != 3 || info.RequestID != "fake-3" {
		t.Fatalf("%+v", info)
	}
	// Failover attempts count too.
	g := authFake(t, "key-two")
	c2 := newTestClient(t, g.addr, WithAccessToken("key-one"), WithSecondaryAccessToken("key-two"), WithAllowInsecureKey())
	info = CallInfo{}
	if _, err := c2.ScoreImage(WithCallInfo(context.Background(), &info), []byte("i")); err != nil || info.Attempts != 2 {
		t.Fatalf("%v %+v", err, info)
	}
}

func TestFakePredictLowLevel(t *testing.T) {
	var got *pb.PredictRequest
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		got = req
		if n == 1 {
			return nil, status.Error(codes.Unavailable, "once")
		}
		return scoresResponse(1, true), nil
	})
	c := newTestClient(t, f.addr, fastRetries, WithModelName("resnet50-v2"))
	req := &pb.PredictRequest{Inputs: map[string]*pb.TensorProto{"images": imagesTensor([][]byte{[]byte("x")})}}
	resp, err := c.Predict(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if req.ModelSpec != nil {
		t.Fatal("Predict modified the caller's request")
	}
	if got.GetModelSpec().GetName() != "resnet50-v2" || got.GetModelSpec().GetSignatureName() != DefaultSignatureName {
		t.Fatalf("model spec sent: %v", got.GetModelSpec())
	}
	s, err := c.DecodeScores(resp)
	if err != nil || s.Len() != 1 || s.TopK(1)[0].ClassID != 1 {
		t.Fatalf("%v %v", s, err)
	}
	// A request with its own model spec goes as it is.
	own := &pb.PredictRequest{ModelSpec: &pb.ModelSpec{Name: "x"}, Inputs: req.Inputs}
	if _, err := c.Predict(context.Background(), own); err != nil || got.GetModelSpec().GetName() != "x" {
		t.Fatalf("%v %v", err, got.GetModelSpec())
	}
}

// CallInfo carries the last attempt's trailing metadata and the final code, on success and
// on failure.
func TestFakeCallInfoTrailerAndCode(t *testing.T) {
	f := startFake(t, nil, failFirst(1, codes.Unavailable, "x-attempt-note", "seen"))
	c := newTestClient(t, f.addr, fastRetries)
	var info CallInfo
	if _, err := c.ScoreImage(WithCallInfo(context.Background(), &info), []byte("img")); err != nil {
		t.Fatal(err)
	}
	if info.Code != codes.OK || info.Attempts != 2 || info.Trailer.Get(RequestIDKey)[0] != "fake-2" ||
		info.Trailer.Get("x-attempt-note")[0] != "seen" {
		t.Fatalf("after a retried success: %+v", info)
	}
	failing := startFake(t, nil, failFirst(100, codes.InvalidArgument, "x-why", "bad image"))
	c = newTestClient(t, failing.addr, fastRetries)
	var failed CallInfo
	if _, err := c.ScoreImage(WithCallInfo(context.Background(), &failed), []byte("img")); err == nil {
		t.Fatal("no error")
	}
	if failed.Code != codes.InvalidArgument || len(failed.Trailer.Get("x-why")) != 1 {
		t.Fatalf("after a failure: %+v", failed)
	}
}

// WithLogger: a failover and a retry at Info, the call's end at Debug, with request ids and
// never a key.
func TestFakeLogger(t *testing.T) {
	calls := 0
	f := startFake(t, nil, func(ctx context.Context, n int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		calls++
		grpc.SetTrailer(ctx, metadata.Pairs(RequestIDKey, fmt.Sprintf("id-%d", calls)))
		switch calls {
		case 1:
			return nil, status.Error(codes.Unauthenticated, "not accepted")
		case 2:
			return nil, status.Error(codes.Unavailable, "busy")
		}
		return scoresResponse(imageCount(req), false), nil
	})
	var logged bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestClient(t, f.addr, fastRetries, WithAllowInsecureKey(), WithAccessToken("k-first-secret"),
		WithSecondaryAccessToken("k-second-secret"), WithLogger(logger))
	if _, err := c.ScoreImage(context.Background(), []byte("img")); err != nil {
		t.Fatal(err)
	}
	text := logged.String()
	for _, want := range []string{"other key", "attempt=1", "request_id=id-1", "retrying", "code=UNAVAILABLE",
		"request_id=id-2", "call ended", "code=OK", "attempts=3", "request_id=id-3"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "secret") {
		t.Errorf("a key in the log:\n%s", text)
	}
	if _, err := NewClient("127.0.0.1:1", WithLogger(nil)); ErrorCode(err) != codes.InvalidArgument {
		t.Errorf("WithLogger(nil): %v", err)
	}
}
