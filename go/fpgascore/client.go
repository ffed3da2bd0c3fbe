package fpgascore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
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
// or empty roots, an empty WithRootCAPEM or WithRootCAFile, "authorization" given with
// WithMetadata, a secondary key without a primary one) and with a FAILED_PRECONDITION
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
	for i := 0; i < len(o.metadata); i += 2 {
		if strings.EqualFold(o.metadata[i], AuthorizationKey) {
			return nil, newError(codes.InvalidArgument, "%q metadata comes from WithAccessToken; it cannot be given with WithMetadata", AuthorizationKey)
		}
	}
	if o.secondaryKey != "" && o.primaryKey == "" {
		return nil, newError(codes.InvalidArgument, "a secondary access token needs a primary one (WithAccessToken)")
	}
	for _, k := range []struct {
		key  *secret
		name string
	}{{&o.primaryKey, "the access token (WithAccessToken)"}, {&o.secondaryKey, "the secondary access token (WithSecondaryAccessToken)"}} {
		checked, err := checkKey(*k.key, k.name)
		if err != nil {
			return nil, err
		}
		*k.key = checked
	}
	if o.primaryKey != "" && !o.tls && !o.allowInsecureKey {
		return nil, newError(codes.FailedPrecondition,
			"refusing to send an access key over a plaintext channel: use WithTLS(), or WithAllowInsecureKey() for a trusted network or a local test server")
	}
	if o.timeout <= 0 {
		return nil, newError(codes.InvalidArgument, "WithTimeout(%s): the default deadline must be positive", o.timeout)
	}
	if o.modelName == "" {
		o.modelName = DefaultModelName
	}
	if o.signatureName == "" {
		o.signatureName = DefaultSignatureName
	}
	if o.inputName == "" {
		o.inputName = DefaultInputName
	}
	if o.outputName == "" {
		o.outputName = DefaultOutputName
	}
	if o.logger == nil {
		return nil, newError(codes.InvalidArgument, "WithLogger(nil): give a *slog.Logger, or leave the option out to log nothing")
	}
	if o.maxResponseBytes <= 0 || int64(o.maxResponseBytes) > math.MaxInt32 {
		return nil, newError(codes.InvalidArgument, "WithMaxResponseBytes(%d): the limit must be from 1 to %d bytes", o.maxResponseBytes, math.MaxInt32)
	}
	retry, err := o.retry.normalized()
	if err != nil {
		return nil, err
	}
	o.retry = retry

	dialOpts := []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		grpc.WithUserAgent("fpgascore-go/" + Version),
		// The client's own retry policy is the only one: no gRPC retries (transparent
		// retries of calls that never reached the server stay), no service config from
		// the resolver that could turn them on.
		grpc.WithDisableRetry(),
		grpc.WithDisableServiceConfig(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.maxResponseBytes)),
	}
	if o.tls {
		creds, err := transportCredentials(&o)
		if err != nil {
			return nil, err
		}
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(creds))
	} else {
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	dialOpts = append(dialOpts, o.dialOptions...)
	conn, err := newConn(target, dialOpts...)
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

// newConn is grpc.NewClient reading a target without a scheme as grpc.Dial did: NewClient
// resolves "host:port" with the dns resolver, Dial handed it to the dialer as it is
// (passthrough), and so does this client. A target naming a resolver (dns:///, unix:,
// passthrough:///, or a scheme of a resolver given with grpc.WithResolvers) is used as it is.
func newConn(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(conn.CanonicalTarget(), "dns:///") && !strings.HasPrefix(strings.ToLower(target), "dns:") {
		// No resolver named: NewClient fell back to its default scheme, dns.
		conn.Close()
		return grpc.NewClient("passthrough:///"+target, opts...)
	}
	return conn, nil
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
// an INVALID_ARGUMENT *Error before anything is sent. An answer holding a NaN or infinite
// score is an INTERNAL *Error (errors.Is(err, ErrNonFiniteScore)) naming the first one's
// image and class; negative or unnormalised finite scores are returned as the server sent
// them. The reference server takes up to 32 images per call.
func (c *Client) ScoreImages(ctx context.Context, images [][]byte) (*Scores, error) {
	if err := checkImages(images); err != nil {
		return nil, err
	}
	return c.predictScores(ctx, c.newRequest(imagesTensor(images)), len(images))
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
	return c.predictScores(ctx, c.newRequest(floatTensor(values, send)), int(send[0]))
}

// predictScores makes the call and decodes its scores; an error decoding the response
// carries the call's request id like every other error.
func (c *Client) predictScores(ctx context.Context, req *pb.PredictRequest, rows int) (*Scores, error) {
	ctx, info := withCallInfoOf(ctx)
	resp, err := c.Predict(ctx, req)
	if err != nil {
		return nil, err
	}
	scores, err := decodeScores(resp, c.opts.outputName, rows, NumClasses)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.RequestID = info.RequestID
			info.Code = e.Code
		}
		return nil, err
	}
	return scores, nil
}

// Predict sends a PredictRequest and returns the server's response: the low-level call,
// still with the client's key, metadata, default deadline and retry policy. The request is
// sent as it is, except that a request without model_spec gets the client's (model name,
// "serving_default"); req itself is never modified. DecodeScores reads the scores of the
// response.
//
// The key is the client's business: a ctx whose outgoing metadata (for example from
// metadata.AppendToOutgoingContext) holds "authorization" is refused with an
// INVALID_ARGUMENT *Error before anything is sent, here and in every Score call, so no
// key can bypass the refusal of keys over plaintext.
func (c *Client) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	if req == nil {
		return nil, newError(codes.InvalidArgument, "nil request")
	}
	if req.ModelSpec == nil {
		req = &pb.PredictRequest{
			ModelSpec:    &pb.ModelSpec{Name: c.opts.modelName, SignatureName: c.opts.signatureName},
			Inputs:       req.Inputs,
			OutputFilter: req.OutputFilter,
		}
	}
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return callWithRetries(c, ctx, func(ctx context.Context, opts ...grpc.CallOption) (*pb.PredictResponse, error) {
		return c.stub.Predict(ctx, req, opts...)
	})
}

