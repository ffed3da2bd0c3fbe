package fpgascore

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// Keepalive settings of the client's connection: a ping after 30 s without activity
// during a call (the reference server allows one every 10 s), dropped after 10 s without
// an answer.
const (
	keepaliveTime    = 30 * time.Second
	keepaliveTimeout = 10 * time.Second
)

// Client scores images on an fpgascore server over one long-lived gRPC connection. It is
// safe for concurrent use; create one per server and Close it when done.
//
// Printing a Client (fmt %v, %+v, %#v) shows its target and settings, never a key.
type Client struct {
	target string
	opts   options
	conn   *grpc.ClientConn
	stub   pb.PredictionServiceClient
	keys   *keyRing
	jitter *jitter
}

// NewClient creates a client for the server at target ("host:port", or any gRPC target
// such as "dns:///host:port"). It does not wait for the connection: the first call does.
//
// It fails with an INVALID_ARGUMENT *Error for a bad configuration (empty target, unreadable
// or empty roots, a secondary key without a primary one) and with a FAILED_PRECONDITION
// *Error when a key would go over plaintext (a key without WithTLS and without
// WithAllowInsecureKey).
func NewClient(target string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if target == "" {
		return nil, newError(codes.InvalidArgument, "empty target: give host:port")
	}
	if o.secondaryKey != "" && o.primaryKey == "" {
		return nil, newError(codes.InvalidArgument, "a secondary access token needs a primary one (WithAccessToken)")
	}
	if o.primaryKey != "" && !o.tls && !o.allowInsecureKey {
		return nil, newError(codes.FailedPrecondition,
			"refusing to send an access token over plaintext: use WithTLS(), or WithAllowInsecureKey() for a trusted network or a local test server")
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	if o.modelName == "" {
		o.modelName = DefaultModelName
	}
	if o.inputName == "" {
		o.inputName = DefaultInputName
	}
	if o.outputName == "" {
		o.outputName = DefaultOutputName
	}
	o.retry = o.retry.normalized()

	dialOpts := []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.WithUserAgent("fpgascore-go"),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(protoCodec{})),
	}
	if o.tls {
		creds, err := transportCredentials(&o)
		if err != nil {
			return nil, err
		}
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(creds))
	} else {
		dialOpts = append(dialOpts, grpc.WithInsecure())
	}
	dialOpts = append(dialOpts, o.dialOptions...)
	conn, err := grpc.Dial(target, dialOpts...)
	if err != nil {
		return nil, &Error{Code: codes.Unavailable, Message: fmt.Sprintf("cannot set up a connection to %q: %v", target, err), cause: err}
	}
	return &Client{
		target: target,
		opts:   o,
		conn:   conn,
		stub:   pb.NewPredictionServiceClient(conn),
		keys:   newKeyRing(&o),
		jitter: newJitter(),
	}, nil
}

// Close closes the connection. Calls in progress fail; the client cannot be used after.
func (c *Client) Close() error {
	return c.conn.Close()
}

// Target returns the target the client was created for.
func (c *Client) Target() string { return c.target }

// String describes the client without any key.
func (c Client) String() string {
	return fmt.Sprintf("fpgascore.Client{target: %q, tls: %t, auth: %s, timeout: %s, model: %q}",
		c.target, c.opts.tls, c.keys.describe(), c.opts.timeout, c.opts.modelName)
}

// GoString is String, so %#v never shows a key.
func (c Client) GoString() string { return c.String() }

// Format prints String for every verb, so %v and %+v never show a key.
func (c Client) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// ScoreImage scores one encoded image (JPEG or PNG bytes, sent untouched) and returns its
// scores, shape [1, 1000].
func (c *Client) ScoreImage(ctx context.Context, image []byte) (*Scores, error) {
	return c.ScoreImages(ctx, [][]byte{image})
}

// ScoreImageReader reads an encoded image from r and scores it like ScoreImage.
func (c *Client) ScoreImageReader(ctx context.Context, r io.Reader) (*Scores, error) {
	if r == nil {
		return nil, newError(codes.InvalidArgument, "nil image reader")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &Error{Code: codes.InvalidArgument, Message: fmt.Sprintf("cannot read the image: %v", err), cause: err}
	}
	return c.ScoreImage(ctx, data)
}

// ScoreImages scores a batch of encoded images in one call and returns one row of scores
// per image, in order (shape [N, 1000]). An empty batch or an empty image is refused with
// an INVALID_ARGUMENT *Error before anything is sent.
func (c *Client) ScoreImages(ctx context.Context, images [][]byte) (*Scores, error) {
	if err := checkImages(images); err != nil {
		return nil, err
	}
	resp, err := c.Predict(ctx, c.newRequest(imagesTensor(images)))
	if err != nil {
		return nil, err
	}
	return decodeScores(resp, c.opts.outputName, len(images))
}

