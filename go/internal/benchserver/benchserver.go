// Package benchserver is the native "null" server, the benchmark partner of bench/clients.py
// (bench/native_server.py runs it as go/internal/cmd/bench-null-server): it shows what a gRPC
// call costs when the server is native Go instead of the reference server (Python grpcio):
//
//	bench-null-server --port P [--host 127.0.0.1] [--tls --cert PEM --key PEM] [--key-env VAR]
//
// It lives under internal/ so that the published module's commands (cmd/...) do not offer it.
//
// It serves tensorflow.serving.PredictionService/Predict with no model work at all: every
// image scores a uniform 1/1000 per class, like the reference server's --null-model. The
// answer has the reference server's shape, so every client (Python, Go, C#) accepts it:
// model_spec echoes the request's (defaults "resnet50", "serving_default"); output
// "output_alias" is DT_FLOAT [N, 1000] in tensor_content (little-endian float32); an
// output_filter naming "features" also gets "features", DT_FLOAT [N, 2048] of zeros; every
// answer, success or error, has a "request-id" in its trailing metadata. N is the number of
// images: string_val count of a DT_STRING [N] input "images", or dimension 0 of a DT_FLOAT
// [N, 224, 224, 3] one (at most 64). The input is checked as the reference server checks it,
// short of decoding images or scanning floats for NaN; a request that breaks the contract is
// INVALID_ARGUMENT with a message saying how.
//
// With --key-env VAR (needs --tls) every call must carry the key held by VAR in "authorization"
// metadata (the raw key or "Bearer <key>", as the reference server accepts), else
// UNAUTHENTICATED. The key is never printed. Messages up to 64 MiB are accepted.
//
// On startup it prints one line to stdout, "listening on HOST:PORT" (the real port when
// --port is 0), then serves until SIGINT or SIGTERM, stops gracefully and exits 0. Bad flags:
// exit 2; cannot listen or serve: exit 1.
package benchserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// The contract's names and sizes (the reference server's defaults).
const (
	defaultModelName     = "resnet50"
	defaultSignatureName = "serving_default"
	inputName            = "images"
	outputName           = "output_alias"
	featuresName         = "features"
	numClasses           = 1000
	numFeatures          = 2048
	maxBatch             = 64
	floatsPerImage       = 224 * 224 * 3

	maxRecvMsgBytes = 64 << 20
	graceTimeout    = 10 * time.Second // GracefulStop's limit before in-flight calls are cut
	requestIDKey    = "request-id"
	authorizationMD = "authorization"
)

// Config is what the serve flags say.
type Config struct {
	Host      string
	Port      int
	TLS       bool
	CertFile  string
	KeyFile   string
	AccessKey string // from the variable --key-env names; empty: calls are not authenticated
}

func parseServeFlags(args []string, stderr io.Writer) (*Config, error) {
	cfg := &Config{}
	fs := flag.NewFlagSet("bench-null-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Host, "host", "127.0.0.1", "address to listen on")
	fs.IntVar(&cfg.Port, "port", -1, "port to listen on (required; 0 picks a free one)")
	fs.BoolVar(&cfg.TLS, "tls", false, "serve TLS (needs --cert and --key)")
	fs.StringVar(&cfg.CertFile, "cert", "", "PEM file of the server certificate chain (needs --tls)")
	fs.StringVar(&cfg.KeyFile, "key", "", "PEM file of the server private key (needs --tls)")
	keyEnv := fs.String("key-env", "", "name of the environment variable holding the access key calls must send (needs --tls)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, parseError{err}
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	case cfg.Port < 0 || cfg.Port > 65535:
		return nil, errors.New("--port is required (0-65535, 0 picks a free port)")
	case cfg.TLS && (cfg.CertFile == "" || cfg.KeyFile == ""):
		return nil, errors.New("--tls needs --cert and --key")
	case !cfg.TLS && (cfg.CertFile != "" || cfg.KeyFile != "" || *keyEnv != ""):
		return nil, errors.New("--cert, --key and --key-env need --tls")
	}
	if *keyEnv != "" {
		if cfg.AccessKey = os.Getenv(*keyEnv); cfg.AccessKey == "" {
			return nil, fmt.Errorf("the variable %s named by --key-env is empty", *keyEnv)
		}
	}
	return cfg, nil
}

// Command is `bench-null-server ARGS`: it serves until ctx ends (main cancels it on
// SIGINT/SIGTERM), then stops gracefully. It returns the exit code.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var pe parseError
		if !errors.As(err, &pe) {
			fmt.Fprintln(stderr, "bench-null-server:", err)
		}
		return 2
	}
	srv, lis, err := New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bench-null-server:", err)
		return 1
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	port := strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)
	fmt.Fprintf(stdout, "listening on %s\n", net.JoinHostPort(cfg.Host, port))

	select {
	case err := <-served: // Serve returns early only on a listener failure
		fmt.Fprintln(stderr, "bench-null-server:", err)
		return 1
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(graceTimeout):
		srv.Stop()
		<-stopped
	}
	return 0
}

