package deployment_test

// NewClient's checks (nothing is dialled) and what printing shows: never a token or a key.

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/fpgascore/fpgascore/go/deployment"
)

func TestNewClientRefusals(t *testing.T) {
	t.Setenv(deployment.AdminTokenEnvVar, "")
	for _, tc := range []struct {
		name    string
		address string
		opts    []deployment.Option
		code    codes.Code
		says    string
	}{
		{"not host:port", "127.0.0.1", nil, codes.InvalidArgument, "host:port"},
		{"no host", ":50055", nil, codes.InvalidArgument, "host:port"},
		{"an empty token (the variable set but empty)", "127.0.0.1:50055", nil, codes.InvalidArgument, "admin token is empty"},
		{"a blank token", "127.0.0.1:50055", []deployment.Option{deployment.WithAdminToken("  \n")}, codes.InvalidArgument, "admin token"},
		{"a token with a newline inside", "127.0.0.1:50055", []deployment.Option{deployment.WithAdminToken("abc\ndef-secret")}, codes.InvalidArgument, "not printable ASCII"},
		{"plaintext to another host", "10.1.2.3:50055", []deployment.Option{deployment.WithAdminToken("t0ken-0123456789")}, codes.FailedPrecondition, "not a loopback address"},
		{"plaintext to a name", "manager.example:50055", []deployment.Option{deployment.WithAdminToken("t0ken-0123456789")}, codes.FailedPrecondition, "WithTLS()"},
		{"an empty WithRootCAPEM", "10.1.2.3:50055", []deployment.Option{deployment.WithAdminToken("t0ken-0123456789"), deployment.WithRootCAPEM(nil)}, codes.InvalidArgument, "WithRootCAPEM"},
		{"a missing roots file", "10.1.2.3:50055", []deployment.Option{deployment.WithAdminToken("t0ken-0123456789"), deployment.WithRootCAFile("/nonexistent/ca.pem")}, codes.InvalidArgument, "/nonexistent/ca.pem"},
		{"a zero timeout", "127.0.0.1:50055", []deployment.Option{deployment.WithAdminToken("t0ken-0123456789"), deployment.WithTimeout(0)}, codes.InvalidArgument, "WithTimeout"},
		{"a zero response limit", "127.0.0.1:50055", []deployment.Option{deployment.WithAdminToken("t0ken-0123456789"), deployment.WithMaxResponseBytes(0)}, codes.InvalidArgument, "WithMaxResponseBytes"},
	} {
		c, err := deployment.NewClient(tc.address, tc.opts...)
		if err == nil {
			c.Close()
			t.Fatalf("%s: NewClient worked", tc.name)
		}
		if codeOf(t, err) != tc.code || !strings.Contains(err.Error(), tc.says) {
			t.Fatalf("%s: %v (want %v saying %q)", tc.name, err, tc.code, tc.says)
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "0123456789") {
			t.Fatalf("%s: the error holds the token: %v", tc.name, err)
		}
	}

	// No token at all.
	t.Setenv(deployment.AdminTokenEnvVar, "unset below")
	if err := os.Unsetenv(deployment.AdminTokenEnvVar); err != nil { // t.Setenv restores it
		t.Fatal(err)
	}
	if _, err := deployment.NewClient("127.0.0.1:50055"); codeOf(t, err) != codes.InvalidArgument || !strings.Contains(err.Error(), deployment.AdminTokenEnvVar) {
		t.Fatalf("no token: %v", err)
	}
}

func TestNewClientPlaintextOnlyToLoopback(t *testing.T) {
	for _, tc := range []struct {
		address string
		opts    []deployment.Option
	}{
		{"127.0.0.1:50055", nil},
		{"127.8.9.10:50055", nil},
		{"[::1]:50055", nil},
		{"localhost:50055", nil},
		{"LocalHost:50055", nil},
		{"10.1.2.3:50055", []deployment.Option{deployment.WithAllowInsecureKey()}},
		{"manager.example:50055", []deployment.Option{deployment.WithTLS()}},
	} {
		c, err := deployment.NewClient(tc.address, append(tc.opts, deployment.WithAdminToken("t0ken-0123456789"))...)
		if err != nil {
			t.Fatalf("%s: %v", tc.address, err)
		}
		c.Close()
	}
}

func TestPrintingShowsNoSecret(t *testing.T) {
	const token, primary, secondary = "admin-token-SECRET-1", "primary-key-SECRET-2", "secondary-key-SECRET-3"
	c, err := deployment.NewClient("127.0.0.1:50055", deployment.WithAdminToken(token))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := deployment.Service{ID: "svc_1", Name: "x", IPAddress: "127.0.0.1", Port: 1, PrimaryKey: primary, SecondaryKey: secondary}
	k := deployment.AuthKeys{PrimaryKey: primary, SecondaryKey: secondary}
	values := []interface{}{c, *c, s, &s, k, &k, []deployment.Service{s}, []*deployment.AuthKeys{&k},
		struct{ S deployment.Service }{s}, map[string]deployment.AuthKeys{"k": k}}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "SECRET") || strings.Contains(strings.ToLower(out), "5345435245") /* hex of SECRET */ {
				t.Fatalf("%s of %T shows a secret: %s", verb, v, out)
			}
		}
	}
	if out := fmt.Sprint(s); !strings.Contains(out, "<redacted>") || !strings.Contains(out, `"svc_1"`) {
		t.Fatalf("a Service prints as %s", out)
	}
	if out := fmt.Sprint(deployment.Service{}); strings.Contains(out, "<redacted>") {
		t.Fatalf("a Service without keys prints as %s", out)
	}
}
