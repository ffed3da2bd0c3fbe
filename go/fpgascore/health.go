package fpgascore

import (
	"context"

	"google.golang.org/grpc"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// Health statuses CheckHealth returns (grpc.health.v1's names).
const (
	HealthServing        = "SERVING"
	HealthNotServing     = "NOT_SERVING" // the server is draining
	HealthServiceUnknown = "SERVICE_UNKNOWN"
)

// CheckHealth asks the server's grpc.health.v1 service for the status of service ("" is the
// whole server) through the client's connection, TLS and key: HealthServing, HealthNotServing
// or HealthServiceUnknown. It makes one attempt (a health check reports; it does not retry);
// a context without a deadline gets the client's timeout. Errors are *Error as for any call:
// UNAVAILABLE when nothing answers, NOT_FOUND for a service the server does not know.
func (c *Client) CheckHealth(ctx context.Context, service string) (string, error) {
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	_, creds := c.keys.current()
	health := pb.NewHealthClient(c.conn)
	resp, header, trailer, err := attempt(ctx, func(ctx context.Context, opts ...grpc.CallOption) (*pb.HealthCheckResponse, error) {
		return health.Check(ctx, &pb.HealthCheckRequest{Service: service}, opts...)
	}, creds)
	if err != nil {
		return "", errorFromCall(err, header, trailer, c.keys.secrets())
	}
	return resp.GetStatus().String(), nil
}
