package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// fake answers [rows, 1000] scores, rows from the request (string_val count, or the first
// dimension of a float tensor), alternating tensor_content and float_val. It checks the
// request as the command must build it; after failAfter calls (when > 0) it fails.
type fake struct {
	pb.UnimplementedPredictionServiceServer
	calls     int64
	failAfter int64
}

func (f *fake) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	n := atomic.AddInt64(&f.calls, 1)
	if f.failAfter > 0 && n > f.failAfter {
		return nil, status.Error(codes.Unavailable, "fake is down")
	}
	if req.GetModelSpec().GetName() != "resnet50" || req.GetModelSpec().GetSignatureName() != "serving_default" {
		return nil, status.Errorf(codes.InvalidArgument, "model spec %v", req.GetModelSpec())
	}
	in := req.GetInputs()["images"]
	var rows int
	switch in.GetDtype() {
	case pb.DataType_DT_STRING:
		rows = len(in.GetStringVal())
		for _, img := range in.GetStringVal() {
			if string(img) != "jpeg-bytes" {
				return nil, status.Errorf(codes.InvalidArgument, "image %q", img)
			}
		}
	case pb.DataType_DT_FLOAT:
		dims := in.GetTensorShape().GetDim()
		content := in.GetTensorContent()
		if len(dims) != 4 || dims[1].GetSize() != 224 || dims[2].GetSize() != 224 || dims[3].GetSize() != 3 ||
			len(content) != 4*224*224*3 || math.Float32frombits(binary.LittleEndian.Uint32(content[len(content)-4:])) != 0.5 {
			return nil, status.Errorf(codes.InvalidArgument, "tensor %v, %d bytes", dims, len(content))
		}
		rows = int(dims[0].GetSize())
	}
	if rows == 0 {
		return nil, status.Error(codes.InvalidArgument, "no images")
	}
	out := &pb.TensorProto{
		Dtype:       pb.DataType_DT_FLOAT,
		TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(rows)}, {Size: 1000}}},
	}
	if n%2 == 0 {
		out.FloatVal = make([]float32, rows*1000)
	} else {
		out.TensorContent = make([]byte, 4*rows*1000)
	}
	return &pb.PredictResponse{Outputs: map[string]*pb.TensorProto{"output_alias": out}}, nil
}

func serve(t *testing.T, f *fake) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.CustomCodec(protoCodec{})) // serve.go's codec: no github.com/golang/protobuf dependency
	pb.RegisterPredictionServiceServer(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)
}

func TestBench(t *testing.T) {
	f := &fake{}
	port := serve(t, f)
	img := filepath.Join(t.TempDir(), "cat.jpg")
	if err := os.WriteFile(img, []byte("jpeg-bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"client", "stub"} {
		for _, payload := range []string{"jpeg", "batch8", "tensor"} {
			before := atomic.LoadInt64(&f.calls)
			var out, errOut bytes.Buffer
			// Go's flag package takes --flag and -flag alike.
			args := []string{"--host", "127.0.0.1", "--port", port, "--payload", payload, "--image", img,
				"--concurrency", "2", "--calls", "5", "-warmup", "1", "--mode", mode}
			if code := run(args, &out, &errOut); code != 0 {
				t.Fatalf("%s/%s: exit %d: %s", mode, payload, code, errOut.String())
			}
			if got := atomic.LoadInt64(&f.calls) - before; got != 5+2*1 {
				t.Errorf("%s/%s: server saw %d calls, want 7", mode, payload, got)
			}
			if strings.Count(out.String(), "\n") != 1 {
				t.Fatalf("%s/%s: want one line: %q", mode, payload, out.String())
			}
			var res map[string]interface{}
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("%s/%s: %v: %q", mode, payload, err, out.String())
			}
			if res["language"] != "go" || res["mode"] != mode || res["payload"] != payload ||
				res["concurrency"] != 2.0 || res["tls"] != false || res["calls"] != 5.0 {
				t.Errorf("%s/%s: %v", mode, payload, res)
			}
			for _, k := range []string{"p50_ms", "p90_ms", "p99_ms", "throughput_per_s", "cpu_ms_per_call"} {
				if v, ok := res[k].(float64); !ok || v < 0 {
					t.Errorf("%s/%s: %s = %v", mode, payload, k, res[k])
				}
			}
			if !(res["p50_ms"].(float64) <= res["p90_ms"].(float64) && res["p90_ms"].(float64) <= res["p99_ms"].(float64)) ||
				res["throughput_per_s"].(float64) <= 0 {
				t.Errorf("%s/%s: %v", mode, payload, res)
			}
		}
	}
}

func TestBenchFailures(t *testing.T) {
	port := serve(t, &fake{failAfter: 3})
	img := filepath.Join(t.TempDir(), "cat.jpg")
	if err := os.WriteFile(img, []byte("jpeg-bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--host", "127.0.0.1", "--port", port, "--image", img, "--concurrency", "2", "--calls", "10", "--warmup", "0"}
	for _, mode := range []string{"client", "stub"} {
		var out, errOut bytes.Buffer
		if code := run(append(base, "--payload", "jpeg", "--mode", mode), &out, &errOut); code != 1 ||
			out.Len() != 0 || !strings.Contains(errOut.String(), "fake is down") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", mode, code, out.String(), errOut.String())
		}
	}
	for _, args := range [][]string{
		{"--port", port, "--payload", "jpeg", "--image", img, "--concurrency", "1", "--calls", "1", "--mode", "client"},
		{"--host", "h", "--port", port, "--payload", "png", "--image", img, "--concurrency", "1", "--calls", "1", "--mode", "client"},
		{"--host", "h", "--port", port, "--payload", "jpeg", "--concurrency", "1", "--calls", "1", "--mode", "client"},
		{"--host", "h", "--port", port, "--payload", "jpeg", "--image", img, "--concurrency", "0", "--calls", "1", "--mode", "client"},
		{"--host", "h", "--port", port, "--payload", "jpeg", "--image", img, "--concurrency", "1", "--calls", "1", "--mode", "raw"},
		{"--host", "h", "--port", port, "--ca", "x.pem", "--payload", "jpeg", "--image", img, "--concurrency", "1", "--calls", "1", "--mode", "stub"},
		{"--nope"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q", args, code, out.String())
		}
	}
}

func TestPercentile(t *testing.T) {
	sorted := []time.Duration{1e6, 2e6, 3e6, 4e6, 5e6}
	for _, c := range []struct{ p, want float64 }{{50, 3}, {90, 4.6}, {99, 4.96}, {0, 1}, {100, 5}} {
		if got := round3(percentileMs(sorted, c.p)); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
}
