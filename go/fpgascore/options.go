package fpgascore

import (
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
)

// Default values of the options.
const (
	// DefaultTimeout is the deadline of a call whose context has none.
	DefaultTimeout = 10 * time.Second
	// DefaultModelName is the model_spec.name sent with every request.
	DefaultModelName = "resnet50"
	// DefaultSignatureName is the model_spec.signature_name sent with every request.
	DefaultSignatureName = "serving_default"
	// DefaultInputName is the name of the request's input tensor.
	DefaultInputName = "images"
	// DefaultOutputName is the name of the response's score tensor.
	DefaultOutputName = "output_alias"
	// DefaultMaxResponseBytes is the largest response a client accepts unless
	// WithMaxResponseBytes says otherwise: 16 MiB, the reference server's own message limit
	// (a batch of 32 images is answered in about 130 KB).
	DefaultMaxResponseBytes = 16 << 20
)

// An Option configures a Client (see NewClient). Options are applied in order; a later
// one wins.
type Option func(*options)

// options is what the Option functions set. It never prints its keys (see String).
type options struct {
	tls                bool
	rootSource         rootSource
	rootPEM            []byte
	rootFile           string
	serverNameOverride string
	primaryKey         secret
	secondaryKey       secret
	bearer             bool
	allowInsecureKey   bool
	timeout            time.Duration
	retry              RetryPolicy
	inputName          string
	outputName         string
	modelName          string
	signatureName      string
	metadata           []string // key, value, key, value ...
	maxResponseBytes   int
	dialOptions        []grpc.DialOption
	logger             *slog.Logger
}

func defaultOptions() options {
	return options{
		logger:           slog.New(slog.DiscardHandler),
		timeout:          DefaultTimeout,
		retry:            DefaultRetryPolicy(),
		inputName:        DefaultInputName,
		outputName:       DefaultOutputName,
		modelName:        DefaultModelName,
		signatureName:    DefaultSignatureName,
		maxResponseBytes: DefaultMaxResponseBytes,
	}
}

// String describes the options without any key.
func (o options) String() string {
	auth := "none"
	if o.primaryKey != "" {
		auth = "raw key"
		if o.bearer {
			auth = "bearer key"
		}
		if o.secondaryKey != "" {
			auth += " + secondary"
		}
	}
	return fmt.Sprintf("tls=%t auth=%s timeout=%s model=%q", o.tls, auth, o.timeout, o.modelName)
}

// GoString is String, so %#v never shows a key.
func (o options) GoString() string { return o.String() }

// Format prints String for every verb, so no fmt verb shows a key.
func (o options) Format(f fmt.State, _ rune) { fmt.Fprint(f, o.String()) }

// WithTLS turns TLS on. The server certificate is checked against the system roots, unless
// WithRootCAPEM or WithRootCAFile gives roots, or the environment variable
// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH names a PEM file (read when NewClient runs), which then
// replaces the system roots.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// rootSource says where the roots to trust come from.
type rootSource int

const (
	rootsDefault rootSource = iota // the env var's file, else the system roots
	rootsPEM                       // WithRootCAPEM
	rootsFile                      // WithRootCAFile
)

// WithRootCAPEM turns TLS on and trusts only the PEM certificates given (instead of the
// system roots). Empty or nil pem (a bundle that failed to load) makes NewClient fail with
// an INVALID_ARGUMENT *Error: it never falls back to other roots.
func WithRootCAPEM(pem []byte) Option {
	return func(o *options) {
		o.tls = true
		o.rootSource = rootsPEM
		o.rootPEM = append([]byte(nil), pem...)
		o.rootFile = ""
	}
}

// WithRootCAFile turns TLS on and trusts only the PEM certificates in the file at path
// (read when NewClient runs), instead of the system roots. An empty path makes NewClient
// fail with an INVALID_ARGUMENT *Error: it never falls back to other roots.
func WithRootCAFile(path string) Option {
	return func(o *options) {
		o.tls = true
		o.rootSource = rootsFile
		o.rootFile = path
		o.rootPEM = nil
	}
}

