package fpgascore

// How the client sets up its grpc.ClientConn: which resolver a target gets, and that gRPC's
// own retries and the resolver's service config stay out of the client's retry policy.

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// dialRecorder is a context dialer that records the addresses gRPC asks it to dial.
type dialRecorder struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialRecorder) dial(ctx context.Context, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	var dialer net.Dialer
	return dialer.DialContext(ctx, "tcp", addr)
}

func (d *dialRecorder) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// A "host:port" target reaches the dialer as it is (passthrough, as grpc.Dial did), not as
// addresses that a dns resolver found for it; a target naming a resolver keeps it.
func TestTargetResolvers(t *testing.T) {
	f := startFake(t, nil, nil)
	_, port, err := net.SplitHostPort(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	hostPort := "localhost:" + port
	for _, tc := range []struct {
		target string
		want   func(addr string) bool
		what   string
	}{
		{hostPort, func(a string) bool { return a == hostPort }, hostPort + " itself"},
		{"passthrough:///" + hostPort, func(a string) bool { return a == hostPort }, hostPort + " itself"},
		{f.addr, func(a string) bool { return a == f.addr }, f.addr + " itself"},
		{"dns:///" + hostPort, func(a string) bool { return !strings.HasPrefix(a, "localhost:") && strings.HasSuffix(a, ":"+port) },
			"an address resolved from localhost"},
	} {
		rec := &dialRecorder{}
		c := newTestClient(t, tc.target, WithDialOptions(grpc.WithContextDialer(rec.dial)))
		if c.Target() != tc.target {
			t.Errorf("Target() = %q, want %q", c.Target(), tc.target)
		}
		if _, err := c.ScoreImage(context.Background(), []byte("img")); err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		addrs := rec.dialed()
		if len(addrs) == 0 {
			t.Fatalf("%s: the dialer was never called", tc.target)
		}
		for _, a := range addrs {
			if !tc.want(a) {
				t.Errorf("%s: the dialer got %q, want %s", tc.target, a, tc.what)
			}
		}
	}
}

// gRPC's own retries stay off even when a service config enables them: with NoRetries a
// call failing UNAVAILABLE is one attempt.
func TestGRPCRetriesDisabled(t *testing.T) {
	f := startFake(t, nil, failFirst(100, codes.Unavailable))
	retryConfig := `{"methodConfig": [{"name": [{"service": "tensorflow.serving.PredictionService"}],
		"retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.01s",
		"backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}`
	c := newTestClient(t, f.addr, WithRetryPolicy(NoRetries()),
		WithDialOptions(grpc.WithDefaultServiceConfig(retryConfig)))
	var info CallInfo
	_, err := c.ScoreImage(WithCallInfo(context.Background(), &info), []byte("img"))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want UNAVAILABLE", err)
	}
	if n := f.callCount(); n != 1 || info.Attempts != 1 {
		t.Fatalf("the server saw %d calls, the client counted %d attempts; want 1 and 1 (gRPC retried)", n, info.Attempts)
	}
}

// A service config from the resolver is ignored: here one whose 50 ms method timeout would
// cut a call that the client's own deadline (5 s) allows. The resolver is given with
// grpc.WithResolvers, so its scheme is also one that the client must not read as host:port.
func TestResolverServiceConfigIgnored(t *testing.T) {
	f := startFake(t, nil, func(ctx context.Context, _ int, req *pb.PredictRequest) (*pb.PredictResponse, error) {
		select {
		case <-time.After(300 * time.Millisecond):
			return scoresResponse(imageCount(req), false), nil
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	})
	r := manual.NewBuilderWithScheme("fpgascore-test")
	r.BuildCallback = func(_ resolver.Target, cc resolver.ClientConn, _ resolver.BuildOptions) {
		r.InitialState(resolver.State{
			Addresses: []resolver.Address{{Addr: f.addr}},
			ServiceConfig: cc.ParseServiceConfig(`{"methodConfig": [{"name": [{"service": "tensorflow.serving.PredictionService"}],
				"timeout": "0.05s"}]}`),
		})
	}
	c := newTestClient(t, "fpgascore-test:///fake", WithRetryPolicy(NoRetries()), WithTimeout(5*time.Second),
		WithDialOptions(grpc.WithResolvers(r)))
	if _, err := c.ScoreImage(context.Background(), []byte("img")); err != nil {
		t.Fatalf("the call failed (the resolver's service config was applied, or its scheme not used): %v", err)
	}
	if n := f.callCount(); n != 1 {
		t.Fatalf("the server saw %d calls, want 1", n)
	}
}
