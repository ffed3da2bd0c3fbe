package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

type fake struct {
	pb.UnimplementedPredictionServiceServer
}

func (fake) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	rows := len(req.GetInputs()["images"].GetStringVal())
	values := make([]float32, rows*1000)
	for i := 0; i < rows; i++ {
		values[i*1000+1] = 0.5
		values[i*1000+207] = 0.25
	}
	return &pb.PredictResponse{Outputs: map[string]*pb.TensorProto{"output_alias": {
		Dtype:       pb.DataType_DT_FLOAT,
		TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(rows)}, {Size: 1000}}},
		FloatVal:    values,
	}}}, nil
}

// nanFake answers as fake does, but with the score of image 1, class 3 NaN.
type nanFake struct{ fake }

func (f nanFake) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	resp, err := f.fake.Predict(ctx, req)
	if err == nil {
		resp.Outputs["output_alias"].FloatVal[1003] = float32(math.NaN())
	}
	return resp, err
}

func serve(t *testing.T) string { return serveWith(t, fake{}) }

func serveWith(t *testing.T, service pb.PredictionServiceServer) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterPredictionServiceServer(s, service)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)
}

func TestScore(t *testing.T) {
	port := serve(t)
	img := filepath.Join(t.TempDir(), "cat.jpg")
	os.WriteFile(img, []byte("jpeg"), 0o600)
	env := func(k string) string { return map[string]string{"FPGASCORE_KEY": "s3cret-key"}[k] }

	var out, errOut bytes.Buffer
	if code := run([]string{"score", "-port", port, img, img}, &out, &errOut, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "1. goldfish") || !strings.Contains(out.String(), "2. golden retriever") ||
		strings.Count(out.String(), img) != 2 {
		t.Fatalf("output:\n%s", out.String())
	}

	out.Reset()
	if code := run([]string{"score", "-port", port, "-json", "-top", "2", img}, &out, &errOut, env); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var doc document
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Results) != 1 || len(doc.Results[0].TopK) != 2 ||
		doc.Results[0].TopK[0].Label != "goldfish" || doc.NotScored == nil {
		t.Fatalf("json %s: %v", out.String(), err)
	}

	// Flags after the image paths, --flag as -flag, the timeout in seconds (a decimal).
	out.Reset()
	if code := run([]string{"score", img, "--port", port, "--top-k", "1", "--timeout", "2.5", img, "-top", "3"}, &out, &errOut, env); code != 0 ||
		strings.Count(out.String(), img) != 2 || !strings.Contains(out.String(), "3. ") {
		t.Fatalf("exit %d: %s / %s", code, out.String(), errOut.String())
	}
	files, err := parseInterspersed(flag.NewFlagSet("x", flag.ContinueOnError), []string{"a", "--", "-b", "c"})
	if err != nil || strings.Join(files, " ") != "a -b c" {
		t.Fatalf("after --: %q, %v", files, err)
	}

	// A key over plaintext is refused, naming the flags; the key never shows.
	errOut.Reset()
	if code := run([]string{"score", "-port", port, "-key-env", "FPGASCORE_KEY", img}, &out, &errOut, env); code != 2 ||
		!strings.Contains(errOut.String(), "--allow-insecure-key") || !strings.Contains(errOut.String(), "--ssl") ||
		strings.Contains(errOut.String(), "s3cret") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if code := run([]string{"score", "-port", port, "-key-env", "FPGASCORE_KEY", "-allow-insecure-key", img}, &out, &errOut, env); code != 0 {
		t.Fatalf("allow-insecure-key: exit %d", code)
	}
	if code := run([]string{"score", "-port", port, "-key-env", "UNSET", img}, &out, &errOut, env); code != 2 {
		t.Fatalf("unset key env: exit %d", code)
	}
	for _, args := range [][]string{nil, {"score"}, {"dance"}, {"score", "-nope"}, {"score", "-port", port, "-batch-size", "0", img},
		{"score", "-port", port, "-timeout", "0", img}, {"score", "-port", port, "-timeout", "-1", img}, {"score", "-port", port, "-timeout", "10s", img}} {
		if code := run(args, &out, &errOut, env); code != 2 {
			t.Fatalf("%v: exit %d", args, code)
		}
	}
	if code := run([]string{"score", "-port", "1", img}, &out, &errOut, env); code != 1 {
		t.Fatalf("no server: exit %d", code)
	}
	// A missing image is an input failure (1), in the JSON document too.
	out.Reset()
	missing := filepath.Join(t.TempDir(), "missing.jpg")
	if code := run([]string{"score", "-port", port, "-json", img, missing, img}, &out, &errOut, env); code != 1 {
		t.Fatalf("missing image: exit %d", code)
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Results) != 1 || doc.Results[0].Image != missing ||
		doc.Results[0].Error == nil || doc.Results[0].Error.Code != "INVALID_ARGUMENT" || len(doc.NotScored) != 2 {
		t.Fatalf("missing image: %s (%v)", out.String(), err)
	}
}

func TestNonFiniteAnswerExitsOne(t *testing.T) {
	port := serveWith(t, nanFake{})
	img := filepath.Join(t.TempDir(), "cat.jpg")
	os.WriteFile(img, []byte("jpeg"), 0o600)
	var out, errOut bytes.Buffer
	code := run([]string{"score", "-port", port, img, img, img}, &out, &errOut, func(string) string { return "" })
	if code != 1 || out.Len() != 0 || !strings.Contains(errOut.String(), "INTERNAL") ||
		!strings.Contains(errOut.String(), "(NaN) at image 1, class 3") || strings.Contains(errOut.String(), "batch-size") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// TestVersion: -version (and --version) prints the module's version, the repository's VERSION, on stdout.
func TestVersion(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	want := "fpgascore " + strings.TrimSpace(string(raw)) + "\n"
	for _, args := range [][]string{{"-version"}, {"--version"}, {"score", "--version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, func(string) string { return "" }); code != 0 || stdout.String() != want || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q (want %q), stderr %q", args, code, stdout.String(), want, stderr.String())
		}
	}
	for _, args := range [][]string{{"--help"}, {"score", "--help"}, {"score", "-h"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, func(string) string { return "" }); code != 0 || !strings.Contains(stdout.String(), "usage: fpgascore score") || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}