// WithServerNameOverride turns TLS on and sets the name checked against the server's
// certificate, which is also sent as TLS SNI and as the :authority of calls (for a server
// reached by an address its certificate does not name).
func WithServerNameOverride(name string) Option {
	return func(o *options) {
		o.tls = true
		o.serverNameOverride = name
	}
}

// WithAccessToken sets the key sent as "authorization" metadata on every call. A key is
// never sent over plaintext: without WithTLS (or WithAllowInsecureKey) NewClient fails with
// a FAILED_PRECONDITION *Error.
func WithAccessToken(key string) Option { return func(o *options) { o.primaryKey = secret(key) } }

// WithSecondaryAccessToken sets a second key (during a key rotation). When a call fails
// UNAUTHENTICATED with the key in use, it is repeated at once with the other key; if that
// works, later calls use that key. It needs WithAccessToken.
func WithSecondaryAccessToken(key string) Option {
	return func(o *options) { o.secondaryKey = secret(key) }
}

// WithBearerScheme sends the key as "Bearer <key>" instead of the raw key.
func WithBearerScheme() Option { return func(o *options) { o.bearer = true } }

// WithAllowInsecureKey allows sending a key over plaintext (a trusted network or a local
// test server). Without it, a key without TLS is refused.
func WithAllowInsecureKey() Option { return func(o *options) { o.allowInsecureKey = true } }

// WithTimeout sets the deadline of a call whose context has none (default 10 s). A
// context deadline always wins. The deadline bounds the whole call, retries included.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetryPolicy sets the retry policy (default DefaultRetryPolicy()). Zero fields take
// the default values; RetryPolicy{MaxAttempts: 1} disables retries.
func WithRetryPolicy(p RetryPolicy) Option { return func(o *options) { o.retry = p } }

// WithInputName sets the name of the request's input tensor (default "images").
func WithInputName(name string) Option { return func(o *options) { o.inputName = name } }

// WithOutputName sets the name of the response's score tensor (default "output_alias").
// Another name is also requested with the request's output_filter. The Score calls require
// that output to be [N, 1000]; read an output of another width with Predict and
// DecodeScores.
func WithOutputName(name string) Option { return func(o *options) { o.outputName = name } }

// WithModelName sets model_spec.name (default "resnet50").
func WithModelName(name string) Option { return func(o *options) { o.modelName = name } }

// WithSignatureName sets model_spec.signature_name (default "serving_default"), and the
// signature ModelMetadata describes.
func WithSignatureName(name string) Option { return func(o *options) { o.signatureName = name } }

// WithMetadata adds a metadata pair sent with every call (keys are lower-cased by gRPC).
// For one call, use metadata.AppendToOutgoingContext on its context instead. The key
// "authorization" is reserved for the access token (WithAccessToken): NewClient refuses it
// with an INVALID_ARGUMENT *Error, and so do calls whose context carries it.
func WithMetadata(key, value string) Option {
	return func(o *options) { o.metadata = append(o.metadata, key, value) }
}

// WithMaxResponseBytes sets the largest response the client accepts, in bytes (default
// DefaultMaxResponseBytes, 16 MiB; at most math.MaxInt32). A larger response fails the
// call with a RESOURCE_EXHAUSTED *Error ("grpc: received message larger than max"), which
// is not retried. NewClient refuses a value outside 1..math.MaxInt32 with an
// INVALID_ARGUMENT *Error.
func WithMaxResponseBytes(n int) Option { return func(o *options) { o.maxResponseBytes = n } }

// WithLogger makes the client log through l (log/slog): a key failover and each retry at
// Info (attempt, code, request id, the sleep), every call's end at Debug (code, attempts,
// request id). Never a key. Without it the client logs nothing; nil is refused.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDialOptions adds gRPC dial options (e.g. a custom dialer, interceptors, message size
// limits). They are applied after the client's own, so they can override them; transport
// credentials are the client's business (WithTLS and friends).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}
