package deployment

import (
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/fpgascore/fpgascore/go/internal/shared"
)

// AdminTokenEnvVar names the environment variable NewClient reads the admin token from when
// WithAdminToken is not given (as the Python client and the manager do).
const AdminTokenEnvVar = "FPGASCORE_ADMIN_TOKEN"

// DefaultTimeout is the deadline of a call whose context has none: a create waits until the
// service serves (a container start, on a busy machine).
const DefaultTimeout = 120 * time.Second

// DefaultMaxResponseBytes is the largest answer the client accepts unless
// WithMaxResponseBytes says otherwise (16 MiB).
const DefaultMaxResponseBytes = 16 << 20

// An Option configures a Client (NewClient). Options are applied in order; a later one wins.
type Option func(*options)

type options struct {
	token            string
	tokenSet         bool
	tls              bool
	roots            shared.TLS
	allowInsecure    bool
	timeout          time.Duration
	maxResponseBytes int
	dialOptions      []grpc.DialOption
}

// Format keeps the token out of every fmt verb.
func (o options) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "tls=%t token=%s timeout=%s", o.tls, masked(o.token), o.timeout)
}

// WithAdminToken sets the manager's admin token, sent as "authorization" on every call
// (default: the variable FPGASCORE_ADMIN_TOKEN). It goes over plaintext only to a loopback
// address (127.0.0.1, ::1, localhost), unless WithAllowInsecureKey.
func WithAdminToken(token string) Option {
	return func(o *options) { o.token, o.tokenSet = token, true }
}

// WithTLS turns TLS on (the manager's --tls-cert), trusting the system roots, or the PEM file
// named by GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (read at NewClient), which then replaces them.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// WithRootCAPEM turns TLS on and trusts only these PEM certificates; empty PEM is refused
// (INVALID_ARGUMENT), never a fall-back to other roots.
func WithRootCAPEM(pem []byte) Option {
	return func(o *options) {
		o.tls = true
		o.roots.Source, o.roots.RootPEM, o.roots.RootFile = shared.RootsPEM, append([]byte(nil), pem...), ""
	}
}

// WithRootCAFile turns TLS on and trusts only the PEM certificates in the file at path (read
// at NewClient); an empty path is refused (INVALID_ARGUMENT).
func WithRootCAFile(path string) Option {
	return func(o *options) {
		o.tls = true
		o.roots.Source, o.roots.RootFile, o.roots.RootPEM = shared.RootsFile, path, nil
	}
}

// WithServerNameOverride turns TLS on and sets the name checked in the manager's
// certificate (also TLS SNI and :authority).
func WithServerNameOverride(name string) Option {
	return func(o *options) { o.tls, o.roots.ServerName = true, name }
}

// WithAllowInsecureKey allows sending the admin token over plaintext to an address that is
// not a loopback one (a trusted network).
func WithAllowInsecureKey() Option { return func(o *options) { o.allowInsecure = true } }

// WithTimeout sets the deadline of a call whose context has none (default 120 s); a context
// deadline always wins.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMaxResponseBytes sets the largest answer accepted (default 16 MiB); a larger one fails
// the call with RESOURCE_EXHAUSTED.
func WithMaxResponseBytes(n int) Option { return func(o *options) { o.maxResponseBytes = n } }

// WithDialOptions adds gRPC dial options (interceptors, a dialer, ...), applied after the
// client's own. Transport credentials are the client's business (WithTLS and friends).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// A ServiceOption is an optional parameter of a service call: CreateService, UpdateService,
// ListServices and ExportKubernetes each take the ones their documentation names and refuse
// the others (INVALID_ARGUMENT, nothing sent).
type ServiceOption func(*serviceParams)

type serviceParams struct {
	given       []string // the options given, by name, for refusing the ones a call does not take
	ssl         *bool
	cert, key   string
	primary     string
	secondary   string
	replicas    *int
	model       string
	image       string
	description string
	tags        map[string]string
}

func (p *serviceParams) mark(name string) { p.given = append(p.given, name) }

// WithSSL turns TLS on with this certificate chain (PEM, leaf first) and its private key
// (PEM): for CreateService, and for UpdateService (on a service with SSL it swaps the
// certificate without a restart; on one without, it turns SSL on and issues keys).
func WithSSL(certPEM, keyPEM []byte) ServiceOption {
	return func(p *serviceParams) {
		on := true
		p.mark("WithSSL")
		p.ssl, p.cert, p.key = &on, string(certPEM), string(keyPEM)
	}
}

// WithoutSSL turns TLS off (UpdateService): the service restarts on the same port and drops
// its certificate and keys.
func WithoutSSL() ServiceOption {
	return func(p *serviceParams) {
		off := false
		p.mark("WithoutSSL")
		p.ssl, p.cert, p.key = &off, "", ""
	}
}

// WithKeys gives the two keys instead of generated ones (CreateService with WithSSL; ""
// for one keeps it generated).
func WithKeys(primary, secondary string) ServiceOption {
	return func(p *serviceParams) { p.mark("WithKeys"); p.primary, p.secondary = primary, secondary }
}

// WithReplicas sets the number of replicas: CreateService (default 1), UpdateService (scale),
// ExportKubernetes (the Deployment's; default the service's).
func WithReplicas(n int) ServiceOption {
	return func(p *serviceParams) { p.mark("WithReplicas"); p.replicas = &n }
}

// WithModel names a registered model (an id, or a bare name: its latest version):
// UpdateService (serve another model; a restart on the same port) and ListServices (only its
// services).
func WithModel(modelID string) ServiceOption {
	return func(p *serviceParams) { p.mark("WithModel"); p.model = modelID }
}

// WithImage sets the reference-server image of the exported Deployment (ExportKubernetes;
// default the manager's --image).
func WithImage(image string) ServiceOption {
	return func(p *serviceParams) { p.mark("WithImage"); p.image = image }
}

// A ModelOption is an optional parameter of RegisterModel.
type ModelOption func(*serviceParams)

// WithDescription sets a model's description (RegisterModel).
func WithDescription(text string) ModelOption {
	return func(p *serviceParams) { p.description = text }
}

// WithTags sets a model's tags (RegisterModel).
func WithTags(tags map[string]string) ModelOption {
	return func(p *serviceParams) {
		p.tags = make(map[string]string, len(tags))
		for k, v := range tags {
			p.tags[k] = v
		}
	}
}
