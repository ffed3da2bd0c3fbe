package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
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
	"google.golang.org/protobuf/proto"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
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

func drive(t *testing.T, lines ...string) []map[string]interface{} {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var resps []map[string]interface{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad output line %q: %v", l, err)
		}
		resps = append(resps, m)
	}
	if len(resps) != len(lines) {
		t.Fatalf("%d responses for %d lines", len(resps), len(lines))
	}
	return resps
}

func line(port int, fields string) string {
	return fmt.Sprintf(`{"host": "127.0.0.1", "port": %d, %s}`, port, fields)
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

	resps := drive(t,
		line(port, fmt.Sprintf(`"id": "img", "action": "images", "images": [%q, %q], "top_k": 2, "metadata": {"x-conformance-case": "c1"}`, img, img)),
		`{"id": "broken", "host": `,
		`not json at all`,
		line(port, `"id": "none-key", "action": "none", "access_token": "secret-k"`),
		line(port, `"id": "none-ok", "action": "none"`),
		line(port, fmt.Sprintf(`"id": "calls", "action": "images", "images": [%q], "calls": 3, "concurrency": 2, "retry": {"max_attempts": 3, "initial_backoff_ms": 1, "max_backoff_ms": 5, "multiplier": 2.0}, "metadata": {"x-conformance-case": "c2", "x-conformance-fail": "1:UNAVAILABLE"}`, img)),
		line(port, fmt.Sprintf(`"id": "tensor", "action": "tensor", "tensor_file": %q, "tensor_shape": [224, 224, 3]`, tensor)),
		line(port, fmt.Sprintf(`"id": "bad-shape", "action": "tensor", "tensor_file": %q, "tensor_shape": [1, 224, 224, 4]`, tensor)),
		line(port, fmt.Sprintf(`"id": "request", "action": "request", "request_file": %q`, reqFile)),
		line(port, `"id": "empty", "action": "images", "images": []`),
		line(port, `"id": "bad-action", "action": "dance"`),
		`{"id": 7, "action": "none"}`,
		line(port, `"id": "bad-type", "calls": "three"`),
		line(port, fmt.Sprintf(`"id": "missing-file", "action": "images", "images": [%q]`, filepath.Join(dir, "nope.jpg"))),
	)
	byID := map[string]map[string]interface{}{}
	for _, r := range resps {
		byID[fmt.Sprint(r["id"])] = r
	}
	results := func(id string) []interface{} {
		r := byID[id]
		if r == nil {
			t.Fatalf("no response %q", id)
		}
		if r["error"] != nil {
			t.Fatalf("%s: error %v", id, r["error"])
		}
		return r["results"].([]interface{})
	}
	res := results("img")[0].(map[string]interface{})
	if res["code"] != "OK" || res["request_id"] != "rid" || fmt.Sprint(res["shape"]) != "[2 1000]" ||
		fmt.Sprint(res["top_k"]) != "[[[1 0.75] [2 0.25]] [[2 0.75] [3 0.25]]]" {
		t.Fatalf("img: %v", res)
	}
	if resps[1]["error"] == nil || resps[2]["error"] == nil || len(resps[1]["results"].([]interface{})) != 0 {
		t.Fatalf("bad lines: %v %v", resps[1], resps[2])
	}
	if r := results("none-key")[0].(map[string]interface{}); r["code"] != "FAILED_PRECONDITION" || strings.Contains(fmt.Sprint(r), "secret-k") {
		t.Fatalf("none-key: %v", r)
	}
	if r := results("none-ok"); len(r) != 1 || r[0].(map[string]interface{})["code"] != "OK" {
		t.Fatalf("none-ok: %v", r)
	}
	calls := results("calls")
	if len(calls) != 3 {
		t.Fatalf("calls: %v", calls)
	}
	for _, c := range calls {
		if c.(map[string]interface{})["code"] != "OK" {
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
	if r := results("tensor")[0].(map[string]interface{}); r["code"] != "OK" || fmt.Sprint(r["shape"]) != "[1 1000]" {
		t.Fatalf("tensor: %v", r)
	}
	if r := results("bad-shape")[0].(map[string]interface{}); r["code"] != "INVALID_ARGUMENT" {
		t.Fatalf("bad-shape: %v", r)
	}
	if r := results("request")[0].(map[string]interface{}); r["code"] != "OK" {
		t.Fatalf("request: %v", r)
	}
	f.mu.Lock()
	last := f.requests[len(f.requests)-1]
	f.mu.Unlock()
	if last.GetModelSpec().GetName() != "resnet50" {
		t.Fatalf("request action did not use the client's model spec: %v", last.GetModelSpec())
	}
	if r := results("empty")[0].(map[string]interface{}); r["code"] != "INVALID_ARGUMENT" {
		t.Fatalf("empty: %v", r)
	}
	for _, id := range []string{"bad-action", "7", "bad-type"} {
		if byID[id] == nil || byID[id]["error"] == nil {
			t.Fatalf("%s: %v", id, byID[id])
		}
	}
	if r := results("missing-file")[0].(map[string]interface{}); r["code"] != "UNKNOWN" {
		t.Fatalf("missing-file: %v", r)
	}
}

func TestDriverSession(t *testing.T) {
	f, port := startFake(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "a.jpg")
	os.WriteFile(img, []byte("jpeg"), 0o600)
	resps := drive(t,
		line(port, fmt.Sprintf(`"id": "s1", "session": "S", "action": "images", "images": [%q], "metadata": {"x-conformance-case": "step0"}`, img)),
		// The session keeps its first line's connection settings: this port is ignored.
		fmt.Sprintf(`{"id": "s2", "host": "127.0.0.1", "port": 1, "session": "S", "action": "images", "images": [%q], "metadata": {"x-conformance-case": "step1"}}`, img),
	)
	for _, r := range resps {
		if r["error"] != nil || r["results"].([]interface{})[0].(map[string]interface{})["code"] != "OK" {
			t.Fatalf("%v", r)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.cases, ",") != "step0,step1" {
		t.Fatalf("cases %v", f.cases)
	}
}
