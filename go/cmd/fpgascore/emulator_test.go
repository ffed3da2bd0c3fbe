package main

// The command against the real reference server (scripts/run-emulator through testkit,
// started once for this package's tests): any number of images in calls of -batch-size, in
// order, and what a failed call reports.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

var (
	serverOnce sync.Once
	server     *testkit.Emulator
	serverErr  error
)

// repoRoot is the folder holding scripts/run-emulator, walking up from the test's directory.
func repoRoot(t *testing.T) string {
	if root := testkit.RepoRoot(); root != "" {
		return root
	}
	if os.Getenv("FPGASCORE_REQUIRE_EMULATOR") == "1" {
		t.Fatal("reference server needed but scripts/run-emulator is missing")
	}
	t.Skip("no reference server (scripts/run-emulator missing)")
	return ""
}

// referenceServer returns the port of a plaintext reference server with its defaults
// (--max-batch 32, --queue-depth 32), started on first use and stopped by TestMain.
func referenceServer(t *testing.T) string {
	repoRoot(t)
	serverOnce.Do(func() {
		var dir string
		if dir, serverErr = os.MkdirTemp("", "fpgascore-cli-test-"); serverErr == nil {
			stopServer = func() { os.RemoveAll(dir) }
			if server, serverErr = testkit.StartEmulator(dir, "--conformance"); serverErr == nil {
				stopServer = func() { server.Stop(); os.RemoveAll(dir) }
			}
		}
	})
	if serverErr != nil {
		t.Fatalf("reference server: %v", serverErr)
	}
	return strconv.Itoa(server.Port)
}

var stopServer = func() {}

func TestMain(m *testing.M) {
	code := m.Run()
	stopServer()
	os.Exit(code)
}

// manyImages copies the test images, in turn, into count files named so that their order
// shows ("007-rings.jpg"); the image at corruptAt (if >= 0) is a truncated JPEG.
func manyImages(t *testing.T, count, corruptAt int) []string {
	root := repoRoot(t)
	names := []string{"checkerboard.png", "gradient.jpg", "large-150k.jpg", "rings.jpg", "tiny-noise.png"}
	dir := t.TempDir()
	files := make([]string, count)
	for i := range files {
		name := names[i%len(names)]
		if i == corruptAt {
			name = "corrupt.jpg"
		}
		data, err := os.ReadFile(filepath.Join(root, "conformance", "testdata", "images", name))
		if err != nil {
			t.Fatal(err)
		}
		files[i] = filepath.Join(dir, fmt.Sprintf("%03d-%s", i, name))
		if err := os.WriteFile(files[i], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// goldenTop1 is the best class of a file made by manyImages, from the golden vectors.
func goldenTop1(t *testing.T, file string) int {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "conformance", "testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]struct {
		Top5 [][2]float64 `json:"top5"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	return int(golden[strings.SplitN(filepath.Base(file), "-", 2)[1]].Top5[0][0])
}

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(append([]string{"score"}, args...), &out, &errOut, func(string) string { return "" })
	return code, out.String(), errOut.String()
}

func TestEmulatorFortyImagesInBatchesInOrder(t *testing.T) {
	port := referenceServer(t)
	files := manyImages(t, 40, -1)
	code, out, errOut := runCLI(append([]string{"-port", port, "-json"}, files...)...) // 8 per call
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc document
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Results) != 40 {
		t.Fatalf("%d results, %v", len(doc.Results), err)
	}
	requestIDs := map[string]bool{}
	for i, r := range doc.Results {
		if r.Image != files[i] || r.TopK[0].ClassID != goldenTop1(t, files[i]) || r.RequestID == nil || *r.RequestID == "" {
			t.Fatalf("result %d: %s class %d, want %s class %d", i, r.Image, r.TopK[0].ClassID, files[i], goldenTop1(t, files[i]))
		}
		requestIDs[*r.RequestID] = true
	}
	if len(requestIDs) != 5 {
		t.Fatalf("%d request ids, want 5 (one per call)", len(requestIDs))
	}
	code, out, errOut = runCLI(append([]string{"-port", port, "--batch-size", "7", "-top", "1"}, files...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 80 { // 5 calls of 7 and one of 5: nothing lost
		t.Fatalf("exit %d, %d lines: %s", code, len(lines), errOut)
	}
	for i, f := range files {
		fields := strings.Fields(lines[2*i+1])
		if lines[2*i] != f || fields[len(fields)-2] != strconv.Itoa(goldenTop1(t, f)) {
			t.Fatalf("image %d: %q / %q, want %s class %d", i, lines[2*i], lines[2*i+1], f, goldenTop1(t, f))
		}
	}
}

func TestEmulatorBatchTooLargeSaysLowerBatchSize(t *testing.T) {
	port := referenceServer(t)
	files := manyImages(t, 40, -1)
	code, out, errOut := runCLI(append([]string{"-port", port, "-batch-size", "40", "-json"}, files...)...)
	var doc document
	if err := json.Unmarshal([]byte(out), &doc); code != 1 || err != nil || len(doc.Results) != 40 || doc.Results[0].Error == nil ||
		doc.Results[0].Error.Code != "INVALID_ARGUMENT" || doc.Results[0].Error.RequestID == "" || len(doc.NotScored) != 0 {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"INVALID_ARGUMENT", "at most 32 per request", "request_id=",
		"the server refused 40 images in one call: lower --batch-size (it is 40)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestEmulatorFailedBatchEndsTheRunAndSaysWhatWasNotScored(t *testing.T) {
	port := referenceServer(t)
	files := manyImages(t, 20, 12)
	code, out, errOut := runCLI(append([]string{"-port", port, "-batch-size", "5", "-top", "1"}, files...)...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 1 || len(lines) != 20 || lines[0] != files[0] || lines[18] != files[9] {
		t.Fatalf("exit %d, stdout:\n%s", code, out)
	}
	want := fmt.Sprintf("10 of 20 images scored; not scored: %s and the 9 after it", files[10])
	if !strings.Contains(errOut, "INVALID_ARGUMENT") || !strings.Contains(errOut, want) || strings.Contains(errOut, "lower --batch-size") {
		t.Fatalf("stderr:\n%s", errOut)
	}
	code, out, _ = runCLI(append([]string{"-port", port, "-batch-size", "5", "-json"}, files...)...)
	var doc document
	if err := json.Unmarshal([]byte(out), &doc); code != 1 || err != nil || len(doc.Results) != 15 || doc.Results[9].Image != files[9] ||
		doc.Results[10].Error == nil || doc.Results[14].Image != files[14] || len(doc.NotScored) != 5 || doc.NotScored[0] != files[15] {
		t.Fatalf("exit %d, %d results (%v)", code, len(doc.Results), err)
	}
}
