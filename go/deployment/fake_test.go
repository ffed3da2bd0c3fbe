package deployment_test

// The client against a DeploymentService written here (a peer that is not the manager):
// fixed answers and failures, to check how each field and error is read and what each call
// sends, without the manager.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fpgascore/fpgascore/go/deployment"
	"github.com/fpgascore/fpgascore/go/fpgascore"
	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

const fakeToken = "fake-admin-token-0123456789"

var (
	created = time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.UTC)
	expires = time.Date(2027, 6, 7, 8, 9, 10, 0, time.UTC)
)

// fakeManager answers with fixed messages and records each request and its authorization.
type fakeManager struct {
	pb.UnimplementedDeploymentServiceServer
	mu       sync.Mutex
	requests []proto.Message
	auth     []string
}

func (f *fakeManager) record(ctx context.Context, req proto.Message) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	f.auth = append(f.auth, strings.Join(md.Get("authorization"), ","))
}

func (f *fakeManager) last() (proto.Message, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		return nil, ""
	}
	return f.requests[len(f.requests)-1], f.auth[len(f.auth)-1]
}

func (f *fakeManager) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func fakeService() *pb.Service {
	return &pb.Service{
		Id: "svc_0123456789ab", Name: "fake", ModelId: "resnet50:3", State: pb.Service_FAILED,
		StateMessage: "it died", IpAddress: "::1", Port: 40123, SslEnabled: true, NumReplicas: 2,
		Runtime: "container", CreatedAt: timestamppb.New(created), UpdatedAt: timestamppb.New(created.Add(time.Hour)),
		CertificateSha256: "ab12", CertificateNotAfter: timestamppb.New(expires),
		Replicas: []*pb.ReplicaStatus{
			{Index: 0, Health: pb.ReplicaStatus_SERVING, CallsByCode: map[string]int64{"OK": 7, "UNAUTHENTICATED": 2},
				ImagesScored: 9, QueueInUse: 1, QueueCapacity: 64, LatencyP50Ms: 12.5, LatencyP99Ms: 40,
				ObservedAt: timestamppb.New(created)},
			{Index: 1, Health: pb.ReplicaStatus_Health(42), HealthMessage: "a newer manager's health"},
		},
	}
}

func (f *fakeManager) GetService(ctx context.Context, req *pb.GetServiceRequest) (*pb.GetServiceResponse, error) {
	f.record(ctx, req)
	if req.GetServiceId() == "future" {
		return &pb.GetServiceResponse{Service: &pb.Service{Id: "svc_ffffffffffff", State: pb.Service_State(99)}}, nil
	}
	return &pb.GetServiceResponse{Service: fakeService()}, nil
}

func (f *fakeManager) CreateService(ctx context.Context, req *pb.CreateServiceRequest) (*pb.CreateServiceResponse, error) {
	f.record(ctx, req)
	if req.GetName() == "taken" {
		return nil, status.Error(codes.AlreadyExists, "a service named 'taken' already exists")
	}
	return &pb.CreateServiceResponse{Service: fakeService(),
		Keys: &pb.AuthKeys{PrimaryKey: "fake-primary-key-000000", SecondaryKey: "fake-secondary-key-00000"}}, nil
}

func (f *fakeManager) UpdateService(ctx context.Context, req *pb.UpdateServiceRequest) (*pb.UpdateServiceResponse, error) {
	f.record(ctx, req)
	return &pb.UpdateServiceResponse{Service: fakeService()}, nil
}

func (f *fakeManager) ListServices(ctx context.Context, req *pb.ListServicesRequest) (*pb.ListServicesResponse, error) {
	f.record(ctx, req)
	return &pb.ListServicesResponse{Services: []*pb.Service{fakeService(), {Id: "svc_second000000", State: pb.Service_RUNNING}}}, nil
}

func (f *fakeManager) DeleteService(ctx context.Context, req *pb.DeleteServiceRequest) (*pb.DeleteServiceResponse, error) {
	f.record(ctx, req)
	grpc.SetTrailer(ctx, metadata.Pairs("request-id", "req-42"))
	// A careless peer quoting what it got: the client scrubs the token.
	return nil, status.Errorf(codes.NotFound, "no service %q (token %s)", req.GetServiceId(), fakeToken)
}

func (f *fakeManager) GetAuthKeys(ctx context.Context, req *pb.GetAuthKeysRequest) (*pb.GetAuthKeysResponse, error) {
	f.record(ctx, req)
	return &pb.GetAuthKeysResponse{Keys: &pb.AuthKeys{PrimaryKey: "fake-primary-key-000000", SecondaryKey: "fake-secondary-key-00000"}}, nil
}

