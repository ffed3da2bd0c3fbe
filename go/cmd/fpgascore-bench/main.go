// Command fpgascore-bench measures call latency, throughput and client CPU against an
// fpgascore server, through the client package (mode client) or the bare generated stub
// (mode stub). The Python and C# clients have the same command with the same flags and
// the same output:
//
//	fpgascore-bench --host H --port P [--tls --ca PEM_FILE [--server-name NAME]]
//	    --payload jpeg|batch8|tensor --image PATH --concurrency N --calls M
//	    [--warmup W] --mode client|stub
//
// N goroutines first make W warm-up calls each (not measured); then the M measured calls,
// split across the goroutines, are timed one by one. Process CPU (user+system, getrusage)
// is taken over the measured phase. The result is one JSON line on stdout:
//
//	{"language":"go","mode":"client","payload":"jpeg","concurrency":4,"tls":false,
//	 "calls":2000,"p50_ms":..,"p90_ms":..,"p99_ms":..,"throughput_per_s":..,"cpu_ms_per_call":..}
//
// Percentiles interpolate linearly between the closest ranks (numpy's default). A failed
// call stops the run: exit 1, the error on stderr, nothing on stdout. Bad flags: exit 2.
//
// In mode client every call builds its request through the fpgascore package; in mode stub
// every call builds a fresh PredictRequest by hand (the images' bytes as they are, the
// tensor's float32 values encoded to little-endian bytes), calls the generated stub and
// decodes the scores by hand: both modes do the work of a user scoring new images each call.
//
// The same binary is also a native null server, the benchmark partner that does no model
// work (see serve.go):
//
//	fpgascore-bench serve --port P [--host 127.0.0.1] [--tls --cert PEM --key PEM] [--key-env VAR]
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fpgascore/fpgascore/go/fpgascore"
	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// callTimeout is the deadline of every call in both modes (the client's default).
const callTimeout = fpgascore.DefaultTimeout

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := serveCommand(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the flags say.
type config struct {
	host, port  string
	tls         bool
	ca          string
	serverName  string
	key         string // from the variable --key-env names; never a flag value
	payload     string // jpeg, batch8, tensor
	image       string
	concurrency int
	calls       int
	warmup      int
	mode        string // client, stub
}

// result is the JSON line printed; the field order is the one the three languages share.
type result struct {
	Language       string  `json:"language"`
	Mode           string  `json:"mode"`
	Payload        string  `json:"payload"`
	Concurrency    int     `json:"concurrency"`
	TLS            bool    `json:"tls"`
	Calls          int     `json:"calls"`
	P50Ms          float64 `json:"p50_ms"`
	P90Ms          float64 `json:"p90_ms"`
	P99Ms          float64 `json:"p99_ms"`
	ThroughputPerS float64 `json:"throughput_per_s"`
	CPUMsPerCall   float64 `json:"cpu_ms_per_call"`
}

// run is the command: it returns the exit code (0, 1 for a failed run, 2 for bad flags).
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var pe parseError
		if !errors.As(err, &pe) { // the flag package printed its own error and the usage
			fmt.Fprintln(stderr, "fpgascore-bench:", err)
		}
		return 2
	}
	res, err := benchmark(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fpgascore-bench:", err)
		return 1
	}
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(stderr, "fpgascore-bench:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("fpgascore-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.host, "host", "", "server host (required)")
	port := fs.Int("port", 0, "server port (required)")
	fs.BoolVar(&cfg.tls, "tls", false, "use TLS (system roots unless --ca)")
	fs.StringVar(&cfg.ca, "ca", "", "PEM file of the roots to trust (needs --tls)")
	fs.StringVar(&cfg.serverName, "server-name", "", "name checked in the server certificate (needs --tls)")
	keyEnv := fs.String("key-env", "", "name of the environment variable holding the key (needs --tls)")
	fs.StringVar(&cfg.payload, "payload", "", "jpeg (one image), batch8 (the image 8 times) or tensor ([1,224,224,3] float32, all 0.5)")
	fs.StringVar(&cfg.image, "image", "", "image file sent by the jpeg and batch8 payloads")
	fs.IntVar(&cfg.concurrency, "concurrency", 0, "number of concurrent workers (required, >= 1)")
	fs.IntVar(&cfg.calls, "calls", 0, "measured calls in total, split across the workers (required, >= 1)")
	fs.IntVar(&cfg.warmup, "warmup", 20, "warm-up calls per worker, not measured")
	fs.StringVar(&cfg.mode, "mode", "", "client (the fpgascore package) or stub (the raw generated stub)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, parseError{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case cfg.host == "":
		return nil, errors.New("--host is required")
	case *port <= 0 || *port > 65535:
		return nil, errors.New("--port is required (1-65535)")
	case cfg.payload != "jpeg" && cfg.payload != "batch8" && cfg.payload != "tensor":
		return nil, fmt.Errorf("--payload must be jpeg, batch8 or tensor, not %q", cfg.payload)
	case cfg.mode != "client" && cfg.mode != "stub":
		return nil, fmt.Errorf("--mode must be client or stub, not %q", cfg.mode)
	case cfg.payload != "tensor" && cfg.image == "":
		return nil, fmt.Errorf("--image is required for --payload %s", cfg.payload)
	case cfg.concurrency < 1:
		return nil, errors.New("--concurrency must be at least 1")
	case cfg.calls < 1:
		return nil, errors.New("--calls must be at least 1")
	case cfg.warmup < 0:
		return nil, errors.New("--warmup cannot be negative")
	case !cfg.tls && (cfg.ca != "" || cfg.serverName != "" || *keyEnv != ""):
		return nil, errors.New("--ca, --server-name and --key-env need --tls")
	}
	if *keyEnv != "" {
		if cfg.key = os.Getenv(*keyEnv); cfg.key == "" {
			return nil, fmt.Errorf("the variable %s named by --key-env is empty", *keyEnv)
		}
	}
	cfg.port = strconv.Itoa(*port)
	return cfg, nil
}

