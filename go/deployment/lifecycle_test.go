package deployment_test

// The seed's lifecycle, end to end, in Go (tests/deployment/test_lifecycle.py's, process
// runtime): create with SSL and a self-signed certificate → read the keys → score with the
// primary (roots from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH) → regenerate the secondary while
// calls run with the primary (none fails) → the old secondary is refused, the new one works
// → update to a new certificate (a fresh client trusting the new root works) → scale to 3
// replicas behind nginx (same port; fresh connections reach each) → crash and restart the
// manager (same service, port, replicas and keys, still scoring; adopted, not restarted) →
// delete (servers and balancer gone, port closed).

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpgascore/fpgascore/go/deployment"
	"github.com/fpgascore/fpgascore/go/fpgascore"
	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

// caller scores back to back with one client until stopped, recording each call's span and
// every failure.
type caller struct {
	client   *fpgascore.Client
	mu       sync.Mutex
	spans    [][2]time.Time
	failures []error
	halt     chan struct{}
	done     chan struct{}
}

func startCaller(c *fpgascore.Client) *caller {
	k := &caller{client: c, halt: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		for {
			select {
			case <-k.halt:
				return
			default:
			}
			start := time.Now()
			err := score(k.client)
			k.mu.Lock()
			k.spans = append(k.spans, [2]time.Time{start, time.Now()})
			if err != nil {
				k.failures = append(k.failures, err)
			}
			k.mu.Unlock()
		}
	}()
	return k
}

