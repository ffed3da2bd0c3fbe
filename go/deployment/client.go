package deployment

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/fpgascore/fpgascore/go/fpgascore"
	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
	"github.com/fpgascore/fpgascore/go/internal/shared"
)

// Client manages models and scoring services through a manager's DeploymentService
// (scripts/run-emulator manage). It is safe for concurrent use; Close it when done.
// Printing a Client (any fmt verb) never shows the admin token.
type Client struct {
	address string
	tls     bool
	timeout time.Duration
	token   string
	conn    *grpc.ClientConn
	stub    pb.DeploymentServiceClient
	creds   *fpgascore.AccessTokenCredentials
}

// NewClient creates a client for the manager at address ("host:port"). It does not wait for
// the connection: the first call does.
//
// It fails with an INVALID_ARGUMENT *fpgascore.Error for a bad configuration (an address that
// is not host:port, no admin token (WithAdminToken or FPGASCORE_ADMIN_TOKEN), a token a
// header cannot carry, bad roots, a non-positive timeout) and with a FAILED_PRECONDITION one
// when the token would go over plaintext to an address that is not a loopback one (use
// WithTLS, or WithAllowInsecureKey for a trusted network).
func NewClient(address string, opts ...Option) (*Client, error) {
	o := options{timeout: DefaultTimeout, maxResponseBytes: DefaultMaxResponseBytes}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return nil, configError(codes.InvalidArgument, "address must be host:port, not %q", address)
	}
	if !o.tokenSet {
		token, ok := os.LookupEnv(AdminTokenEnvVar)
		if !ok {
			return nil, configError(codes.InvalidArgument, "the manager needs its admin token: WithAdminToken(token), or set %s", AdminTokenEnvVar)
		}
		o.token = token
	}
	token, err := shared.CheckKey(o.token, "the admin token")
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, configError(codes.InvalidArgument, "the admin token is empty")
	}
	if !o.tls && !o.allowInsecure && !isLoopback(host) {
		return nil, configError(codes.FailedPrecondition,
			"refusing to send the admin token over plaintext to %s (not a loopback address): use WithTLS() (the manager's --tls-cert), or WithAllowInsecureKey() for a trusted network", host)
	}
	if o.timeout <= 0 {
		return nil, configError(codes.InvalidArgument, "WithTimeout(%s): the default deadline must be positive", o.timeout)
	}
	if o.maxResponseBytes <= 0 || int64(o.maxResponseBytes) > math.MaxInt32 {
		return nil, configError(codes.InvalidArgument, "WithMaxResponseBytes(%d): the limit must be from 1 to %d bytes", o.maxResponseBytes, math.MaxInt32)
	}
	dial := []grpc.DialOption{
		grpc.WithUserAgent("fpgascore-go/" + fpgascore.Version),
		grpc.WithDisableRetry(), // a control-plane call is not repeated behind the caller's back
		grpc.WithDisableServiceConfig(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxResponseBytes)),
	}
	if o.tls {
		creds, err := shared.TransportCredentials(o.roots)
		if err != nil {
			return nil, err
		}
		dial = append(dial, grpc.WithTransportCredentials(creds))
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	conn, err := shared.NewConn(address, append(dial, o.dialOptions...)...)
	if err != nil {
		return nil, configError(codes.Unavailable, "cannot set up a connection to %q: %v", address, err)
	}
	return &Client{
		address: address, tls: o.tls, timeout: o.timeout, token: token, conn: conn,
		stub: pb.NewDeploymentServiceClient(conn),
		// Over plaintext only to loopback (checked above) or with WithAllowInsecureKey.
		creds: &fpgascore.AccessTokenCredentials{Key: token, AllowInsecure: !o.tls},
	}, nil
}

func configError(code codes.Code, format string, args ...interface{}) error {
	return &fpgascore.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// isLoopback: "localhost", or an IP address of the loopback network (127.0.0.0/8, ::1).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close closes the connection; calls in progress fail.
func (c *Client) Close() error { return c.conn.Close() }

// Address is the manager's address the client was created for.
func (c *Client) Address() string { return c.address }

// String describes the client without the token.
func (c Client) String() string {
	return fmt.Sprintf("deployment.Client{address: %q, tls: %t, adminToken: %s, timeout: %s}",
		c.address, c.tls, masked(c.token), c.timeout)
}

// GoString is String, so %#v never shows the token.
func (c Client) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Client) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// invoke makes one call with the admin token and the default deadline, and turns a failure
// into an *fpgascore.Error (the token scrubbed from its message).
func invoke[Req, Resp any](c *Client, ctx context.Context, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	var none Resp
	if ctx == nil {
		ctx = context.Background()
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(fpgascore.AuthorizationKey)) > 0 {
		return none, configError(codes.InvalidArgument, "%q metadata comes from the client's admin token (WithAdminToken); it cannot be set on the call's context", fpgascore.AuthorizationKey)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var header, trailer metadata.MD
	resp, err := method(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer), grpc.PerRPCCredentials(c.creds))
	if err != nil {
		return none, shared.CallError(err, header, trailer, []string{c.token}, c.tls)
	}
	return resp, nil
}
