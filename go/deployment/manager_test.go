package deployment_test

// The client against the real manager (scripts/run-emulator manage --runtime process): every
// operation, and the manager's refusals as typed errors.

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fpgascore/fpgascore/go/deployment"
	"github.com/fpgascore/fpgascore/go/fpgascore"
)

// leaf is the first certificate of a PEM chain file.
func leaf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func fingerprintOf(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

func TestManagerModels(t *testing.T) {
	m := startManager(t, "models")
	c := deployments(t, m)
	ctx := context.Background()
	model, err := c.RegisterModel(ctx, "resnet50", deployment.WithDescription("the emulated ResNet-50"),
		deployment.WithTags(map[string]string{"team": "vision"}))
	if err != nil {
		t.Fatal(err)
	}
	if model.ID != "resnet50:1" || model.Name != "resnet50" || model.Version != 1 || model.Description != "the emulated ResNet-50" ||
		model.Tags["team"] != "vision" || model.CreatedAt.IsZero() {
		t.Fatalf("registered %+v", *model)
	}
	again, err := c.RegisterModel(ctx, "resnet50")
	if err != nil || again.ID != "resnet50:2" || again.Version != 2 {
		t.Fatalf("second registration: %+v, %v", again, err)
	}
	latest, err := c.GetModel(ctx, "resnet50")
	if err != nil || latest.ID != "resnet50:2" {
		t.Fatalf("GetModel by name: %+v, %v", latest, err)
	}
	first, err := c.GetModel(ctx, "resnet50:1")
	if err != nil || first.Description != "the emulated ResNet-50" {
		t.Fatalf("GetModel by id: %+v, %v", first, err)
	}
	models, err := c.ListModels(ctx)
	if err != nil || len(models) != 2 || models[0].ID != "resnet50:1" || models[1].ID != "resnet50:2" {
		t.Fatalf("ListModels: %+v, %v", models, err)
	}
	_, err = c.GetModel(ctx, "inception:1")
	if !errors.Is(err, deployment.ErrNotFound) || status.Code(err) != codes.NotFound {
		t.Fatalf("unknown model: %v", err)
	}
	_, err = c.RegisterModel(ctx, "not a name!")
	if !errors.Is(err, deployment.ErrInvalidArgument) {
		t.Fatalf("bad model name: %v", err)
	}
}

func TestManagerServices(t *testing.T) {
	m := startManager(t, "services")
	c := deployments(t, m)
	ctx := context.Background()
	if _, err := c.RegisterModel(ctx, "resnet50"); err != nil {
		t.Fatal(err)
	}
	cert, key := readFile(t, testCerts.Server.Cert), readFile(t, testCerts.Server.Key)

	// Without SSL: no keys, and a scoring client needs none.
	plain, err := c.CreateService(ctx, "plain", "resnet50")
	if err != nil {
		t.Fatal(err)
	}
	if plain.State != deployment.StateRunning || plain.IPAddress != "127.0.0.1" || plain.Port <= 0 || plain.SSLEnabled ||
		plain.NumReplicas != 1 || plain.ModelID != "resnet50:1" || plain.Runtime != "process" ||
		!strings.HasPrefix(plain.ID, "svc_") || plain.PrimaryKey != "" || plain.SecondaryKey != "" || plain.CertificateSHA256 != "" {
		t.Fatalf("plain service: %+v", plain)
	}
	mustScore(t, scorer(t, plain, ""), "the plaintext service")
	_, err = c.GetAuthKeys(ctx, "plain")
	if codeOf(t, err) != codes.FailedPrecondition {
		t.Fatalf("keys of a service without SSL: %v", err)
	}

	// With SSL: generated keys, the certificate's fingerprint and expiry.
	secure, err := c.CreateService(ctx, "secure", "resnet50:1", deployment.WithSSL(cert, key))
	if err != nil {
		t.Fatal(err)
	}
	server := leaf(t, testCerts.Server.Cert)
	if secure.State != deployment.StateRunning || !secure.SSLEnabled || secure.Port == plain.Port ||
		len(secure.PrimaryKey) < 40 || len(secure.SecondaryKey) < 40 || secure.PrimaryKey == secure.SecondaryKey ||
		secure.CertificateSHA256 != fingerprintOf(server) || !secure.CertificateNotAfter.Equal(server.NotAfter) {
		t.Fatalf("secure service: %+v (certificate %s, not after %s)", secure, fingerprintOf(server), server.NotAfter)
	}
	keys, err := c.GetAuthKeys(ctx, secure.ID)
	if err != nil || keys.PrimaryKey != secure.PrimaryKey || keys.SecondaryKey != secure.SecondaryKey {
		t.Fatalf("GetAuthKeys: %v", err)
	}
	mustScore(t, scorer(t, secure, keys.PrimaryKey, fpgascore.WithRootCAFile(testCerts.CA)), "the primary key")
	mustScore(t, scorer(t, secure, keys.SecondaryKey, fpgascore.WithRootCAFile(testCerts.CA)), "the secondary key")

	// Regenerate: the other key stays, the old one is refused, the new one works.
	stale := scorer(t, secure, keys.SecondaryKey, fpgascore.WithRootCAFile(testCerts.CA))
	rotated, err := c.RegenerateAuthKeys(ctx, "secure", deployment.Secondary)
	if err != nil || rotated.PrimaryKey != keys.PrimaryKey || rotated.SecondaryKey == keys.SecondaryKey || rotated.SecondaryKey == "" {
		t.Fatalf("RegenerateAuthKeys: %v", err)
	}
	if err := score(stale); !errors.Is(err, deployment.ErrUnauthenticated) {
		t.Fatalf("the old secondary key: %v", err)
	}
	mustScore(t, scorer(t, secure, rotated.SecondaryKey, fpgascore.WithRootCAFile(testCerts.CA)), "the new secondary key")
	if _, err := c.RegenerateAuthKeys(ctx, "secure", deployment.KeyType(7)); codeOf(t, err) != codes.InvalidArgument {
		t.Fatalf("key type 7: %v", err)
	}

	// Given keys.
	keyed, err := c.CreateService(ctx, "keyed", "resnet50", deployment.WithSSL(cert, key),
		deployment.WithKeys("given-primary-key-0123456789", ""))
	if err != nil || keyed.PrimaryKey != "given-primary-key-0123456789" || len(keyed.SecondaryKey) < 40 {
		t.Fatalf("given keys: %v", err)
	}

	// Update: a new certificate (no restart, no new keys); SSL on for the plain one (keys issued).
	updated, err := c.UpdateService(ctx, "secure", deployment.WithSSL(readFile(t, testCerts.SelfSigned.Cert), readFile(t, testCerts.SelfSigned.Key)))
	if err != nil {
		t.Fatal(err)
	}
	if updated.Port != secure.Port || updated.State != deployment.StateRunning || updated.PrimaryKey != "" ||
		updated.CertificateSHA256 != fingerprintOf(leaf(t, testCerts.SelfSigned.Cert)) {
		t.Fatalf("updated: %+v", updated)
	}
	mustScore(t, scorer(t, secure, rotated.PrimaryKey, fpgascore.WithRootCAFile(testCerts.SelfSigned.Cert)), "the new certificate")
	turnedOn, err := c.UpdateService(ctx, plain.ID, deployment.WithSSL(cert, key))
	if err != nil || !turnedOn.SSLEnabled || turnedOn.Port != plain.Port || len(turnedOn.PrimaryKey) < 40 {
		t.Fatalf("SSL on: %+v, %v", turnedOn, err)
	}
	mustScore(t, scorer(t, turnedOn, turnedOn.PrimaryKey, fpgascore.WithRootCAFile(testCerts.CA)), "SSL turned on")
	turnedOff, err := c.UpdateService(ctx, "plain", deployment.WithoutSSL())
	if err != nil || turnedOff.SSLEnabled || turnedOff.PrimaryKey != "" || turnedOff.CertificateSHA256 != "" {
		t.Fatalf("SSL off: %+v, %v", turnedOff, err)
	}
	mustScore(t, scorer(t, turnedOff, ""), "SSL turned off")

	// Get and list.
	got, err := c.GetService(ctx, "secure")
	if err != nil || got.ID != secure.ID || got.PrimaryKey != "" || len(got.Replicas) != 1 ||
		got.Replicas[0].Health != deployment.ReplicaServing || got.Replicas[0].CallsByCode["OK"] < 1 || got.Replicas[0].ObservedAt.IsZero() {
		t.Fatalf("GetService: %+v, %v", got, err)
	}
	list, err := c.ListServices(ctx)
	if err != nil || len(list) != 3 || list[0].ID != plain.ID || list[1].ID != secure.ID || list[2].ID != keyed.ID {
		t.Fatalf("ListServices: %v, %v", list, err)
	}
	if list, err := c.ListServices(ctx, deployment.WithModel("resnet50:1")); err != nil || len(list) != 3 {
		t.Fatalf("ListServices of resnet50:1: %v, %v", list, err)
	}

	// Export.
	manifests, err := c.ExportKubernetes(ctx, "secure", deployment.WithReplicas(2), deployment.WithImage("example.com/server:1"))
	if err != nil || !strings.Contains(manifests, `kind: "Deployment"`) || !strings.Contains(manifests, "replicas: 2") ||
		!strings.Contains(manifests, `image: "example.com/server:1"`) {
		t.Fatalf("ExportKubernetes: %v\n%s", err, manifests)
	}

	// Refusals.
	_, err = c.CreateService(ctx, "secure", "resnet50")
	if !errors.Is(err, deployment.ErrAlreadyExists) || status.Code(err) != codes.AlreadyExists || errors.Is(err, deployment.ErrNotFound) {
		t.Fatalf("an existing name: %v", err)
	}
	_, err = c.GetService(ctx, "missing")
	if !errors.Is(err, deployment.ErrNotFound) || errors.Is(err, deployment.ErrAlreadyExists) {
		t.Fatalf("GetService of a missing service: %v", err)
	}
	if err := c.DeleteService(ctx, "missing"); !errors.Is(err, deployment.ErrNotFound) {
		t.Fatalf("DeleteService of a missing service: %v", err)
	}
	_, err = c.CreateService(ctx, "other", "inception")
	if !errors.Is(err, deployment.ErrNotFound) {
		t.Fatalf("an unknown model: %v", err)
	}
	for name, opt := range map[string]deployment.ServiceOption{
		"not a certificate":            deployment.WithSSL([]byte("not a certificate"), key),
		"a key of another certificate": deployment.WithSSL(cert, readFile(t, testCerts.SelfSigned.Key)),
		"an expired certificate":       deployment.WithSSL(readFile(t, testCerts.Expired.Cert), readFile(t, testCerts.Expired.Key)),
	} {
		_, err := c.CreateService(ctx, "bad-pem", "resnet50", opt)
		var e *fpgascore.Error
		if !errors.As(err, &e) || e.Code != codes.InvalidArgument || e.Message == "" {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := c.GetService(ctx, "bad-pem"); !errors.Is(err, deployment.ErrNotFound) {
		t.Fatalf("a refused create left a service: %v", err)
	}

	// Delete: the port closes, the servers are gone.
	for _, s := range []*deployment.Service{plain, secure, keyed} {
		if err := c.DeleteService(ctx, s.Name); err != nil {
			t.Fatal(err)
		}
		if !portClosed(s.Port) {
			t.Fatalf("%s: port %d still open after the delete", s.Name, s.Port)
		}
	}
	if list, err := c.ListServices(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after the deletes: %v, %v", list, err)
	}
	if pids := m.ServerPIDs(); len(pids) != 0 {
		t.Fatalf("servers left: %v", pids)
	}
}

func TestManagerRefusesABadAdminToken(t *testing.T) {
	m := startManager(t, "token")
	wrong := "wrong-admin-token-0123456789"
	c := deployments(t, m, deployment.WithAdminToken(wrong))
	_, err := c.ListServices(context.Background())
	var e *fpgascore.Error
	if !errors.As(err, &e) || e.Code != codes.Unauthenticated || !errors.Is(err, deployment.ErrUnauthenticated) {
		t.Fatalf("a wrong admin token: %v", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), m.Token) {
		t.Fatalf("the error holds a token: %v", err)
	}
	// The right one, from the environment.
	t.Setenv(deployment.AdminTokenEnvVar, m.Token)
	env, err := deployment.NewClient(m.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if _, err := env.ListServices(context.Background()); err != nil {
		t.Fatalf("the token from %s: %v", deployment.AdminTokenEnvVar, err)
	}
	if strings.Contains(m.Log(), m.Token) || strings.Contains(m.Log(), wrong) {
		t.Fatal("the manager logged a token")
	}
}