// ScoreTensor scores pre-processed images given as float32 values, row-major, with shape
// [N, 224, 224, 3] or [224, 224, 3] (one image). A shape/values mismatch or a bad shape is
// refused with an INVALID_ARGUMENT *Error before anything is sent; non-finite values are
// sent as they are (the server decides).
func (c *Client) ScoreTensor(ctx context.Context, values []float32, shape []int64) (*Scores, error) {
	send, err := checkTensor(values, shape)
	if err != nil {
		return nil, err
	}
	resp, err := c.Predict(ctx, c.newRequest(floatTensor(values, send)))
	if err != nil {
		return nil, err
	}
	return decodeScores(resp, c.opts.outputName, int(send[0]))
}

// Predict sends a PredictRequest and returns the server's response: the low-level call,
// still with the client's key, metadata, default deadline and retry policy. The request is
// sent as it is, except that a request without model_spec gets the client's (model name,
// "serving_default"); req itself is never modified. DecodeScores reads the scores of the
// response.
func (c *Client) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	if req == nil {
		return nil, newError(codes.InvalidArgument, "nil request")
	}
	if req.ModelSpec == nil {
		req = &pb.PredictRequest{
			ModelSpec:    &pb.ModelSpec{Name: c.opts.modelName, SignatureName: DefaultSignatureName},
			Inputs:       req.Inputs,
			OutputFilter: req.OutputFilter,
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.timeout)
		defer cancel()
	}
	if len(c.opts.metadata) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, c.opts.metadata...)
	}
	return c.callWithRetries(ctx, req)
}

// callWithRetries runs the attempts of one logical call under the retry policy.
func (c *Client) callWithRetries(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	policy := c.opts.retry
	deadline, _ := ctx.Deadline()
	info := callInfoFrom(ctx)
	if info != nil {
		*info = CallInfo{}
	}
	for attempt := 1; ; attempt++ {
		resp, header, trailer, tries, err := c.attemptWithFailover(ctx, req)
		if info != nil {
			info.Attempts += tries
			info.RequestID = requestID(header, trailer)
		}
		if err == nil {
			return resp, nil
		}
		e := errorFromCall(err, header, trailer, c.keys.secrets())
		if attempt >= policy.MaxAttempts || !retryable(e.Code, header, trailer) || e.untrustedCertificate() || ctx.Err() != nil {
			return nil, e
		}
		sleep := policy.retryDelay(attempt, c.jitter, header, trailer)
		if !time.Now().Add(sleep).Before(deadline) {
			return nil, e
		}
		timer := time.NewTimer(sleep)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, e
		}
	}
}

// attemptWithFailover makes one attempt with the key in use and, when it fails
// UNAUTHENTICATED and a second key is configured, once more at once with the other key
// (not counted as a retry); if that works, later calls use the other key. It returns the
// response metadata of the last attempt and the number of attempts made (1 or 2).
func (c *Client) attemptWithFailover(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, metadata.MD, metadata.MD, int, error) {
	idx, creds := c.keys.current()
	resp, header, trailer, err := c.attempt(ctx, req, creds)
	if err == nil || idx < 0 || status.Code(err) != codes.Unauthenticated {
		return resp, header, trailer, 1, err
	}
	j, other := c.keys.other(idx)
	if other == nil {
		return resp, header, trailer, 1, err
	}
	resp, header, trailer, err = c.attempt(ctx, req, other)
	if err == nil {
		c.keys.promote(idx, j)
	}
	return resp, header, trailer, 2, err
}

// attempt is one gRPC call.
func (c *Client) attempt(ctx context.Context, req *pb.PredictRequest, creds *AccessTokenCredentials) (*pb.PredictResponse, metadata.MD, metadata.MD, error) {
	var header, trailer metadata.MD
	callOpts := []grpc.CallOption{grpc.Header(&header), grpc.Trailer(&trailer)}
	if creds != nil {
		callOpts = append(callOpts, grpc.PerRPCCredentials(creds))
	}
	resp, err := c.stub.Predict(ctx, req, callOpts...)
	return resp, header, trailer, err
}

// DecodeScores reads the score tensor of a Predict response (the output named by
// WithOutputName, "output_alias" by default) from tensor_content or float_val, whichever
// the server used. A missing output or a wrong size is an INTERNAL-coded *Error.
func (c *Client) DecodeScores(resp *pb.PredictResponse) (*Scores, error) {
	if resp == nil {
		return nil, newError(codes.Internal, "nil response")
	}
	return decodeScores(resp, c.opts.outputName, 0)
}
