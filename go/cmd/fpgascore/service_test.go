package main

// The service and model commands against the real manager (scripts/run-emulator manage,
// through testkit): create with SSL prints the address and the keys once, the other verbs,
// and their exit codes.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpgascore/fpgascore/go/fpgascore"
	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

func TestServiceCommands(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	m, err := testkit.StartManager(filepath.Join(dir, "manager"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	certs, err := testkit.MakeCerts(filepath.Join(dir, "certs"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FPGASCORE_ADMIN_TOKEN": m.Token, "FPGASCORE_MANAGER": m.Addr,
		"GIVEN_PRIMARY": "given-primary-key-0123456789"}
	cli := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr, func(k string) string { return env[k] })
		return code, stdout.String(), stderr.String()
	}
	expect := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := cli(args...)
		if code != want {
			t.Fatalf("fpgascore %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout + stderr
	}

	if out := expect(0, "model", "register", "--name", "resnet50", "--description", "emulated", "--tag", "team=vision"); out != "model resnet50:1 registered\n" {
		t.Fatalf("model register: %q", out)
	}
	var models []map[string]any
	if err := json.Unmarshal([]byte(expect(0, "model", "list", "--json")), &models); err != nil || len(models) != 1 ||
		models[0]["id"] != "resnet50:1" || models[0]["tags"].(map[string]any)["team"] != "vision" {
		t.Fatalf("model list --json: %v %v", models, err)
	}

	// create --ssl prints the address and both keys, once; they score.
	out := expect(0, "service", "create", "--name", "demo", "--ssl", "--cert", certs.Server.Cert, "--key", certs.Server.Key,
		"--primary-key-env", "GIVEN_PRIMARY")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "service demo (svc_") || !strings.Contains(lines[0], ": RUNNING at 127.0.0.1:") ||
		!strings.HasSuffix(lines[0], "SSL on, model resnet50:1, 1 replica") || lines[1] != "primary key:   given-primary-key-0123456789" ||
		!strings.HasPrefix(lines[2], "secondary key: ") || len(lines[2]) < len("secondary key: ")+40 {
		t.Fatalf("service create:\n%s", out)
	}
	secondary := strings.TrimPrefix(lines[2], "secondary key: ")
	address := strings.TrimSuffix(strings.Fields(strings.SplitN(lines[0], " at ", 2)[1])[0], ",")
	client, err := fpgascore.NewClient(address, fpgascore.WithRootCAFile(certs.CA), fpgascore.WithAccessToken(secondary))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	image, err := os.ReadFile(filepath.Join(root, "conformance", "testdata", "images", "gradient.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.ScoreImage(context.Background(), image); err != nil {
		t.Fatalf("scoring with the printed secondary key at the printed address: %v", err)
	}

	// get shows no keys; keys and regenerate-keys print them.
	if out := expect(0, "service", "get", "demo"); strings.Contains(out, "key") || !strings.Contains(out, address) {
		t.Fatalf("service get: %s", out)
	}
	if out := expect(0, "service", "keys", "demo"); !strings.Contains(out, secondary) {
		t.Fatalf("service keys: %s", out)
	}
	var keys map[string]string
	if err := json.Unmarshal([]byte(expect(0, "service", "regenerate-keys", "demo", "--type", "secondary", "--json")), &keys); err != nil ||
		keys["primary_key"] != "given-primary-key-0123456789" || keys["secondary_key"] == secondary || keys["secondary_key"] == "" {
		t.Fatalf("regenerate-keys --json: %v %v", keys, err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(expect(0, "service", "list", "--json")), &list); err != nil || len(list) != 1 ||
		list[0]["name"] != "demo" || list[0]["ssl_enabled"] != true || list[0]["primary_key"] != nil {
		t.Fatalf("service list --json: %v %v", list, err)
	}
	if out := expect(0, "service", "update", "demo", "--replicas", "2", "--json"); !strings.Contains(out, `"num_replicas": 2`) {
		t.Fatalf("service update --replicas 2: %s", out)
	}
	manifests := filepath.Join(dir, "demo.yaml")
	expect(0, "service", "export", "--kubernetes", "demo", "-o", manifests)
	if info, err := os.Stat(manifests); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the manifests file: %v %v", info, err)
	}

	// Refusals: the manager's (1), usage and configuration (2).
	if out := expect(1, "service", "get", "missing"); !strings.Contains(out, "NOT_FOUND") {
		t.Fatalf("a missing service: %s", out)
	}
	if out := expect(1, "service", "create", "--name", "demo"); !strings.Contains(out, "ALREADY_EXISTS") {
		t.Fatalf("an existing name: %s", out)
	}
	expect(2, "service", "get")
	expect(2, "service", "frobnicate", "demo")
	expect(2, "service", "regenerate-keys", "demo", "--type", "tertiary")
	expect(2, "service", "get", "demo", "--replicas", "2")
	expect(2, "service", "create", "--name", "x", "--cert", certs.Server.Cert, "--key", certs.Server.Key)
	delete(env, "FPGASCORE_ADMIN_TOKEN")
	if out := expect(2, "service", "list"); !strings.Contains(out, "FPGASCORE_ADMIN_TOKEN") {
		t.Fatalf("no token: %s", out)
	}
	env["WRONG"] = "wrong-admin-token-0123456789"
	if out := expect(1, "service", "list", "--admin-token-env", "WRONG"); !strings.Contains(out, "UNAUTHENTICATED") || strings.Contains(out, env["WRONG"]) {
		t.Fatalf("a wrong token: %s", out)
	}
	env["FPGASCORE_ADMIN_TOKEN"] = m.Token

	if out := expect(0, "service", "delete", "demo"); out != "service demo deleted\n" {
		t.Fatalf("service delete: %q", out)
	}
	if out := expect(0, "service", "list"); out != "" {
		t.Fatalf("service list after the delete: %q", out)
	}
}