// parseError is an error the flag package has already reported.
type parseError struct{ error }

// payload is the data every call sends (the image bytes, the float32 values), read or made
// once before the run; each call builds its request from it.
type payload struct {
	images [][]byte  // jpeg, batch8
	tensor []float32 // tensor: 1*224*224*3 values
	rows   int       // images per call, the rows of the [rows, 1000] response
}

var tensorShape = []int64{1, fpgascore.ImageSize, fpgascore.ImageSize, fpgascore.ImageChannels}

func buildPayload(cfg *config) (*payload, error) {
	switch cfg.payload {
	case "tensor":
		values := make([]float32, fpgascore.ImageSize*fpgascore.ImageSize*fpgascore.ImageChannels)
		for i := range values {
			values[i] = 0.5
		}
		return &payload{tensor: values, rows: 1}, nil
	default:
		data, err := os.ReadFile(cfg.image)
		if err != nil {
			return nil, fmt.Errorf("reading --image: %w", err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("--image %s is empty", cfg.image)
		}
		n := 1
		if cfg.payload == "batch8" {
			n = 8
		}
		images := make([][]byte, n)
		for i := range images {
			images[i] = data // the same bytes, n times
		}
		return &payload{images: images, rows: n}, nil
	}
}

// caller makes one call, request building included; the factory newCallers returns gives
// each worker its own caller (set up before timing).
type caller func(ctx context.Context) error

// newCallers sets up the mode's connection and returns a caller factory and a closer.
func newCallers(cfg *config, p *payload) (func() caller, func(), error) {
	target := net.JoinHostPort(cfg.host, cfg.port)
	if cfg.mode == "client" {
		return clientCallers(cfg, target, p)
	}
	return stubCallers(cfg, target, p)
}

// clientCallers: one fpgascore.Client shared by all workers; it builds the request on
// every call (part of what is measured).
func clientCallers(cfg *config, target string, p *payload) (func() caller, func(), error) {
	opts := []fpgascore.Option{fpgascore.WithRetryPolicy(fpgascore.NoRetries())}
	if cfg.tls {
		opts = append(opts, fpgascore.WithTLS())
		if cfg.ca != "" {
			opts = append(opts, fpgascore.WithRootCAFile(cfg.ca))
		}
		if cfg.serverName != "" {
			opts = append(opts, fpgascore.WithServerNameOverride(cfg.serverName))
		}
		if cfg.key != "" {
			opts = append(opts, fpgascore.WithAccessToken(cfg.key))
		}
	}
	client, err := fpgascore.NewClient(target, opts...)
	if err != nil {
		return nil, nil, err
	}
	check := func(s *fpgascore.Scores, err error) error {
		if err != nil {
			return err
		}
		if s.Len() != p.rows || s.Width() != fpgascore.NumClasses {
			return fmt.Errorf("response has shape %v, expected [%d, %d]", s.Shape, p.rows, fpgascore.NumClasses)
		}
		return nil
	}
	factory := func() caller {
		if p.tensor != nil {
			return func(ctx context.Context) error { return check(client.ScoreTensor(ctx, p.tensor, tensorShape)) }
		}
		return func(ctx context.Context) error { return check(client.ScoreImages(ctx, p.images)) }
	}
	return factory, func() { client.Close() }, nil
}

// stubCallers: the raw generated stub on one grpc.ClientConn shared by all workers. Every
// call builds a fresh PredictRequest by hand (part of what is measured, as in mode client)
// and decodes the scores by hand.
func stubCallers(cfg *config, target string, p *payload) (func() caller, func(), error) {
	var dial []grpc.DialOption
	if cfg.key != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(&fpgascore.AccessTokenCredentials{Key: cfg.key}))
	}
	if cfg.tls {
		tlsCfg := &tls.Config{ServerName: cfg.serverName, MinVersion: tls.VersionTLS12}
		if cfg.ca != "" {
			pemData, err := os.ReadFile(cfg.ca)
			if err != nil {
				return nil, nil, fmt.Errorf("reading --ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemData) {
				return nil, nil, fmt.Errorf("--ca %s holds no PEM certificate", cfg.ca)
			}
			tlsCfg.RootCAs = pool
		}
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	} else {
		dial = append(dial, grpc.WithInsecure())
	}
	conn, err := grpc.Dial(target, dial...)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot set up a connection to %s: %w", target, err)
	}
	stub := pb.NewPredictionServiceClient(conn)

	factory := func() caller {
		return func(ctx context.Context) error {
			req := &pb.PredictRequest{
				ModelSpec: &pb.ModelSpec{Name: "resnet50", SignatureName: "serving_default"},
				Inputs:    map[string]*pb.TensorProto{"images": stubInput(p)},
			}
			resp, err := stub.Predict(ctx, req)
			if err != nil {
				return err
			}
			values, err := decodeOutput(resp)
			if err != nil {
				return err
			}
			if len(values) != p.rows*fpgascore.NumClasses {
				return fmt.Errorf("output_alias has %d values, expected %d", len(values), p.rows*fpgascore.NumClasses)
			}
			return nil
		}
	}
	return factory, func() { conn.Close() }, nil
}

