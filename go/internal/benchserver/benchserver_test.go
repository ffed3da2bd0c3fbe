package benchserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
	"github.com/fpgascore/fpgascore/go/internal/testkit"
)

// startNull serves the null server of cfg (its port is ignored: 127.0.0.1:0) for the test's
// duration and returns its address.
func startNull(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.Host, cfg.Port = "127.0.0.1", 0
	srv, lis, err := New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// rawStub is the generated stub on a connection to addr: plaintext, or TLS trusting caFile.
func rawStub(t *testing.T, addr, caFile string) pb.PredictionServiceClient {
	t.Helper()
	opt := grpc.WithTransportCredentials(insecure.NewCredentials())
	if caFile != "" {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			t.Fatal("no certificate in", caFile)
		}
		opt = grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool}))
	}
	conn, err := grpc.NewClient(addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewPredictionServiceClient(conn)
}

// testCerts are the test certificates of scripts/make-dev-certs, in a folder of the test's.
func testCerts(t *testing.T) *testkit.Certs {
	t.Helper()
	certs, err := testkit.MakeCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func imagesRequest(images ...[]byte) *pb.PredictRequest {
	return &pb.PredictRequest{
		ModelSpec: &pb.ModelSpec{Name: "resnet50", SignatureName: "serving_default"},
		Inputs: map[string]*pb.TensorProto{"images": {
			Dtype:       pb.DataType_DT_STRING,
			TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(len(images))}}},
			StringVal:   images,
		}},
	}
}

func tensorRequest(n int, asFloatVal bool) *pb.PredictRequest {
	in := &pb.TensorProto{
		Dtype:       pb.DataType_DT_FLOAT,
		TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(n)}, {Size: 224}, {Size: 224}, {Size: 3}}},
	}
	if asFloatVal {
		in.FloatVal = make([]float32, n*224*224*3)
	} else {
		in.TensorContent = make([]byte, 4*n*224*224*3)
	}
	return &pb.PredictRequest{Inputs: map[string]*pb.TensorProto{"images": in}}
}