// New listens on cfg's address and returns the gRPC server, not yet serving
// (srv.Serve(lis) serves), with the null PredictionService registered.
func New(cfg *Config) (*grpc.Server, net.Listener, error) {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxRecvMsgBytes),
		// The reference server's keepalive policy: pings every 10 s or more, calls or not.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if cfg.TLS {
		pair, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("loading --cert/--key: %w", err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{pair},
			MinVersion:   tls.VersionTLS12,
		})))
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, nil, err
	}
	srv := grpc.NewServer(opts...)
	pb.RegisterPredictionServiceServer(srv, newNullService(cfg.AccessKey))
	return srv, lis, nil
}

// nullService answers Predict without model work. Its buffers are built once and only read
// afterwards: a response's tensor_content is a prefix of them, shared by concurrent calls
// (marshalling only reads it).
type nullService struct {
	pb.UnimplementedPredictionServiceServer
	keyHash  *[sha256.Size]byte // SHA-256 of the access key; nil: no authentication
	scores   []byte             // maxBatch rows of numClasses little-endian float32 1/1000
	features []byte             // maxBatch rows of numFeatures float32 zeros
}

func newNullService(accessKey string) *nullService {
	row := make([]byte, 4*numClasses)
	for i := 0; i < numClasses; i++ {
		binary.LittleEndian.PutUint32(row[4*i:], math.Float32bits(1.0/numClasses))
	}
	s := &nullService{
		scores:   make([]byte, 0, maxBatch*len(row)),
		features: make([]byte, maxBatch*4*numFeatures),
	}
	for i := 0; i < maxBatch; i++ {
		s.scores = append(s.scores, row...)
	}
	if accessKey != "" {
		h := sha256.Sum256([]byte(accessKey))
		s.keyHash = &h
	}
	return s
}

// Predict is PredictionService/Predict.
func (s *nullService) Predict(ctx context.Context, req *pb.PredictRequest) (*pb.PredictResponse, error) {
	_ = grpc.SetTrailer(ctx, metadata.Pairs(requestIDKey, newRequestID()))
	if err := s.authenticate(ctx); err != nil {
		return nil, err
	}
	withScores, withFeatures, err := outputs(req.GetOutputFilter())
	if err != nil {
		return nil, err
	}
	n, err := batchSize(req.GetInputs())
	if err != nil {
		return nil, err
	}
	spec := &pb.ModelSpec{Name: req.GetModelSpec().GetName(), SignatureName: req.GetModelSpec().GetSignatureName()}
	if spec.Name == "" {
		spec.Name = defaultModelName
	}
	if spec.SignatureName == "" {
		spec.SignatureName = defaultSignatureName
	}
	resp := &pb.PredictResponse{ModelSpec: spec, Outputs: make(map[string]*pb.TensorProto, 2)}
	if withScores {
		resp.Outputs[outputName] = floatMatrix(n, numClasses, s.scores)
	}
	if withFeatures {
		resp.Outputs[featuresName] = floatMatrix(n, numFeatures, s.features)
	}
	return resp, nil
}

// floatMatrix is the DT_FLOAT [rows, columns] tensor of the first rows of buf.
func floatMatrix(rows, columns int, buf []byte) *pb.TensorProto {
	return &pb.TensorProto{
		Dtype:         pb.DataType_DT_FLOAT,
		TensorShape:   &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(rows)}, {Size: int64(columns)}}},
		TensorContent: buf[:4*rows*columns],
	}
}

