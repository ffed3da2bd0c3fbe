package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fpgascore/fpgascore/go/internal/benchserver"
	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

// startNull serves the benchmark's null server on 127.0.0.1 for the test and returns its port.
func startNull(t *testing.T, cfg benchserver.Config) int {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", 0
	srv, lis, err := benchserver.New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().(*net.TCPAddr).Port
}

// shortPlan is a plan as bench/clients.py makes it, small: side a the client, side b the stub,
// two workers, phases of a few calls in the order a b b a.
func shortPlan(port int, payload, image string) map[string]any {
	return map[string]any{
		"host": "127.0.0.1", "port": port, "tls": false, "ca": nil, "key_env": nil,
		"payload": payload, "image": image, "concurrency": 2, "warmup": 1,
		"sides": []map[string]any{{"name": "a", "mode": "client"}, {"name": "b", "mode": "stub"}},
		"phases": []map[string]any{{"side": "a", "calls_per_worker": 2}, {"side": "b", "calls_per_worker": 2},
			{"side": "b", "calls_per_worker": 3}, {"side": "a", "calls_per_worker": 1}},
	}
}

// runWorker runs the worker on the plan (a JSON object, or any line): exit code, stdout, stderr.
func runWorker(t *testing.T, plan any) (int, string, string) {
	t.Helper()
	line, ok := plan.(string)
	if !ok {
		b, err := json.Marshal(plan)
		if err != nil {
			t.Fatal(err)
		}
		line = string(b)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), strings.NewReader(line+"\n"), &out, &errOut)
	return code, out.String(), errOut.String()
}

func testImage(t *testing.T) string {
	img := filepath.Join(t.TempDir(), "large.jpg")
	if err := os.WriteFile(img, bytes.Repeat([]byte{0xd8}, 150*1024), 0o600); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestWorkerReportsEveryPlannedCall runs the plan of each payload against the null server:
// one report, with one entry per planned phase, its side and one latency per call.
func TestWorkerReportsEveryPlannedCall(t *testing.T) {
	port, img := startNull(t, benchserver.Config{}), testImage(t)
	for _, payload := range []string{"jpeg", "batch8", "tensor"} {
		code, out, errOut := runWorker(t, shortPlan(port, payload, img))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", payload, code, errOut)
		}
		var rep report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || strings.Count(out, "\n") != 1 {
			t.Fatalf("%s: %v: %q", payload, err, out)
		}
		var got []string
		for _, ph := range rep.Phases {
			got = append(got, ph.Side+strconv.Itoa(len(ph.LatenciesMs)))
			if ph.WallMs <= 0 || ph.CPUMs < 0 {
				t.Errorf("%s: phase %+v", payload, ph)
			}
		}
		if rep.Language != "go" || strings.Join(got, " ") != "a4 b4 b6 a2" {
			t.Errorf("%s: language %q, phases %v, want a4 b4 b6 a2", payload, rep.Language, got)
		}
	}
}

// TestWorkerTLSAndKey: over TLS the worker's calls carry the key key_env names; the wrong key
// fails the run.
func TestWorkerTLSAndKey(t *testing.T) {
	certs, err := testkit.MakeCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	port := startNull(t, benchserver.Config{TLS: true, CertFile: certs.Server.Cert, KeyFile: certs.Server.Key, AccessKey: "k3y"})
	plan := shortPlan(port, "jpeg", testImage(t))
	plan["tls"], plan["ca"], plan["key_env"] = true, certs.CA, "BENCH_WORKER_TEST_KEY"
	t.Setenv("BENCH_WORKER_TEST_KEY", "k3y")
	if code, _, errOut := runWorker(t, plan); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Setenv("BENCH_WORKER_TEST_KEY", "wrong-key")
	code, out, errOut := runWorker(t, plan)
	if code != 1 || out != "" || !strings.Contains(strings.ToLower(errOut), "unauthenticated") || strings.Contains(errOut, "wrong-key") {
		t.Errorf("wrong key: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestWorkerFailedCallExits1(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close() // nobody listens there now
	code, out, errOut := runWorker(t, shortPlan(port, "tensor", ""))
	if code != 1 || out != "" || !strings.Contains(errOut, "call failed") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestWorkerBadPlanExits2(t *testing.T) {
	for _, c := range []struct {
		spoil func(map[string]any) any
		want  string
	}{
		{func(map[string]any) any { return "not json" }, "not one JSON object"},
		{func(p map[string]any) any { delete(p, "concurrency"); return p }, "'concurrency'"},
		{func(p map[string]any) any { p["payload"] = "png"; return p }, "'payload'"},
		{func(p map[string]any) any { p["key_env"] = "HOME"; return p }, "need 'tls'"},
		{func(p map[string]any) any { p["sides"].([]map[string]any)[1]["mode"] = "raw"; return p }, "mode client or stub"},
		{func(p map[string]any) any { p["sides"].([]map[string]any)[1]["name"] = "a"; return p }, "distinct names"},
		{func(p map[string]any) any { p["phases"].([]map[string]any)[0]["side"] = "c"; return p }, "name a side"},
		{func(p map[string]any) any { p["phases"].([]map[string]any)[1]["calls_per_worker"] = 0; return p }, "calls_per_worker >= 1"},
	} {
		code, out, errOut := runWorker(t, c.spoil(shortPlan(1, "jpeg", "x.jpg")))
		if code != 2 || out != "" || !strings.Contains(errOut, "bad plan") || !strings.Contains(errOut, c.want) {
			t.Errorf("want exit 2 and %q: exit %d, stdout %q, stderr %q", c.want, code, out, errOut)
		}
	}
}