// waitCalls waits until n more calls than now have ended (or one failed).
func (k *caller) waitCalls(n int) {
	k.mu.Lock()
	want := len(k.spans) + n
	k.mu.Unlock()
	for {
		k.mu.Lock()
		enough := len(k.spans) >= want || len(k.failures) > 0
		k.mu.Unlock()
		if enough {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (k *caller) stop() ([]error, [][2]time.Time) {
	close(k.halt)
	<-k.done
	return k.failures, k.spans
}

func TestLifecycle(t *testing.T) {
	m := startManager(t, "lifecycle")
	first, err := testkit.MakeCerts(filepath.Join(testDir, "lifecycle-tls-first"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := testkit.MakeCerts(filepath.Join(testDir, "lifecycle-tls-second"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deployments, err := deployment.NewClient(m.Addr, deployment.WithAdminToken(m.Token))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { deployments.Close() }()

	// Register and create with SSL and a self-signed certificate; the keys come back once.
	model, err := deployments.RegisterModel(ctx, "resnet50", deployment.WithDescription("the emulated ResNet-50"))
	if err != nil || model.ID != "resnet50:1" {
		t.Fatalf("RegisterModel: %+v, %v", model, err)
	}
	service, err := deployments.CreateService(ctx, "lifecycle", model.ID,
		deployment.WithSSL(readFile(t, first.SelfSigned.Cert), readFile(t, first.SelfSigned.Key)))
	if err != nil {
		t.Fatal(err)
	}
	if service.State != deployment.StateRunning || service.Runtime != "process" || service.IPAddress != "127.0.0.1" ||
		service.Port <= 0 || !service.SSLEnabled || service.ModelID != "resnet50:1" || service.NumReplicas != 1 ||
		len(service.PrimaryKey) < 40 || len(service.SecondaryKey) < 40 || service.PrimaryKey == service.SecondaryKey {
		t.Fatalf("created %v", service)
	}
	keys, err := deployments.GetAuthKeys(ctx, "lifecycle")
	if err != nil || keys.PrimaryKey != service.PrimaryKey || keys.SecondaryKey != service.SecondaryKey {
		t.Fatalf("GetAuthKeys: %v", err)
	}

	// Score with the primary key; the root comes from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
	t.Setenv(fpgascore.RootsEnvVar, first.SelfSigned.Cert)
	mustScore(t, scorer(t, service, keys.PrimaryKey), "the primary key, roots from "+fpgascore.RootsEnvVar)

	// Regenerate the secondary while calls run with the primary: none fails; the old
	// secondary is refused as soon as the regeneration has answered, the new one works.
	stale := scorer(t, service, keys.SecondaryKey)
	mustScore(t, stale, "the secondary key before its regeneration")
	k := startCaller(scorer(t, service, keys.PrimaryKey))
	k.waitCalls(3)
	started := time.Now()
	rotated, err := deployments.RegenerateAuthKeys(ctx, service.ID, deployment.Secondary)
	finished := time.Now()
	if err != nil {
		k.stop()
		t.Fatal(err)
	}
	staleErr := score(stale)
	k.waitCalls(3)
	failures, spans := k.stop()
	if len(failures) > 0 {
		t.Fatalf("%d calls with the primary key failed during the regeneration; the first: %v", len(failures), failures[0])
	}
	during := 0
	for _, s := range spans {
		if !s[0].After(finished) && !s[1].Before(started) {
			during++
		}
	}
	if during == 0 {
		t.Fatal("no call ran while the secondary key was regenerated")
	}
	if !errors.Is(staleErr, deployment.ErrUnauthenticated) {
		t.Fatalf("the old secondary key after its regeneration: %v", staleErr)
	}
	if rotated.PrimaryKey != keys.PrimaryKey || rotated.SecondaryKey == keys.SecondaryKey {
		t.Fatal("RegenerateAuthKeys(Secondary) did not replace just the secondary key")
	}
	mustScore(t, scorer(t, service, rotated.SecondaryKey), "the new secondary key")

	// A new certificate, from another CA: swapped in on the same port; a fresh client
	// trusting the new root works, one trusting the old root no longer does.
	updated, err := deployments.UpdateService(ctx, "lifecycle",
		deployment.WithSSL(readFile(t, second.Server.Cert), readFile(t, second.Server.Key)))
	if err != nil {
		t.Fatal(err)
	}
	if updated.Port != service.Port || updated.State != deployment.StateRunning || updated.PrimaryKey != "" ||
		updated.CertificateSHA256 == "" || updated.CertificateSHA256 == service.CertificateSHA256 {
		t.Fatalf("updated %v (sha256 %s, was %s)", updated, updated.CertificateSHA256, service.CertificateSHA256)
	}
	t.Setenv(fpgascore.RootsEnvVar, second.CA)
	mustScore(t, scorer(t, service, rotated.PrimaryKey), "the new certificate")
	err = score(scorer(t, service, rotated.PrimaryKey, fpgascore.WithRootCAFile(first.SelfSigned.Cert)))
	if err == nil || !strings.Contains(err.Error(), "certificate was not trusted") {
		t.Fatalf("the old root after the certificate swap: %v", err)
	}

	// Scale to 3 replicas behind the service's one address.
	scaled, err := deployments.UpdateService(ctx, "lifecycle", deployment.WithReplicas(3))
	if err != nil {
		t.Fatalf("scaling to 3 replicas: %v", err)
	}
	if scaled.NumReplicas != 3 || scaled.Port != service.Port || scaled.State != deployment.StateRunning || scaled.PrimaryKey != "" {
		t.Fatalf("scaled %v", scaled)
	}
	status, err := deployments.GetService(ctx, "lifecycle")
	if err != nil || len(status.Replicas) != 3 {
		t.Fatalf("GetService of 3 replicas: %v, %v", status, err)
	}
	for _, r := range status.Replicas {
		if r.Health != deployment.ReplicaServing {
			t.Fatalf("replica %d: %s %s", r.Index, r.Health, r.HealthMessage)
		}
	}
	if pids := m.BalancerPIDs(); len(pids) != 1 || len(m.ServerPIDs()) != 3 {
		t.Fatalf("3 replicas: balancers %v, servers %v", pids, m.ServerPIDs())
	}
	// The balancer spreads connections: fresh clients reach every replica, each with the keys
	// and the certificate.
	for i := 0; i < 2*3; i++ {
		key := rotated.PrimaryKey
		if i%2 == 1 {
			key = rotated.SecondaryKey
		}
		mustScore(t, scorer(t, service, key), "3 replicas")
	}
	status, err = deployments.GetService(ctx, "lifecycle")
	if err != nil || len(status.Replicas) != 3 {
		t.Fatalf("GetService of 3 replicas: %v, %v", status, err)
	}
	for _, r := range status.Replicas {
		if r.ImagesScored < 1 {
			t.Fatalf("replica %d scored nothing of 6 fresh connections: %+v", r.Index, status.Replicas)
		}
	}

	// The manager crashes and comes back on the same state directory and port: nothing is
	// lost, and the service never needed it.
	deployments.Close()
	managerPort := m.Port
	m.Kill()
	mustScore(t, scorer(t, service, rotated.PrimaryKey), "the service without its manager")
	earlier := len(m.Log())
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	restartedLog := m.Log()[earlier:]
	if m.Port != managerPort {
		t.Fatalf("the manager came back on port %d, not its port %d", m.Port, managerPort)
	}
	if !strings.Contains(restartedLog, `"event":"service.adopted"`) || strings.Contains(restartedLog, `"event":"service.started"`) {
		t.Fatalf("the restarted manager did not adopt the service as it ran:\n%s", restartedLog)
	}
	if deployments, err = deployment.NewClient(m.Addr, deployment.WithAdminToken(m.Token)); err != nil {
		t.Fatal(err)
	}
	again, err := deployments.GetService(ctx, "lifecycle")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != service.ID || again.Port != service.Port || again.State != deployment.StateRunning ||
		again.CertificateSHA256 != updated.CertificateSHA256 || again.NumReplicas != 3 || len(again.Replicas) != 3 {
		t.Fatalf("after the restart %v", again)
	}
	after, err := deployments.GetAuthKeys(ctx, "lifecycle")
	if err != nil || *after != *rotated {
		t.Fatalf("the keys after the restart differ (%v)", err)
	}
	if list, err := deployments.ListServices(ctx); err != nil || len(list) != 1 || list[0].ID != service.ID {
		t.Fatalf("ListServices after the restart: %v, %v", list, err)
	}
	mustScore(t, scorer(t, again, rotated.SecondaryKey), "the secondary key after the restart")
	for _, secret := range []string{keys.PrimaryKey, keys.SecondaryKey, rotated.SecondaryKey, m.Token} {
		if strings.Contains(m.Log(), secret) {
			t.Fatal("the manager logged a key or its token")
		}
	}

	// Delete: gone from the API, port closed, no server left.
	if err := deployments.DeleteService(ctx, "lifecycle"); err != nil {
		t.Fatal(err)
	}
	if _, err := deployments.GetService(ctx, "lifecycle"); !errors.Is(err, deployment.ErrNotFound) {
		t.Fatalf("GetService after the delete: %v", err)
	}
	if list, err := deployments.ListServices(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListServices after the delete: %v, %v", list, err)
	}
	if !portClosed(service.Port) {
		t.Fatalf("port %d still open after the delete", service.Port)
	}
	if pids := append(m.ServerPIDs(), m.BalancerPIDs()...); len(pids) != 0 {
		t.Fatalf("servers or balancers left after the delete: %v", pids)
	}
}