// stubInput is the "images" tensor of one stub-mode call, built as a user of the raw stub
// builds it: the images as DT_STRING [N] (the same byte slices, not copies), or the float32
// values as DT_FLOAT [1, 224, 224, 3] encoded into a new little-endian tensor_content.
func stubInput(p *payload) *pb.TensorProto {
	if p.tensor == nil {
		return &pb.TensorProto{
			Dtype:       pb.DataType_DT_STRING,
			TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(len(p.images))}}},
			StringVal:   p.images,
		}
	}
	dims := make([]*pb.TensorShapeProto_Dim, len(tensorShape))
	for i, d := range tensorShape {
		dims[i] = &pb.TensorShapeProto_Dim{Size: d}
	}
	content := make([]byte, 4*len(p.tensor))
	for i, v := range p.tensor {
		binary.LittleEndian.PutUint32(content[4*i:4*i+4], math.Float32bits(v))
	}
	return &pb.TensorProto{
		Dtype:         pb.DataType_DT_FLOAT,
		TensorShape:   &pb.TensorShapeProto{Dim: dims},
		TensorContent: content,
	}
}

// decodeOutput reads the "output_alias" float tensor: tensor_content (little-endian
// float32) when set, else float_val.
func decodeOutput(resp *pb.PredictResponse) ([]float32, error) {
	t, ok := resp.GetOutputs()["output_alias"]
	if !ok || t == nil {
		return nil, errors.New("response has no output_alias")
	}
	if content := t.GetTensorContent(); len(content) > 0 {
		if len(content)%4 != 0 {
			return nil, fmt.Errorf("output_alias tensor_content has %d bytes, not a multiple of 4", len(content))
		}
		values := make([]float32, len(content)/4)
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(content[4*i:]))
		}
		return values, nil
	}
	return t.GetFloatVal(), nil
}