func (f *fakeManager) RegenerateAuthKeys(ctx context.Context, req *pb.RegenerateAuthKeysRequest) (*pb.RegenerateAuthKeysResponse, error) {
	f.record(ctx, req)
	return &pb.RegenerateAuthKeysResponse{Keys: &pb.AuthKeys{PrimaryKey: "p-new-000000", SecondaryKey: "s-new-000000"}}, nil
}

func (f *fakeManager) RegisterModel(ctx context.Context, req *pb.RegisterModelRequest) (*pb.RegisterModelResponse, error) {
	f.record(ctx, req)
	return &pb.RegisterModelResponse{Model: &pb.Model{Id: req.GetName() + ":4", Name: req.GetName(), Version: 4,
		Description: req.GetDescription(), Tags: req.GetTags(), CreatedAt: timestamppb.New(created)}}, nil
}

func (f *fakeManager) ExportService(ctx context.Context, req *pb.ExportServiceRequest) (*pb.ExportServiceResponse, error) {
	f.record(ctx, req)
	return &pb.ExportServiceResponse{Manifests: "kind: Deployment\n"}, nil
}

// startFake serves a fakeManager on 127.0.0.1 (TLS with the test server certificate when
// withTLS), stopped when the test ends.
func startFake(t *testing.T, withTLS bool) (*fakeManager, string) {
	t.Helper()
	var opts []grpc.ServerOption
	if withTLS {
		needScripts(t)
		pair, err := tls.LoadX509KeyPair(testCerts.Server.Cert, testCerts.Server.Key)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, grpc.Creds(credentials.NewServerTLSFromCert(&pair)))
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeManager{}
	server := grpc.NewServer(opts...)
	pb.RegisterDeploymentServiceServer(server, f)
	go server.Serve(lis)
	t.Cleanup(server.Stop)
	return f, lis.Addr().String()
}

