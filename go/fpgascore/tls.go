package fpgascore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
)

// RootsEnvVar names the environment variable that, when no roots are given explicitly,
// points to a PEM file whose certificates replace the system roots (as in gRPC's C core).
// It is read when NewClient runs.
const RootsEnvVar = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"

// rootPool resolves the roots to trust: explicit ones, else the env var's file, else nil
// (the system roots).
func rootPool(o *options) (*x509.CertPool, error) {
	var pemData []byte
	var source string
	switch o.rootSource {
	case rootsPEM:
		if len(o.rootPEM) == 0 {
			return nil, newError(codes.InvalidArgument, "WithRootCAPEM got no PEM data (did loading the CA bundle fail?); refusing to fall back to other roots")
		}
		pemData, source = o.rootPEM, "WithRootCAPEM"
	case rootsFile:
		if o.rootFile == "" {
			return nil, newError(codes.InvalidArgument, "WithRootCAFile got an empty path; refusing to fall back to other roots")
		}
		data, err := os.ReadFile(o.rootFile)
		if err != nil {
			return nil, newError(codes.InvalidArgument, "cannot read root certificates file %q: %v", o.rootFile, unwrapPathError(err))
		}
		pemData, source = data, fmt.Sprintf("root certificates file %q", o.rootFile)
	default:
		path := os.Getenv(RootsEnvVar)
		if path == "" {
			return nil, nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, newError(codes.InvalidArgument, "cannot read %s file %q: %v", RootsEnvVar, path, unwrapPathError(err))
		}
		pemData, source = data, fmt.Sprintf("%s file %q", RootsEnvVar, path)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, newError(codes.InvalidArgument, "%s holds no PEM certificate", source)
	}
	return pool, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// transportCredentials builds the client's TLS credentials.
func transportCredentials(o *options) (credentials.TransportCredentials, error) {
	pool, err := rootPool(o)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: o.serverNameOverride, MinVersion: tls.VersionTLS12}
	return &trustCredentials{TransportCredentials: credentials.NewTLS(cfg)}, nil
}

// trustCredentials wraps TLS credentials so a certificate the client does not trust ends
// in an error whose message says "certificate was not trusted" (the same in every client).
type trustCredentials struct {
	credentials.TransportCredentials
}

// ClientHandshake runs the TLS handshake and marks certificate verification failures.
func (c *trustCredentials) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, conn)
	if err != nil && isCertificateError(err) {
		return nil, nil, &untrustedError{err: err}
	}
	return out, info, err
}

// Clone keeps the wrapper.
func (c *trustCredentials) Clone() credentials.TransportCredentials {
	return &trustCredentials{TransportCredentials: c.TransportCredentials.Clone()}
}

// untrustedError is a handshake failure due to the server's certificate.
type untrustedError struct{ err error }

func (e *untrustedError) Error() string { return untrustedPhrase + ": " + e.err.Error() }
func (e *untrustedError) Unwrap() error { return e.err }

func isCertificateError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var constraint x509.ConstraintViolationError
	var insecure x509.InsecureAlgorithmError
	var root x509.SystemRootsError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) ||
		errors.As(err, &constraint) || errors.As(err, &insecure) || errors.As(err, &root) ||
		looksLikeCertFailure(err.Error())
}
