package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
	cpb "github.com/fpgascore/fpgascore/go/internal/conformancepb"
)

// fake answers with row i peaking at class i+1, failing the attempts the
// x-conformance-fail header asks for (counted per x-conformance-case), like the emulator.
type fake struct {
	pb.UnimplementedPredictionServiceServer
	mu       sync.Mutex
	attempts map[string]int
	cases    []string
	requests []*pb.PredictRequest
}

func (f *fake) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	grpc.SetTrailer(ctx, metadata.Pairs("request-id", "rid"))
	f.mu.Lock()
	id := strings.Join(md.Get("x-conformance-case"), "")
	f.attempts[id]++
	n := f.attempts[id]
	f.cases = append(f.cases, id)
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	if fail := md.Get("x-conformance-fail"); len(fail) == 1 {
		var count int
		var code string
		fmt.Sscanf(strings.Replace(fail[0], ":", " ", 1), "%d %s", &count, &code)
		if n <= count {
			return nil, status.Error(codes.Unavailable, "injected")
		}
	}
	rows := 0
	for _, t := range req.GetInputs() {
		if t.GetDtype() == pb.DataType_DT_STRING {
			rows = len(t.GetStringVal())
		} else {
			rows = int(t.GetTensorShape().GetDim()[0].GetSize())
		}
	}
	if rows == 0 {
		return nil, status.Error(codes.InvalidArgument, "no rows")
	}
	values := make([]float32, rows*1000)
	for i := 0; i < rows; i++ {
		values[i*1000+i+1] = 0.75
		values[i*1000+i+2] = 0.25
	}
	return &pb.PredictResponse{Outputs: map[string]*pb.TensorProto{"output_alias": {
		Dtype:       pb.DataType_DT_FLOAT,
		TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(rows)}, {Size: 1000}}},
		FloatVal:    values,
	}}}, nil
}

func startFake(t *testing.T) (*fake, int) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{attempts: map[string]int{}}
	s := grpc.NewServer()
	pb.RegisterPredictionServiceServer(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return f, lis.Addr().(*net.TCPAddr).Port
}

const hello = `{"protocolVersion": "1.1", "runner": "test"}`