// callContext is ctx with the client's default deadline (unless ctx has one) and the
// client's metadata; a ctx carrying "authorization" is refused.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := checkCallMetadata(ctx); err != nil {
		return nil, nil, err
	}
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.opts.timeout)
	}
	if len(c.opts.metadata) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, c.opts.metadata...)
	}
	return ctx, cancel, nil
}

// callWithRetries runs the attempts of one logical call under the retry policy. When an
// attempt fails UNAUTHENTICATED and a second key is configured, the call switches to the
// other key once (an attempt that is not a retry) and keeps that key for its later retries;
// when the call then succeeds, later calls use that key too.
func callWithRetries[T any](c *Client, ctx context.Context, call func(context.Context, ...grpc.CallOption) (T, error)) (T, error) {
	var none T
	policy := c.opts.retry
	deadline, _ := ctx.Deadline()
	info := callInfoFrom(ctx)
	if info != nil {
		*info = CallInfo{}
	}
	idx, creds := c.keys.current()
	first := idx
	failedOver := false
	attempts, lastID, code := 0, "", codes.OK
	log := c.opts.logger
	defer func() {
		// Checked first: the line's arguments, boxed for slog, cost allocations on every call.
		if log.Enabled(ctx, slog.LevelDebug) {
			log.Debug("fpgascore: call ended", "target", c.target, "code", codeName(code), "attempts", attempts,
				"request_id", lastID)
		}
	}()
	for retry := 0; ; {
		resp, header, trailer, err := attempt(ctx, call, creds)
		attempts, lastID, code = attempts+1, requestID(header, trailer), status.Code(err)
		if info != nil {
			info.Attempts++
			info.RequestID = lastID
			info.Trailer = trailer
			info.Code = code
		}
		if err == nil {
			if failedOver {
				c.keys.promote(first, idx)
			}
			return resp, nil
		}
		if !failedOver && status.Code(err) == codes.Unauthenticated {
			if j, other := c.keys.other(idx); other != nil {
				// Once per call, at once, not counted as a retry.
				failedOver, idx, creds = true, j, other
				log.Info("fpgascore: attempt failed with UNAUTHENTICATED; repeating it at once with the other key",
					"target", c.target, "attempt", attempts, "request_id", lastID)
				continue
			}
		}
		e := errorFromCall(err, header, trailer, c.keys.secrets())
		e.classifyMismatch(c.opts.tls)
		code = e.Code
		if info != nil {
			info.Code = e.Code
		}
		retry++
		if retry >= policy.MaxAttempts || !retryable(e.Code, header, trailer) || e.neverRetried() || ctx.Err() != nil {
			return none, e
		}
		sleep := policy.retryDelay(retry, c.jitter, header, trailer)
		if !time.Now().Add(sleep).Before(deadline) {
			return none, e
		}
		log.Info("fpgascore: attempt failed; retrying", "target", c.target, "attempt", attempts,
			"code", codeName(e.Code), "request_id", lastID, "sleep", sleep)
		timer := time.NewTimer(sleep)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return none, e
		}
	}
}

// checkCallMetadata refuses per-call outgoing metadata carrying "authorization", whether it
// came from metadata.NewOutgoingContext (with a key in any case) or AppendToOutgoingContext.
func checkCallMetadata(ctx context.Context) error {
	md, ok := metadata.FromOutgoingContext(ctx) // a merged copy, keys in lower case
	if !ok {
		return nil
	}
	if _, bad := md[AuthorizationKey]; bad {
		return newError(codes.InvalidArgument, "%q metadata comes from the client's access token (WithAccessToken); it cannot be set on the call's context", AuthorizationKey)
	}
	return nil
}

// attempt is one gRPC call, with the key creds (none when nil).
func attempt[T any](ctx context.Context, call func(context.Context, ...grpc.CallOption) (T, error), creds *AccessTokenCredentials) (T, metadata.MD, metadata.MD, error) {
	var header, trailer metadata.MD
	callOpts := make([]grpc.CallOption, 2, 3) // room for the key: one allocation
	callOpts[0], callOpts[1] = grpc.Header(&header), grpc.Trailer(&trailer)
	if creds != nil {
		callOpts = append(callOpts, grpc.PerRPCCredentials(creds))
	}
	resp, err := call(ctx, callOpts...)
	return resp, header, trailer, err
}

// DecodeScores reads the score tensor of a Predict response (the output named by
// WithOutputName, "output_alias" by default) from tensor_content or float_val, whichever
// the server used (tensor_content when both are set). The output must be a DT_FLOAT
// [rows, columns] tensor whose values fill its shape; unlike the Score calls, which also
// require [images sent, 1000], it takes any row and column count (another output may
// have another width). Anything else is an INTERNAL-coded *Error naming what was wrong,
// and so is a NaN or infinite score (errors.Is(err, ErrNonFiniteScore)).
func (c *Client) DecodeScores(resp *pb.PredictResponse) (*Scores, error) {
	if resp == nil {
		return nil, newError(codes.Internal, "nil response")
	}
	return decodeScores(resp, c.opts.outputName, 0, 0)
}
