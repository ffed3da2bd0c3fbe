package fpgascore

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
)

// AuthorizationKey is the metadata key that carries the access token.
const AuthorizationKey = "authorization"

// secret is a string that never prints: fmt shows "<redacted>" for every verb.
type secret string

func (s secret) String() string   { return redactedIf(s != "") }
func (s secret) GoString() string { return redactedIf(s != "") }

// Format keeps the key out of every fmt verb, %v, %+v, %#v, %s and %q included.
func (s secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, redactedIf(s != "")) }

func redactedIf(set bool) string {
	if set {
		return "<redacted>"
	}
	return `""`
}

// AccessTokenCredentials are gRPC per-call credentials that send an fpgascore key as the
// "authorization" metadata value: the raw key, or "Bearer <key>" when Bearer is set. They
// require a secure transport (TLS) unless AllowInsecure is set, so grpc-go refuses to send
// the key over plaintext. Use them with a raw grpc.ClientConn:
//
//	conn, err := grpc.NewClient(addr,
//		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(nil, "")),
//		grpc.WithPerRPCCredentials(&fpgascore.AccessTokenCredentials{Key: key}))
//
// The Client type uses them internally. Printing them with fmt never shows the key.
type AccessTokenCredentials struct {
	// Key is the access token.
	Key string
	// Bearer sends "Bearer <key>" instead of the raw key.
	Bearer bool
	// AllowInsecure lets the key go over plaintext (a trusted network or a test server).
	AllowInsecure bool
}

var _ credentials.PerRPCCredentials = (*AccessTokenCredentials)(nil)

// GetRequestMetadata returns {"authorization": key} (or "Bearer <key>").
func (c *AccessTokenCredentials) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	return map[string]string{AuthorizationKey: authorizationValue(c.Key, c.Bearer)}, nil
}

// RequireTransportSecurity is true unless AllowInsecure is set.
func (c *AccessTokenCredentials) RequireTransportSecurity() bool { return !c.AllowInsecure }

// String describes the credentials without the key.
func (c AccessTokenCredentials) String() string {
	return fmt.Sprintf("AccessTokenCredentials{Key: %v, Bearer: %t, AllowInsecure: %t}",
		secret(c.Key), c.Bearer, c.AllowInsecure)
}

// GoString is String, so %#v never shows the key either.
func (c AccessTokenCredentials) GoString() string { return c.String() }

// Format prints String for every verb, so %v and %+v never show the key.
func (c AccessTokenCredentials) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

func authorizationValue(key string, bearer bool) string {
	if bearer {
		return "Bearer " + key
	}
	return key
}

// keyRing holds the primary and optional secondary key and which one calls use now.
type keyRing struct {
	creds  []*AccessTokenCredentials // 0, 1 or 2 entries
	active int32                     // index into creds, atomically
}

func newKeyRing(o *options) *keyRing {
	r := &keyRing{}
	for _, k := range []secret{o.primaryKey, o.secondaryKey} {
		if k != "" {
			r.creds = append(r.creds, &AccessTokenCredentials{Key: string(k), Bearer: o.bearer, AllowInsecure: o.allowInsecureKey})
		}
	}
	return r
}

// current returns the index and credentials of the key in use, or -1, nil without keys.
func (r *keyRing) current() (int, *AccessTokenCredentials) {
	if len(r.creds) == 0 {
		return -1, nil
	}
	i := int(atomic.LoadInt32(&r.active))
	return i, r.creds[i]
}

// other returns the index and credentials of the other key, or -1, nil without one.
func (r *keyRing) other(i int) (int, *AccessTokenCredentials) {
	if len(r.creds) < 2 || i < 0 {
		return -1, nil
	}
	j := 1 - i
	return j, r.creds[j]
}

// promote makes key j the one later calls use.
func (r *keyRing) promote(from, to int) {
	atomic.CompareAndSwapInt32(&r.active, int32(from), int32(to))
}

// secrets returns the keys, for scrubbing them from messages.
func (r *keyRing) secrets() []string {
	out := make([]string, 0, len(r.creds))
	for _, c := range r.creds {
		out = append(out, c.Key)
	}
	return out
}

// describe says which auth is configured, without keys.
func (r *keyRing) describe() string {
	if len(r.creds) == 0 {
		return "none"
	}
	s := "raw key"
	if r.creds[0].Bearer {
		s = "bearer key"
	}
	if len(r.creds) == 2 {
		s += " + secondary"
	}
	return strings.TrimSpace(s)
}

// String describes the ring without keys.
func (r keyRing) String() string { return "keyRing{" + r.describe() + "}" }

// Format prints String for every verb, so no fmt verb shows a key.
func (r keyRing) Format(f fmt.State, _ rune) { fmt.Fprint(f, r.String()) }

// checkKey trims a key's surrounding whitespace (a key read from a file keeps its newline)
// and refuses, with an INVALID_ARGUMENT *Error naming the problem and never the key, one
// that is then empty or holds a character a header value cannot carry. An unset key ("")
// stays unset.
func checkKey(key secret, name string) (secret, error) {
	if key == "" {
		return "", nil
	}
	trimmed := strings.TrimSpace(string(key))
	if trimmed == "" {
		return "", newError(codes.InvalidArgument, "%s is empty", name)
	}
	for i, r := range []rune(trimmed) {
		if r < 0x20 || r > 0x7e {
			return "", newError(codes.InvalidArgument, "%s holds a character that is not printable ASCII (U+%04X at position %d of %d); a key is sent as a header value",
				name, r, i+1, len([]rune(trimmed)))
		}
	}
	return secret(trimmed), nil
}
