package fpgascore

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// CheckHealth against the reference server, over TLS with the key.
func TestCheckHealthReferenceServer(t *testing.T) {
	e := emulatorFor(t, "tls")
	c := newTestClient(t, e.Addr, WithTLS(), WithRootCAFile(testCerts.CA), WithAccessToken(testPrimaryKey))
	for _, service := range []string{"", "tensorflow.serving.PredictionService"} {
		if status, err := c.CheckHealth(context.Background(), service); err != nil || status != HealthServing {
			t.Fatalf("%q: %q, %v", service, status, err)
		}
	}
	if _, err := c.CheckHealth(context.Background(), "no.such.Service"); ErrorCode(err) != codes.NotFound {
		t.Fatalf("unknown service: %v", err)
	}
}

// drainingHealth is a health service written here, not the reference server's.
type drainingHealth struct {
	pb.UnimplementedHealthServer
}

func (drainingHealth) Check(context.Context, *pb.HealthCheckRequest) (*pb.HealthCheckResponse, error) {
	return &pb.HealthCheckResponse{Status: pb.HealthCheckResponse_NOT_SERVING}, nil
}

func TestCheckHealthOtherServerAndDeadPort(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterHealthServer(srv, drainingHealth{})
	go srv.Serve(lis)
	defer srv.Stop()
	c := newTestClient(t, lis.Addr().String())
	if status, err := c.CheckHealth(context.Background(), ""); err != nil || status != HealthNotServing {
		t.Fatalf("draining server: %q, %v", status, err)
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	c = newTestClient(t, addr)
	if _, err := c.CheckHealth(context.Background(), ""); ErrorCode(err) != codes.Unavailable {
		t.Fatalf("nothing listening: %v", err)
	}
}