// benchmark runs the warm-up and measured phases and computes the result.
func benchmark(ctx context.Context, cfg *config) (*result, error) {
	p, err := buildPayload(cfg)
	if err != nil {
		return nil, err
	}
	factory, closeConn, err := newCallers(cfg, p)
	if err != nil {
		return nil, err
	}
	defer closeConn()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	call := func(c caller) error {
		cctx, ccancel := context.WithTimeout(ctx, callTimeout)
		defer ccancel()
		return c(cctx)
	}

	latencies := make([][]time.Duration, cfg.concurrency)
	callers := make([]caller, cfg.concurrency)
	for w := range callers {
		callers[w] = factory()
		n := cfg.calls / cfg.concurrency
		if w < cfg.calls%cfg.concurrency {
			n++
		}
		latencies[w] = make([]time.Duration, 0, n)
	}

	var warm, done sync.WaitGroup
	start := make(chan struct{})
	warm.Add(cfg.concurrency)
	done.Add(cfg.concurrency)
	for w := 0; w < cfg.concurrency; w++ {
		go func(w int) {
			defer done.Done()
			c := callers[w]
			for i := 0; i < cfg.warmup; i++ {
				if err := call(c); err != nil {
					fail(fmt.Errorf("warm-up call failed: %w", err))
					break
				}
			}
			warm.Done()
			<-start
			for i := 0; i < cap(latencies[w]) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				err := call(c)
				elapsed := time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("call failed: %w", err))
					return
				}
				latencies[w] = append(latencies[w], elapsed)
			}
		}(w)
	}
	warm.Wait()
	cpu0, err := processCPU()
	if err != nil {
		close(start)
		done.Wait()
		return nil, err
	}
	t0 := time.Now()
	close(start)
	done.Wait()
	wall := time.Since(t0)
	cpu1, err := processCPU()
	if firstErr != nil {
		return nil, firstErr
	}
	if err != nil {
		return nil, err
	}

	all := make([]time.Duration, 0, cfg.calls)
	for _, l := range latencies {
		all = append(all, l...)
	}
	if len(all) != cfg.calls {
		return nil, fmt.Errorf("made %d measured calls, expected %d", len(all), cfg.calls)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return &result{
		Language:       "go",
		Mode:           cfg.mode,
		Payload:        cfg.payload,
		Concurrency:    cfg.concurrency,
		TLS:            cfg.tls,
		Calls:          cfg.calls,
		P50Ms:          round3(percentileMs(all, 50)),
		P90Ms:          round3(percentileMs(all, 90)),
		P99Ms:          round3(percentileMs(all, 99)),
		ThroughputPerS: round3(float64(cfg.calls) / wall.Seconds()),
		CPUMsPerCall:   round3(float64(cpu1-cpu0) / float64(time.Millisecond) / float64(cfg.calls)),
	}, nil
}

// processCPU is the user+system CPU time of the process so far.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// percentileMs is the p-th percentile of sorted durations in milliseconds, interpolated
// linearly between the closest ranks (numpy's default method).
func percentileMs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	v := float64(sorted[lo]) + (rank-float64(lo))*float64(sorted[hi]-sorted[lo])
	return v / float64(time.Millisecond)
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
