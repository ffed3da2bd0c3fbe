package fpgascore

import (
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/fpgascore/fpgascore/go/internal/shared"
)

// The pieces of this client the module's other clients reuse (package deployment), through
// internal/shared: one TLS, roots, resolver, key and error code for all of them.
func init() {
	shared.TransportCredentials = func(t shared.TLS) (credentials.TransportCredentials, error) {
		o := defaultOptions()
		o.tls, o.rootPEM, o.rootFile, o.serverNameOverride = true, t.RootPEM, t.RootFile, t.ServerName
		switch t.Source {
		case shared.RootsPEM:
			o.rootSource = rootsPEM
		case shared.RootsFile:
			o.rootSource = rootsFile
		default:
			o.rootSource = rootsDefault
		}
		return transportCredentials(&o)
	}
	shared.NewConn = newConn
	shared.CallError = func(err error, header, trailer metadata.MD, secrets []string, tls bool) error {
		e := errorFromCall(err, header, trailer, secrets)
		e.classifyMismatch(tls)
		return e
	}
	shared.CheckKey = func(key, what string) (string, error) {
		checked, err := checkKey(secret(key), what)
		return string(checked), err
	}
}