// authenticate checks the "authorization" metadata when a key is set: the key, raw or as
// "Bearer <key>", compared in constant time (of the SHA-256 digests, so not even the key's
// length shows).
func (s *nullService) authenticate(ctx context.Context) error {
	if s.keyHash == nil {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get(authorizationMD)
	if len(values) == 0 {
		return status.Error(codes.Unauthenticated, "authorization missing: send the key in 'authorization' metadata")
	}
	presented := strings.TrimSpace(values[0])
	if len(presented) >= 7 && strings.EqualFold(presented[:7], "bearer ") {
		presented = strings.TrimSpace(presented[7:])
	}
	got := sha256.Sum256([]byte(presented))
	if subtle.ConstantTimeCompare(got[:], s.keyHash[:]) != 1 {
		return status.Error(codes.Unauthenticated, "authorization not accepted: send the key in 'authorization' metadata")
	}
	return nil
}

// outputs reads the output_filter: empty means output_alias alone.
func outputs(filter []string) (withScores, withFeatures bool, err error) {
	if len(filter) == 0 {
		return true, false, nil
	}
	var unknown []string
	for _, name := range filter {
		switch name {
		case outputName:
			withScores = true
		case featuresName:
			withFeatures = true
		default:
			unknown = append(unknown, quote(name))
		}
	}
	if len(unknown) > 0 {
		return false, false, invalid("unknown output %s; outputs are ['%s', '%s']", strings.Join(unknown, ", "), outputName, featuresName)
	}
	return withScores, withFeatures, nil
}

// batchSize checks the request's one input, "images", and returns its number of images.
func batchSize(inputs map[string]*pb.TensorProto) (int, error) {
	var unknown []string
	for name := range inputs {
		if name != inputName {
			unknown = append(unknown, quote(name))
		}
	}
	if len(unknown) > 0 {
		return 0, invalid("unknown input %s; expected exactly one input '%s'", strings.Join(unknown, ", "), inputName)
	}
	t, ok := inputs[inputName]
	if !ok {
		return 0, invalid("missing input '%s': expected exactly one input '%s', DT_STRING (JPEG/PNG bytes, shape [N]) "+
			"or DT_FLOAT (shape [N, 224, 224, 3])", inputName, inputName)
	}
	shape := make([]int64, len(t.GetTensorShape().GetDim()))
	for i, d := range t.GetTensorShape().GetDim() {
		if shape[i] = d.GetSize(); shape[i] < 0 {
			return 0, invalid("input '%s' has a negative dimension in shape %s", inputName, shapeString(t))
		}
	}
	unknownRank := t.GetTensorShape().GetUnknownRank()
	var n int
	switch t.GetDtype() {
	case pb.DataType_DT_STRING:
		if unknownRank || len(shape) != 1 {
			return 0, invalid("input '%s' (DT_STRING) must have shape [N], got %s", inputName, shapeString(t))
		}
		images := t.GetStringVal()
		if shape[0] != int64(len(images)) {
			return 0, invalid("input '%s' declares shape [%d] but holds %d images", inputName, shape[0], len(images))
		}
		if err := checkBatch(int64(len(images))); err != nil {
			return 0, err
		}
		for i, img := range images {
			if len(img) == 0 {
				return 0, invalid("image %d: image is empty (0 bytes)", i)
			}
		}
		n = len(images)
	case pb.DataType_DT_FLOAT:
		if unknownRank || len(shape) != 4 || shape[1] != 224 || shape[2] != 224 || shape[3] != 3 {
			return 0, invalid("input '%s' (DT_FLOAT) must have shape [N, 224, 224, 3], got %s", inputName, shapeString(t))
		}
		if err := checkBatch(shape[0]); err != nil {
			return 0, err
		}
		n = int(shape[0])
		want := n * floatsPerImage
		content, values := t.GetTensorContent(), t.GetFloatVal()
		switch {
		case len(content) > 0 && len(values) > 0:
			return 0, invalid("input '%s' sets both tensor_content and float_val; use one", inputName)
		case len(content) > 0 && len(content) != 4*want:
			return 0, invalid("input '%s' tensor_content has %d bytes; shape %s needs %d", inputName, len(content), shapeString(t), 4*want)
		case len(content) == 0 && len(values) != want:
			return 0, invalid("input '%s' float_val has %d values; shape %s needs %d", inputName, len(values), shapeString(t), want)
		}
	default:
		return 0, invalid("input '%s' has dtype %s; expected DT_STRING (JPEG/PNG bytes, shape [N]) or DT_FLOAT (shape [N, 224, 224, 3])",
			inputName, t.GetDtype())
	}
	return n, nil
}

// checkBatch checks the number of images, n: 1 to maxBatch.
func checkBatch(n int64) error {
	switch {
	case n < 1:
		return invalid("input '%s' is an empty batch; send at least one image", inputName)
	case n > maxBatch:
		return invalid("input '%s' has %d images; at most %d per request", inputName, n, maxBatch)
	}
	return nil
}

func invalid(format string, args ...interface{}) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

// quote is name in single quotes, as the reference server's messages show names.
func quote(name string) string { return "'" + name + "'" }

// shapeString is the tensor's shape as "[1, 224, 224, 3]".
func shapeString(t *pb.TensorProto) string {
	dims := make([]string, len(t.GetTensorShape().GetDim()))
	for i, d := range t.GetTensorShape().GetDim() {
		dims[i] = strconv.FormatInt(d.GetSize(), 10)
	}
	return "[" + strings.Join(dims, ", ") + "]"
}

// parseError is an error the flag package has already reported.
type parseError struct{ error }

// newRequestID is a random 32-hex-digit id, like the reference server's uuid4().hex.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