// checkMatrix checks the output name of resp: DT_FLOAT [rows, columns] in tensor_content,
// every value want.
func checkMatrix(t *testing.T, resp *pb.PredictResponse, name string, rows, columns int, want float32) {
	t.Helper()
	out := resp.GetOutputs()[name]
	if out == nil {
		t.Fatalf("no output %q in %v", name, resp.GetOutputs())
	}
	dims := out.GetTensorShape().GetDim()
	if out.GetDtype() != pb.DataType_DT_FLOAT || len(dims) != 2 || dims[0].GetSize() != int64(rows) || dims[1].GetSize() != int64(columns) {
		t.Fatalf("%s: dtype %v, shape %v; want DT_FLOAT [%d, %d]", name, out.GetDtype(), dims, rows, columns)
	}
	content := out.GetTensorContent()
	if len(out.GetFloatVal()) != 0 || len(content) != 4*rows*columns {
		t.Fatalf("%s: %d float_val, %d content bytes; want %d content bytes", name, len(out.GetFloatVal()), len(content), 4*rows*columns)
	}
	for i := 0; i < len(content); i += 4 {
		if v := math.Float32frombits(binary.LittleEndian.Uint32(content[i:])); v != want {
			t.Fatalf("%s: value %d is %v, want %v", name, i/4, v, want)
		}
	}
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestServePredict(t *testing.T) {
	stub := rawStub(t, startNull(t, Config{}), "")
	image := bytes.Repeat([]byte{0xff}, 150*1024) // never decoded
	for _, c := range []struct {
		name string
		req  *pb.PredictRequest
		rows int
	}{
		{"jpeg", imagesRequest(image), 1},
		{"batch8", imagesRequest(image, image, image, image, image, image, image, image), 8},
		{"tensor", tensorRequest(1, false), 1},
		{"tensor2-float_val", tensorRequest(2, true), 2},
	} {
		var trailer metadata.MD
		resp, err := stub.Predict(context.Background(), c.req, grpc.Trailer(&trailer))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkMatrix(t, resp, "output_alias", c.rows, 1000, 0.001)
		if len(resp.GetOutputs()) != 1 {
			t.Errorf("%s: outputs %v, want output_alias alone", c.name, resp.GetOutputs())
		}
		// The model spec is echoed, defaults filling what the request left empty.
		if s := resp.GetModelSpec(); s.GetName() != "resnet50" || s.GetSignatureName() != "serving_default" {
			t.Errorf("%s: model_spec %v", c.name, s)
		}
		if ids := trailer.Get("request-id"); len(ids) != 1 || !requestIDPattern.MatchString(ids[0]) {
			t.Errorf("%s: request-id %q", c.name, ids)
		}
	}

	req := imagesRequest([]byte("x"))
	req.ModelSpec = &pb.ModelSpec{Name: "m", SignatureName: "s"}
	req.OutputFilter = []string{"features", "output_alias"}
	resp, err := stub.Predict(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if s := resp.GetModelSpec(); s.GetName() != "m" || s.GetSignatureName() != "s" {
		t.Errorf("model_spec %v, want m/s echoed", s)
	}
	checkMatrix(t, resp, "output_alias", 1, 1000, 0.001)
	checkMatrix(t, resp, "features", 1, 2048, 0)

	req.OutputFilter = []string{"features"}
	if resp, err = stub.Predict(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, resp, "features", 1, 2048, 0)
	if len(resp.GetOutputs()) != 1 {
		t.Errorf("outputs %v, want features alone", resp.GetOutputs())
	}
}

func TestServeInvalidArgument(t *testing.T) {
	stub := rawStub(t, startNull(t, Config{}), "")
	tooMany := make([][]byte, 65)
	for i := range tooMany {
		tooMany[i] = []byte("x")
	}
	edit := func(req *pb.PredictRequest, f func(*pb.PredictRequest)) *pb.PredictRequest { f(req); return req }
	for _, c := range []struct {
		req  *pb.PredictRequest
		want string
	}{
		{&pb.PredictRequest{}, "missing input 'images'"},
		{&pb.PredictRequest{Inputs: map[string]*pb.TensorProto{"image": {Dtype: pb.DataType_DT_STRING}}}, "unknown input 'image'"},
		{edit(imagesRequest([]byte("x")), func(r *pb.PredictRequest) { r.Inputs["images"].Dtype = pb.DataType_DT_INT32 }), "has dtype DT_INT32"},
		{edit(imagesRequest([]byte("x")), func(r *pb.PredictRequest) { r.Inputs["images"].TensorShape = nil }), "must have shape [N], got []"},
		{edit(imagesRequest([]byte("x")), func(r *pb.PredictRequest) { r.Inputs["images"].TensorShape.Dim[0].Size = 2 }), "declares shape [2] but holds 1 images"},
		{imagesRequest(), "empty batch"},
		{imagesRequest([]byte("x"), nil), "image 1: image is empty"},
		{imagesRequest(tooMany...), "has 65 images; at most 64"},
		{edit(imagesRequest([]byte("x")), func(r *pb.PredictRequest) { r.OutputFilter = []string{"logits"} }), "unknown output 'logits'"},
		{edit(tensorRequest(1, false), func(r *pb.PredictRequest) { r.Inputs["images"].TensorShape.Dim[1].Size = 225 }), "must have shape [N, 224, 224, 3], got [1, 225, 224, 3]"},
		{edit(tensorRequest(1, false), func(r *pb.PredictRequest) { r.Inputs["images"].TensorContent = r.Inputs["images"].TensorContent[4:] }), "tensor_content has 602108 bytes"},
		{edit(tensorRequest(1, false), func(r *pb.PredictRequest) { r.Inputs["images"].FloatVal = []float32{1} }), "both tensor_content and float_val"},
		{edit(tensorRequest(1, false), func(r *pb.PredictRequest) { r.Inputs["images"].TensorContent = nil }), "float_val has 0 values"},
		{edit(tensorRequest(1, false), func(r *pb.PredictRequest) { r.Inputs["images"].TensorShape.Dim[0].Size = 0 }), "empty batch"},
		{edit(tensorRequest(1, false), func(r *pb.PredictRequest) { r.Inputs["images"].TensorShape.Dim[0].Size = -1 }), "negative dimension"},
	} {
		_, err := stub.Predict(context.Background(), c.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), c.want) {
			t.Errorf("want INVALID_ARGUMENT %q, got %v", c.want, err)
		}
	}
}

func TestServeAuth(t *testing.T) {
	certs := testCerts(t)
	const secret = "s3cret-key"
	stub := rawStub(t, startNull(t, Config{TLS: true, CertFile: certs.Server.Cert, KeyFile: certs.Server.Key, AccessKey: secret}), certs.CA)
	for _, c := range []struct {
		authorization []string
		want          codes.Code
	}{
		{nil, codes.Unauthenticated},
		{[]string{"wrong"}, codes.Unauthenticated},
		{[]string{secret + "x"}, codes.Unauthenticated},
		{[]string{""}, codes.Unauthenticated},
		{[]string{secret}, codes.OK},
		{[]string{"Bearer " + secret}, codes.OK},
	} {
		ctx := context.Background()
		for _, v := range c.authorization {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
		}
		var trailer metadata.MD
		_, err := stub.Predict(ctx, imagesRequest([]byte("x")), grpc.Trailer(&trailer))
		if status.Code(err) != c.want {
			t.Errorf("authorization %q: got %v, want %v", c.authorization, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the key: %v", err)
		}
		if len(trailer.Get("request-id")) != 1 {
			t.Errorf("authorization %q: no request-id in %v", c.authorization, trailer)
		}
	}
}

func TestServeFlags(t *testing.T) {
	certs := testCerts(t)
	cert, key := certs.Server.Cert, certs.Server.Key
	t.Setenv("FPGASCORE_BENCH_TEST_EMPTY", "")
	for _, args := range [][]string{
		{},                       // --port is required
		{"--port", "70000"},      // out of range
		{"--port", "0", "--tls"}, // no --cert/--key
		{"--port", "0", "--tls", "--cert", cert},
		{"--port", "0", "--cert", cert, "--key", key}, // no --tls
		{"--port", "0", "--key-env", "HOME"},          // no --tls
		{"--port", "0", "--tls", "--cert", cert, "--key", key, "--key-env", "FPGASCORE_BENCH_TEST_EMPTY"},
		{"--port", "0", "extra"},
		{"--nope"},
	} {
		var out, errOut bytes.Buffer
		if code := Command(context.Background(), args, &out, &errOut); code != 2 || out.Len() != 0 || errOut.Len() == 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := Command(context.Background(), []string{"--port", "0", "--tls", "--cert", cert, "--key", cert}, &out, &errOut); code != 1 {
		t.Errorf("unusable key file: exit %d, stderr %q", code, errOut.String())
	}
}

// TestServeCommand runs the whole serve command: the listening line with the real port, a
// call, then a graceful stop when the context ends (as on SIGINT/SIGTERM).
func TestServeCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	var errOut bytes.Buffer
	exited := make(chan int, 1)
	go func() {
		code := Command(ctx, []string{"--port", "0"}, stdoutW, &errOut)
		stdoutW.Close()
		exited <- code
	}()
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v", err)
	}
	m := regexp.MustCompile(`^listening on 127\.0\.0\.1:([0-9]+)\n$`).FindStringSubmatch(line)
	if m == nil || m[1] == "0" {
		t.Fatalf("listening line %q", line)
	}
	go io.Copy(io.Discard, stdoutR)
	resp, err := rawStub(t, "127.0.0.1:"+m[1], "").Predict(context.Background(), imagesRequest([]byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, resp, "output_alias", 1, 1000, 0.001)
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not stop")
	}
}
