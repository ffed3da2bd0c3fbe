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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// fake answers [rows, 1000] scores, rows from the request (string_val count, or the first
// dimension of a float tensor), alternating tensor_content and float_val. It checks the
// request as the command must build it; after failAfter calls (when > 0) it fails. It logs
// where each call came from, in the order the calls arrived.
type fake struct {
	pb.UnimplementedPredictionServiceServer
	calls     int64
	failAfter int64

	mu  sync.Mutex
	log []arrival
}

// arrival is where a call came from: the client's address (one per connection) and whether
// the fpgascore client made it (its user agent) rather than the raw stub.
type arrival struct {
	peer       string
	fromClient bool
}

func (f *fake) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	f.record(ctx)
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

func (f *fake) record(ctx context.Context) {
	var a arrival
	if p, ok := peer.FromContext(ctx); ok {
		a.peer = p.Addr.String()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, ua := range md.Get("user-agent") {
		a.fromClient = a.fromClient || strings.Contains(ua, "fpgascore-go")
	}
	f.mu.Lock()
	f.log = append(f.log, a)
	f.mu.Unlock()
}

// arrivals is the log of calls so far.
func (f *fake) arrivals() []arrival {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]arrival(nil), f.log...)
}

func serve(t *testing.T, f *fake) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
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
			if keys := jsonKeys(t, out.Bytes()); strings.Join(keys, ",") != strings.Join(lineKeys, ",") {
				t.Errorf("%s/%s: fields %v, want %v", mode, payload, keys, lineKeys)
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

// lineKeys are the fields of a single-mode line, in their order (a paired line adds "side").
var lineKeys = []string{"language", "mode", "payload", "concurrency", "tls", "calls",
	"p50_ms", "p90_ms", "p99_ms", "throughput_per_s", "cpu_ms_per_call"}

// jsonKeys is the keys of a JSON object, in the order they are written.
func jsonKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
	}
	return keys
}

// TestBenchPaired runs paired modes and checks the two lines, then, from the server's log,
// the run itself: both sides' warm-ups come first, then phases of 2 workers x 2 calls, each
// on one connection only (the barrier), in the order A B B A A B, side A on a connection of
// its own mode.
func TestBenchPaired(t *testing.T) {
	img := filepath.Join(t.TempDir(), "cat.jpg")
	if err := os.WriteFile(img, []byte("jpeg-bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ mode, payload string }{
		{"client/stub", "jpeg"}, {"stub/stub", "tensor"}, {"stub/client", "batch8"}, {"client/client", "jpeg"},
	} {
		f := &fake{}
		port := serve(t, f)
		// per = 4/2 = 2 calls per worker and phase, ceil(10/4) = 3 phases per side: 12 calls a side.
		args := []string{"--host", "127.0.0.1", "--port", port, "--payload", c.payload, "--image", img,
			"--concurrency", "2", "--calls", "10", "--warmup", "1", "--phase-calls", "4", "--mode", c.mode}
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.mode, code, errOut.String())
		}
		sideModes := strings.Split(c.mode, "/")
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: want two lines: %q", c.mode, out.String())
		}
		for i, line := range lines {
			var res result
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("%s: %v: %q", c.mode, err, line)
			}
			if keys := jsonKeys(t, []byte(line)); strings.Join(keys, ",") != strings.Join(append(append([]string(nil), lineKeys...), "side"), ",") {
				t.Errorf("%s: fields %v", c.mode, keys)
			}
			if res.Side != []string{"a", "b"}[i] || res.Mode != sideModes[i] || res.Language != "go" ||
				res.Payload != c.payload || res.Concurrency != 2 || res.TLS || res.Calls != 12 {
				t.Errorf("%s: line %d: %+v", c.mode, i, res)
			}
			if !(0 <= res.P50Ms && res.P50Ms <= res.P90Ms && res.P90Ms <= res.P99Ms) || res.ThroughputPerS <= 0 || res.CPUMsPerCall < 0 {
				t.Errorf("%s: line %d: %+v", c.mode, i, res)
			}
		}

		log := f.arrivals()
		const warmups, perPhase, phases = 2 * 2 * 1, 2 * 2, 6
		if len(log) != warmups+phases*perPhase {
			t.Fatalf("%s: server saw %d calls, want %d", c.mode, len(log), warmups+phases*perPhase)
		}
		a, b := log[warmups].peer, ""
		for i := 0; i < phases; i++ {
			phase := log[warmups+i*perPhase : warmups+(i+1)*perPhase]
			want := a
			if []int{0, 1, 1, 0, 0, 1}[i] == 1 {
				if b == "" {
					b = phase[0].peer
				}
				want = b
			}
			for _, call := range phase {
				if call.peer != want {
					t.Fatalf("%s: phase %d has calls from %s, want all from %s (side a %s, b %s): %v",
						c.mode, i, call.peer, want, a, b, log)
				}
			}
		}
		if a == b {
			t.Errorf("%s: both sides on one connection %s", c.mode, a)
		}
		warmedUp := map[string]int{}
		for i, call := range log {
			side := sideModes[1]
			if call.peer == a {
				side = sideModes[0]
			}
			if call.peer != a && call.peer != b {
				t.Errorf("%s: call %d from a third connection %s", c.mode, i, call.peer)
			}
			if call.fromClient != (side == "client") {
				t.Errorf("%s: call %d on the %s side's connection, fpgascore client %v", c.mode, i, side, call.fromClient)
			}
			if i < warmups {
				warmedUp[call.peer]++
			}
		}
		if warmedUp[a] != 2 || warmedUp[b] != 2 {
			t.Errorf("%s: warm-up calls per connection %v, want 2 on each", c.mode, warmedUp)
		}
	}
}