// drive runs the driver on a Hello and the lines, and returns its HelloAnswer and answers.
func drive(t *testing.T, lines ...string) (*cpb.HelloAnswer, []*cpb.DriverAnswer) {
	t.Helper()
	var out, errOut bytes.Buffer
	input := hello + "\n" + strings.Join(lines, "\n") + "\n"
	if code := run(strings.NewReader(input), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	outLines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(outLines) != len(lines)+1 {
		t.Fatalf("%d output lines for a Hello and %d lines: %q", len(outLines), len(lines), out.String())
	}
	greeting := &cpb.HelloAnswer{}
	if err := protojson.Unmarshal([]byte(outLines[0]), greeting); err != nil {
		t.Fatalf("bad HelloAnswer %q: %v", outLines[0], err)
	}
	var answers []*cpb.DriverAnswer
	for _, l := range outLines[1:] {
		a := &cpb.DriverAnswer{}
		if err := protojson.Unmarshal([]byte(l), a); err != nil {
			t.Fatalf("bad output line %q: %v", l, err)
		}
		if strings.Contains(l, `"request_id"`) || strings.Contains(l, `"top_k"`) {
			t.Fatalf("output is not lowerCamelCase: %q", l)
		}
		answers = append(answers, a)
	}
	return greeting, answers
}

func line(port int, fields string) string {
	return fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, %s}`, port, fields)
}

func TestDriverHello(t *testing.T) {
	greeting, answers := drive(t)
	if greeting.GetProtocolVersion() != protocolVersion || greeting.GetLanguage() != "go" || greeting.GetDriver() == "" ||
		greeting.GetClient() == "" || greeting.GetClientVersion() == "" || len(answers) != 0 {
		t.Fatalf("HelloAnswer %v", greeting)
	}
	var out, errOut bytes.Buffer
	if code := run(strings.NewReader(`{"id": "x", "host": "h"}`+"\n"), &out, &errOut); code != 2 || out.Len() != 0 {
		t.Fatalf("a first line that is not a Hello: exit %d, output %q", code, out.String())
	}
}

func TestDriverProtocol(t *testing.T) {
	f, port := startFake(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "a.jpg")
	os.WriteFile(img, []byte("jpeg"), 0o600)
	tensor := filepath.Join(dir, "t.bin")
	buf := make([]byte, 4*224*224*3)
	binary.LittleEndian.PutUint32(buf, math.Float32bits(1.5))
	os.WriteFile(tensor, buf, 0o600)
	reqFile := filepath.Join(dir, "r.bin")
	raw, _ := proto.Marshal(&pb.PredictRequest{
		ModelSpec: &pb.ModelSpec{Name: "other"},
		Inputs: map[string]*pb.TensorProto{"images": {Dtype: pb.DataType_DT_STRING,
			TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: 1}}}, StringVal: [][]byte{[]byte("x")}}}})
	os.WriteFile(reqFile, raw, 0o600)

	_, resps := drive(t,
		// lowerCamelCase, and a field this version does not know (ignored)
		line(port, fmt.Sprintf(`"id": "img", "action": "ACTION_IMAGES", "images": [%q, %q], "topK": 2, "metadata": {"x-conformance-case": "c1"}, "fieldFromTheFuture": 1`, img, img)),
		`{"id": "broken", "host": `,
		`not json at all`,
		line(port, `"id": "none-key", "action": "ACTION_NONE", "access_token": "secret-k"`),
		line(port, `"id": "none-ok", "action": "ACTION_NONE"`),
		// proto names, and a number for an enum
		line(port, fmt.Sprintf(`"id": "calls", "action": 1, "images": [%q], "calls": 3, "concurrency": 2, "retry": {"max_attempts": 3, "initial_backoff_ms": 1, "maxBackoffMs": 5, "multiplier": 2.0}, "metadata": {"x-conformance-case": "c2", "x-conformance-fail": "1:UNAVAILABLE"}`, img)),
		line(port, fmt.Sprintf(`"id": "tensor", "action": "ACTION_TENSOR", "tensorFile": %q, "tensorShape": [224, 224, 3]`, tensor)),
		line(port, fmt.Sprintf(`"id": "bad-shape", "action": "ACTION_TENSOR", "tensor_file": %q, "tensor_shape": [1, 224, 224, 4]`, tensor)),
		line(port, fmt.Sprintf(`"id": "request", "action": "ACTION_REQUEST", "requestFile": %q`, reqFile)),
		line(port, `"id": "empty", "action": "ACTION_IMAGES", "images": []`),
		line(port, `"id": "bad-action", "action": "ACTION_DANCE"`),
		line(port, `"id": "unspecified"`),
		`{"id": "no-host", "action": "ACTION_NONE"}`,
		line(port, `"id": "bad-type", "calls": "three"`),
		line(port, fmt.Sprintf(`"id": "missing-file", "action": "ACTION_IMAGES", "images": [%q]`, filepath.Join(dir, "nope.jpg"))),
	)
	byID := map[string]*cpb.DriverAnswer{}
	for _, r := range resps {
		byID[r.GetId()] = r
	}
	results := func(id string) []*cpb.CallResult {
		r := byID[id]
		if r == nil {
			t.Fatalf("no response %q", id)
		}
		if r.GetError() != "" {
			t.Fatalf("%s: error %v", id, r.GetError())
		}
		return r.GetResults()
	}
	topK := func(r *cpb.CallResult) string {
		var rows []string
		for _, row := range r.GetTopK() {
			var pairs []string
			for _, p := range row.GetPredictions() {
				pairs = append(pairs, fmt.Sprintf("%d:%g", p.GetClassId(), p.GetScore()))
			}
			rows = append(rows, strings.Join(pairs, " "))
		}
		return strings.Join(rows, " | ")
	}
	res := results("img")[0]
	if res.GetCode() != cpb.Code_OK || res.GetRequestId() != "rid" || fmt.Sprint(res.GetShape()) != "[2 1000]" ||
		topK(res) != "1:0.75 2:0.25 | 2:0.75 3:0.25" {
		t.Fatalf("img: %v", res)
	}
	if resps[1].GetError() == "" || resps[2].GetError() == "" || len(resps[1].GetResults()) != 0 {
		t.Fatalf("bad lines: %v %v", resps[1], resps[2])
	}
	if r := results("none-key")[0]; r.GetCode() != cpb.Code_FAILED_PRECONDITION || strings.Contains(r.String(), "secret-k") {
		t.Fatalf("none-key: %v", r)
	}
	if r := results("none-ok"); len(r) != 1 || r[0].GetCode() != cpb.Code_OK {
		t.Fatalf("none-ok: %v", r)
	}
	calls := results("calls")
	if len(calls) != 3 {
		t.Fatalf("calls: %v", calls)
	}
	for _, c := range calls {
		if c.GetCode() != cpb.Code_OK {
			t.Fatalf("calls: %v", calls)
		}
	}
	f.mu.Lock()
	for i := 1; i <= 3; i++ {
		if n := f.attempts[fmt.Sprintf("c2#%d", i)]; n != 2 {
			t.Errorf("case c2#%d: %d attempts", i, n)
		}
	}
	f.mu.Unlock()
	if r := results("tensor")[0]; r.GetCode() != cpb.Code_OK || fmt.Sprint(r.GetShape()) != "[1 1000]" {
		t.Fatalf("tensor: %v", r)
	}
	if r := results("bad-shape")[0]; r.GetCode() != cpb.Code_INVALID_ARGUMENT {
		t.Fatalf("bad-shape: %v", r)
	}
	if r := results("request")[0]; r.GetCode() != cpb.Code_OK {
		t.Fatalf("request: %v", r)
	}
	f.mu.Lock()
	last := f.requests[len(f.requests)-1]
	f.mu.Unlock()
	if last.GetModelSpec().GetName() != "resnet50" {
		t.Fatalf("request action did not use the client's model spec: %v", last.GetModelSpec())
	}
	if r := results("empty")[0]; r.GetCode() != cpb.Code_INVALID_ARGUMENT {
		t.Fatalf("empty: %v", r)
	}
	// An unknown enum name is ignored like an unknown field: the action is unspecified.
	for _, id := range []string{"bad-action", "unspecified", "no-host"} {
		if r := byID[id]; r == nil || r.GetError() == "" || len(r.GetResults()) != 0 {
			t.Fatalf("%s: %v", id, r)
		}
	}
	// Lines that do not parse cannot echo their id: they are answered with an error and no id.
	unparsed := 0
	for _, r := range resps {
		if r.GetId() == "" && r.GetError() != "" && len(r.GetResults()) == 0 {
			unparsed++
		}
	}
	if unparsed != 3 { // broken, not json, "three"
		t.Fatalf("%d unparsed lines answered with an error, want 3: %v", unparsed, resps)
	}
	if r := results("missing-file")[0]; r.GetCode() != cpb.Code_UNKNOWN {
		t.Fatalf("missing-file: %v", r)
	}
}

func TestDriverSession(t *testing.T) {
	f, port := startFake(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "a.jpg")
	os.WriteFile(img, []byte("jpeg"), 0o600)
	_, resps := drive(t,
		line(port, fmt.Sprintf(`"id": "s1", "session": "S", "action": "ACTION_IMAGES", "images": [%q], "metadata": {"x-conformance-case": "step0"}`, img)),
		// The session keeps its first line's connection settings: this port is ignored.
		fmt.Sprintf(`{"id": "s2", "host": "127.0.0.1", "port": 1, "session": "S", "action": "ACTION_IMAGES", "images": [%q], "metadata": {"x-conformance-case": "step1"}}`, img),
	)
	for _, r := range resps {
		if r.GetError() != "" || r.GetResults()[0].GetCode() != cpb.Code_OK {
			t.Fatalf("%v", r)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.cases, ",") != "step0,step1" {
		t.Fatalf("cases %v", f.cases)
	}
}
