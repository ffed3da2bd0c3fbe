// Package shared hands the scoring client's connection pieces (package fpgascore: TLS
// credentials and roots, the target's resolver, key checks, the mapping of a failed call to
// an *fpgascore.Error) to the module's other clients (package deployment), so they are
// written once, in fpgascore, without widening fpgascore's API. Package fpgascore sets the
// functions in its init; a package using them imports fpgascore (it returns its errors), so
// they are always set.
package shared

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// RootSource says where the roots to trust come from.
type RootSource int

// The sources of the roots, as the scoring client's options set them.
const (
	// RootsDefault: the file named by GRPC_DEFAULT_SSL_ROOTS_FILE_PATH (read at once), else
	// the system roots.
	RootsDefault RootSource = iota
	// RootsPEM: only TLS.RootPEM (WithRootCAPEM); empty is refused.
	RootsPEM
	// RootsFile: only the certificates in TLS.RootFile (WithRootCAFile); an empty path is refused.
	RootsFile
)

// TLS is what a client's TLS options say.
type TLS struct {
	Source     RootSource
	RootPEM    []byte
	RootFile   string
	ServerName string // the name checked in the certificate (SNI, :authority); "" for the target's host
}

var (
	// TransportCredentials are the scoring client's TLS credentials for t: TLS 1.2 or later,
	// the roots t names, a refused certificate's error saying "certificate was not trusted".
	// Bad roots are an INVALID_ARGUMENT *fpgascore.Error.
	TransportCredentials func(t TLS) (credentials.TransportCredentials, error)
	// NewConn is grpc.NewClient reading "host:port" as the scoring client does (passthrough).
	NewConn func(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error)
	// CallError is the *fpgascore.Error of a failed call: its code and message (secrets
	// scrubbed), the request id from header or trailer, the TLS/plaintext mismatch and
	// untrusted-certificate messages (tls: whether the connection uses TLS).
	CallError func(err error, header, trailer metadata.MD, secrets []string, tls bool) error
	// CheckKey trims a key and refuses (INVALID_ARGUMENT, naming what, never the key) one that
	// is then empty or holds a character a header value cannot carry; "" stays "".
	CheckKey func(key, what string) (string, error)
)