func fakeClient(t *testing.T, addr string, opts ...deployment.Option) *deployment.Client {
	t.Helper()
	c, err := deployment.NewClient(addr, append([]deployment.Option{deployment.WithAdminToken(fakeToken)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestFakeServiceFields(t *testing.T) {
	f, addr := startFake(t, false)
	c := fakeClient(t, addr)
	s, err := c.GetService(context.Background(), "fake")
	if err != nil {
		t.Fatal(err)
	}
	if _, auth := f.last(); auth != fakeToken {
		t.Fatalf("authorization %q, want the admin token (plaintext to a loopback address)", auth)
	}
	if s.ID != "svc_0123456789ab" || s.Name != "fake" || s.ModelID != "resnet50:3" || s.State != deployment.StateFailed ||
		s.StateMessage != "it died" || s.IPAddress != "::1" || s.Port != 40123 || !s.SSLEnabled || s.NumReplicas != 2 ||
		s.Runtime != "container" || !s.CreatedAt.Equal(created) || !s.UpdatedAt.Equal(created.Add(time.Hour)) ||
		s.CertificateSHA256 != "ab12" || !s.CertificateNotAfter.Equal(expires) || s.PrimaryKey != "" || s.SecondaryKey != "" {
		t.Fatalf("service %+v", s)
	}
	if s.Address() != "[::1]:40123" {
		t.Fatalf("Address() = %q", s.Address())
	}
	if len(s.Replicas) != 2 {
		t.Fatalf("replicas %+v", s.Replicas)
	}
	r := s.Replicas[0]
	if r.Index != 0 || r.Health != deployment.ReplicaServing || r.CallsByCode["OK"] != 7 || r.CallsByCode["UNAUTHENTICATED"] != 2 ||
		r.ImagesScored != 9 || r.QueueInUse != 1 || r.QueueCapacity != 64 || r.LatencyP50 != 12500*time.Microsecond ||
		r.LatencyP99 != 40*time.Millisecond || !r.ObservedAt.Equal(created) {
		t.Fatalf("replica 0 %+v", r)
	}
	if r := s.Replicas[1]; r.Index != 1 || r.Health != deployment.ReplicaUnknown || r.HealthMessage != "a newer manager's health" || !r.ObservedAt.IsZero() {
		t.Fatalf("replica 1 %+v", r)
	}
	future, err := c.GetService(context.Background(), "future")
	if err != nil || future.State != deployment.StateUnknown || !future.CreatedAt.IsZero() || future.Replicas != nil {
		t.Fatalf("a newer manager's state: %+v, %v", future, err)
	}
}

func TestFakeRequests(t *testing.T) {
	f, addr := startFake(t, false)
	c := fakeClient(t, addr)
	ctx := context.Background()

	s, err := c.CreateService(ctx, "fake", "resnet50", deployment.WithSSL([]byte("CERT PEM"), []byte("KEY PEM")),
		deployment.WithKeys("given-p", "given-s"), deployment.WithReplicas(3))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := f.last()
	want := &pb.CreateServiceRequest{Name: "fake", ModelId: "resnet50", SslEnabled: true, SslCertificate: "CERT PEM",
		SslKey: "KEY PEM", PrimaryKey: "given-p", SecondaryKey: "given-s", NumReplicas: 3}
	if !proto.Equal(req, want) {
		t.Fatalf("CreateService sent %v, want %v", req, want)
	}
	if s.PrimaryKey != "fake-primary-key-000000" || s.SecondaryKey != "fake-secondary-key-00000" {
		t.Fatal("CreateService's keys were not read")
	}
	if _, err := c.CreateService(ctx, "plain", "resnet50"); err != nil {
		t.Fatal(err)
	}
	if req, _ := f.last(); !proto.Equal(req, &pb.CreateServiceRequest{Name: "plain", ModelId: "resnet50"}) {
		t.Fatalf("a create without options sent %v", req)
	}

	three, off := int32(3), false
	for _, tc := range []struct {
		opts []deployment.ServiceOption
		want *pb.UpdateServiceRequest
	}{
		{nil, &pb.UpdateServiceRequest{ServiceId: "fake"}},
		{[]deployment.ServiceOption{deployment.WithReplicas(3)}, &pb.UpdateServiceRequest{ServiceId: "fake", NumReplicas: &three}},
		{[]deployment.ServiceOption{deployment.WithoutSSL()}, &pb.UpdateServiceRequest{ServiceId: "fake", SslEnabled: &off}},
		{[]deployment.ServiceOption{deployment.WithSSL([]byte("C"), []byte("K")), deployment.WithModel("inception:2")},
			&pb.UpdateServiceRequest{ServiceId: "fake", SslEnabled: proto.Bool(true), SslCertificate: "C", SslKey: "K", ModelId: "inception:2"}},
	} {
		if _, err := c.UpdateService(ctx, "fake", tc.opts...); err != nil {
			t.Fatal(err)
		}
		if req, _ := f.last(); !proto.Equal(req, tc.want) {
			t.Fatalf("UpdateService sent %v, want %v", req, tc.want)
		}
	}

	list, err := c.ListServices(ctx, deployment.WithModel("resnet50:3"))
	if err != nil || len(list) != 2 || list[1].ID != "svc_second000000" || list[1].State != deployment.StateRunning {
		t.Fatalf("ListServices: %v, %v", list, err)
	}
	if req, _ := f.last(); !proto.Equal(req, &pb.ListServicesRequest{ModelId: "resnet50:3"}) {
		t.Fatalf("ListServices sent %v", req)
	}

	keys, err := c.RegenerateAuthKeys(ctx, "fake", deployment.Primary)
	if err != nil || keys.PrimaryKey != "p-new-000000" || keys.SecondaryKey != "s-new-000000" {
		t.Fatalf("RegenerateAuthKeys: %v", err)
	}
	if req, _ := f.last(); !proto.Equal(req, &pb.RegenerateAuthKeysRequest{ServiceId: "fake", KeyType: pb.RegenerateAuthKeysRequest_PRIMARY}) {
		t.Fatalf("RegenerateAuthKeys sent %v", req)
	}
	if _, err := c.RegenerateAuthKeys(ctx, "fake", deployment.Secondary); err != nil {
		t.Fatal(err)
	}
	if req, _ := f.last(); req.(*pb.RegenerateAuthKeysRequest).GetKeyType() != pb.RegenerateAuthKeysRequest_SECONDARY {
		t.Fatalf("RegenerateAuthKeys(Secondary) sent %v", req)
	}

	if _, err := c.ExportKubernetes(ctx, "fake", deployment.WithImage("img:1"), deployment.WithReplicas(5)); err != nil {
		t.Fatal(err)
	}
	if req, _ := f.last(); !proto.Equal(req, &pb.ExportServiceRequest{ServiceId: "fake", Format: pb.ExportServiceRequest_KUBERNETES, Image: "img:1", Replicas: 5}) {
		t.Fatalf("ExportKubernetes sent %v", req)
	}

	model, err := c.RegisterModel(ctx, "resnet50", deployment.WithDescription("d"), deployment.WithTags(map[string]string{"a": "b"}))
	if err != nil || model.ID != "resnet50:4" || model.Version != 4 || model.Description != "d" || model.Tags["a"] != "b" || !model.CreatedAt.Equal(created) {
		t.Fatalf("RegisterModel: %+v, %v", model, err)
	}

	// Options a call does not take, and bad values, are refused before anything is sent.
	sent := f.count()
	for name, call := range map[string]func() error{
		"WithKeys on UpdateService": func() error { _, err := c.UpdateService(ctx, "fake", deployment.WithKeys("a", "b")); return err },
		"WithoutSSL on Create":      func() error { _, err := c.CreateService(ctx, "x", "m", deployment.WithoutSSL()); return err },
		"WithImage on ListServices": func() error { _, err := c.ListServices(ctx, deployment.WithImage("i")); return err },
		"WithReplicas(0)":           func() error { _, err := c.UpdateService(ctx, "fake", deployment.WithReplicas(0)); return err },
		"a key type of 0":           func() error { _, err := c.RegenerateAuthKeys(ctx, "fake", deployment.KeyType(0)); return err },
		"authorization on a context": func() error {
			_, err := c.GetService(metadata.AppendToOutgoingContext(ctx, "authorization", "x"), "fake")
			return err
		},
	} {
		err := call()
		if codeOf(t, err) != codes.InvalidArgument {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if f.count() != sent {
		t.Fatalf("a refused call was sent (%d requests, %d before)", f.count(), sent)
	}
}

func TestFakeErrors(t *testing.T) {
	_, addr := startFake(t, false)
	c := fakeClient(t, addr)
	ctx := context.Background()

	err := c.DeleteService(ctx, "gone")
	var e *fpgascore.Error
	if !errors.As(err, &e) || e.Code != codes.NotFound || e.RequestID != "req-42" || !errors.Is(err, deployment.ErrNotFound) ||
		errors.Is(err, deployment.ErrAlreadyExists) || status.Code(err) != codes.NotFound {
		t.Fatalf("DeleteService: %#v", err)
	}
	if strings.Contains(err.Error(), fakeToken) || !strings.Contains(err.Error(), "<redacted>") || !strings.Contains(err.Error(), `no service "gone"`) {
		t.Fatalf("the message: %v", err)
	}
	if st, ok := status.FromError(err); !ok || st.Code() != codes.NotFound || strings.Contains(st.Message(), fakeToken) {
		t.Fatalf("status.FromError: %v %v", st, ok)
	}

	_, err = c.CreateService(ctx, "taken", "resnet50")
	if !errors.Is(err, deployment.ErrAlreadyExists) || errors.Is(err, deployment.ErrNotFound) {
		t.Fatalf("ALREADY_EXISTS: %v", err)
	}
	_, err = c.ListModels(ctx) // not implemented by this peer
	if !errors.Is(err, deployment.ErrUnimplemented) {
		t.Fatalf("UNIMPLEMENTED: %v", err)
	}
	wrapped := fmt.Errorf("deploying: %w", err)
	if !errors.As(wrapped, &e) || e.Code != codes.Unimplemented {
		t.Fatalf("errors.As through %%w: %v", wrapped)
	}

	// A context deadline wins over the client's default.
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := c.GetService(expired, "fake"); codeOf(t, err) != codes.DeadlineExceeded {
		t.Fatalf("an expired context: %v", err)
	}
}

func TestFakeTLS(t *testing.T) {
	f, addr := startFake(t, true)
	port := addr[strings.LastIndex(addr, ":"):]
	ctx := context.Background()

	// The manager's root from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (WithTLS), or given.
	t.Setenv(fpgascore.RootsEnvVar, testCerts.CA)
	for name, opts := range map[string][]deployment.Option{
		"roots from " + fpgascore.RootsEnvVar: {deployment.WithTLS()},
		"WithRootCAFile":                      {deployment.WithRootCAFile(testCerts.CA)},
		"WithRootCAPEM, localhost":            {deployment.WithRootCAPEM(readFile(t, testCerts.CA))},
	} {
		target := addr
		if strings.Contains(name, "localhost") {
			target = "localhost" + port
		}
		if _, err := fakeClient(t, target, opts...).GetService(ctx, "fake"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, auth := f.last(); auth != fakeToken {
			t.Fatalf("%s: authorization %q", name, auth)
		}
	}

	// Not trusted, or TLS to this TLS port without it: the scoring client's messages.
	_, err := fakeClient(t, addr, deployment.WithRootCAFile(testCerts.UntrustedCA)).GetService(ctx, "fake")
	if codeOf(t, err) != codes.Unavailable || !strings.Contains(err.Error(), "certificate was not trusted") {
		t.Fatalf("an untrusted certificate: %v", err)
	}
	_, err = fakeClient(t, addr).GetService(ctx, "fake")
	if codeOf(t, err) != codes.Unavailable || !strings.Contains(err.Error(), "the server speaks TLS") {
		t.Fatalf("plaintext to a TLS port: %v", err)
	}
	_, err = fakeClient(t, addr, deployment.WithRootCAFile(testCerts.CA), deployment.WithServerNameOverride("wrong.example")).GetService(ctx, "fake")
	if codeOf(t, err) != codes.Unavailable || !strings.Contains(err.Error(), "certificate was not trusted") {
		t.Fatalf("a name the certificate does not hold: %v", err)
	}
}