// TestBenchPairedFailures: a failed call stops a paired run (exit 1, nothing on stdout, the
// error and its side on stderr); a bad --mode or --phase-calls is a flag error (exit 2).
func TestBenchPairedFailures(t *testing.T) {
	img := filepath.Join(t.TempDir(), "cat.jpg")
	if err := os.WriteFile(img, []byte("jpeg-bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		concurrency, warmup string
		failAfter           int64
		want                string
	}{
		{"2", "0", 3, "side a (client): call failed"},       // the 4th call is in the first phase, side A's
		{"1", "1", 1, "side b (stub): warm-up call failed"}, // one worker warms A up, then B fails
	} {
		port := serve(t, &fake{failAfter: c.failAfter})
		args := []string{"--host", "127.0.0.1", "--port", port, "--payload", "jpeg", "--image", img,
			"--concurrency", c.concurrency, "--calls", "10", "--warmup", c.warmup, "--phase-calls", "4", "--mode", "client/stub"}
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 1 || out.Len() != 0 ||
			!strings.Contains(errOut.String(), "fake is down") || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}

	port := serve(t, &fake{})
	base := []string{"--host", "127.0.0.1", "--port", port, "--payload", "jpeg", "--image", img,
		"--concurrency", "1", "--calls", "1"}
	for _, extra := range [][]string{
		{"--mode", "client/foo"},
		{"--mode", "a/b/c"},
		{"--mode", "client/stub/stub"},
		{"--mode", "client/"},
		{"--mode", "/stub"},
		{"--mode", "client/stub", "--phase-calls", "0"},
		{"--mode", "stub", "--phase-calls", "-1"},
	} {
		var out, errOut bytes.Buffer
		if code := run(append(append([]string(nil), base...), extra...), &out, &errOut); code != 2 || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", extra, code, out.String(), errOut.String())
		}
		if extra[1] != "client/stub" && extra[1] != "stub" &&
			!strings.Contains(errOut.String(), "client, stub, client/stub, stub/client, stub/stub, client/client") {
			t.Errorf("%v: the error does not name the accepted modes: %q", extra, errOut.String())
		}
	}
}

func TestPlanPhases(t *testing.T) {
	for _, c := range []struct {
		calls, phaseCalls, workers int
		perWorker                  int
		order                      string
	}{
		{10, 4, 2, 2, "ABBAAB"},    // 3 phases of 4 calls a side: 12 >= 10
		{8, 4, 2, 2, "ABBA"},       // exactly 8
		{1, 40, 4, 10, "AB"},       // one phase of 40 a side
		{5, 3, 4, 1, "ABBA"},       // K < N: one call per worker, ceil(5/4) = 2 phases a side
		{100, 40, 3, 13, "ABBAAB"}, // 13*3 = 39 a phase, ceil(100/39) = 3
	} {
		plan := planPhases(c.calls, c.phaseCalls, c.workers)
		var order strings.Builder
		for _, side := range plan.order {
			order.WriteByte("AB"[side])
		}
		if plan.perWorker != c.perWorker || order.String() != c.order || plan.phasesPerSide != len(c.order)/2 ||
			plan.callsPerWorker()*c.workers < c.calls {
			t.Errorf("planPhases(%d, %d, %d) = %+v (%s), want %d per worker, %s",
				c.calls, c.phaseCalls, c.workers, plan, order.String(), c.perWorker, c.order)
		}
	}
}
