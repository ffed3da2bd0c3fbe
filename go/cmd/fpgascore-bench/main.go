// Command fpgascore-bench measures call latency, throughput and client CPU against an
// fpgascore server, through the client package (mode client) or the bare generated stub
// (mode stub). The Python and C# clients have the same command with the same flags and
// the same output:
//
//	fpgascore-bench --host H --port P [--tls --ca PEM_FILE [--server-name NAME]]
//	    --payload jpeg|batch8|tensor --image PATH --concurrency N --calls M
//	    [--warmup W] --mode client|stub|A/B [--phase-calls K]
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
// Paired mode, --mode A/B (A and B each client or stub: client/stub, stub/client, the A/A
// test stub/stub, client/client), measures both sides in this one process, so that drift
// between processes does not hide a small difference. Each side is set up as its single
// mode sets itself up (its own connection). Each goroutine makes W warm-up calls on A, then
// W on B. The measured calls run in phases of one side each, in the order A B B A A B B A
// ..., with a barrier between phases; in a phase each goroutine makes max(1, K/N) calls
// (K = --phase-calls, default 40), and both sides get the same number of phases, enough for
// at least M calls each. Process CPU and the clock are read at every phase boundary and
// count toward the phase's side. The output is two JSON lines, side A then side B, each the
// single-mode line of that side (its "mode", its calls) plus a last field "side": "a" or "b".
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
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

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
	mode        string   // client, stub, or two of them joined by "/" (paired mode)
	sides       []string // the mode of each side: one (single mode), or two (paired: A, B)
	phaseCalls  int      // paired mode: calls per phase, split across the workers
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
	Side           string  `json:"side,omitempty"` // paired mode only: "a" or "b"
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
	results, err := measure(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fpgascore-bench:", err)
		return 1
	}
	lines, err := jsonLines(results)
	if err != nil {
		fmt.Fprintln(stderr, "fpgascore-bench:", err)
		return 1
	}
	fmt.Fprint(stdout, lines)
	return 0
}

// measure runs the benchmark --mode asks for: one result in single mode, two (side A,
// then side B) in paired mode.
func measure(ctx context.Context, cfg *config) ([]*result, error) {
	if len(cfg.sides) == 2 {
		return benchmarkPaired(ctx, cfg)
	}
	res, err := benchmark(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return []*result{res}, nil
}

// jsonLines is the results as JSON, one line each, all encoded before any is printed.
func jsonLines(results []*result) (string, error) {
	var b strings.Builder
	for _, res := range results {
		line, err := json.Marshal(res)
		if err != nil {
			return "", fmt.Errorf("encoding the result: %w", err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String(), nil
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
	fs.StringVar(&cfg.payload, "payload", "", "jpeg (one image), batch8 (8 copies of the image) or tensor ([1,224,224,3] float32, all 0.5)")
	fs.StringVar(&cfg.image, "image", "", "image file sent by the jpeg and batch8 payloads")
	fs.IntVar(&cfg.concurrency, "concurrency", 0, "number of concurrent workers (required, >= 1)")
	fs.IntVar(&cfg.calls, "calls", 0, "measured calls in total, split across the workers (required, >= 1)")
	fs.IntVar(&cfg.warmup, "warmup", 20, "warm-up calls per worker, not measured")
	fs.StringVar(&cfg.mode, "mode", "", "client (the fpgascore package), stub (the raw generated stub), "+
		"or both in one process, paired A/B: client/stub, stub/client, stub/stub or client/client")
	fs.IntVar(&cfg.phaseCalls, "phase-calls", 40, "paired mode: calls per phase, split across the workers (>= 1)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, parseError{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	sides, modeErr := parseMode(cfg.mode)
	switch {
	case cfg.host == "":
		return nil, errors.New("--host is required")
	case *port <= 0 || *port > 65535:
		return nil, errors.New("--port is required (1-65535)")
	case cfg.payload != "jpeg" && cfg.payload != "batch8" && cfg.payload != "tensor":
		return nil, fmt.Errorf("--payload must be jpeg, batch8 or tensor, not %q", cfg.payload)
	case modeErr != nil:
		return nil, modeErr
	case cfg.payload != "tensor" && cfg.image == "":
		return nil, fmt.Errorf("--image is required for --payload %s", cfg.payload)
	case cfg.concurrency < 1:
		return nil, errors.New("--concurrency must be at least 1")
	case cfg.calls < 1:
		return nil, errors.New("--calls must be at least 1")
	case cfg.warmup < 0:
		return nil, errors.New("--warmup cannot be negative")
	case cfg.phaseCalls < 1:
		return nil, errors.New("--phase-calls must be at least 1")
	case !cfg.tls && (cfg.ca != "" || cfg.serverName != "" || *keyEnv != ""):
		return nil, errors.New("--ca, --server-name and --key-env need --tls")
	}
	if *keyEnv != "" {
		if cfg.key = os.Getenv(*keyEnv); cfg.key == "" {
			return nil, fmt.Errorf("the variable %s named by --key-env is empty", *keyEnv)
		}
	}
	cfg.port = strconv.Itoa(*port)
	cfg.sides = sides
	return cfg, nil
}

// modes are the values --mode accepts: a single mode, or a paired mode "A/B".
var modes = []string{"client", "stub", "client/stub", "stub/client", "stub/stub", "client/client"}

// parseMode splits --mode into the modes of its sides: one for client or stub, two (A, B)
// for a paired mode.
func parseMode(mode string) ([]string, error) {
	for _, m := range modes {
		if mode == m {
			return strings.Split(mode, "/"), nil
		}
	}
	return nil, fmt.Errorf("--mode must be one of %s, not %q", strings.Join(modes, ", "), mode)
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
		// n distinct copies: n images in memory, as a real batch is (the same slice n times
		// would stay in the CPU cache).
		images := make([][]byte, n)
		for i := range images {
			images[i] = append([]byte(nil), data...)
		}
		return &payload{images: images, rows: n}, nil
	}
}

// caller makes one call, request building included; the factory newCallers returns gives
// each worker its own caller (set up before timing).
type caller func(ctx context.Context) error

// newCallers sets up the connection of mode (client or stub) and returns a caller factory
// and a closer.
func newCallers(cfg *config, mode string, p *payload) (func() caller, func(), error) {
	target := net.JoinHostPort(cfg.host, cfg.port)
	if mode == "client" {
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
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	// passthrough, as the client does with a host:port target (NewClient's default is dns).
	conn, err := grpc.NewClient("passthrough:///"+target, dial...)
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

// benchmark runs the warm-up and measured phases of single mode and computes the result.
func benchmark(ctx context.Context, cfg *config) (*result, error) {
	p, err := buildPayload(cfg)
	if err != nil {
		return nil, err
	}
	factory, closeConn, err := newCallers(cfg, cfg.mode, p)
	if err != nil {
		return nil, err
	}
	defer closeConn()

	g := newRunGuard(ctx)
	defer g.cancel()

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
			if err := warmUp(g, callers[w], cfg.warmup); err != nil {
				g.fail(err)
			}
			warm.Done()
			<-start
			if err := timeCalls(g, callers[w], cap(latencies[w]), &latencies[w]); err != nil {
				g.fail(err)
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
	if g.stopped() {
		return nil, g.failure()
	}
	if err != nil {
		return nil, err
	}

	all := mergeLatencies(latencies)
	if len(all) != cfg.calls {
		return nil, fmt.Errorf("made %d measured calls, expected %d", len(all), cfg.calls)
	}
	return summarize(cfg, cfg.mode, all, wall, cpu1-cpu0), nil
}

// runGuard stops a run at its first failure: it cancels the calls under way and keeps the
// failure.
type runGuard struct {
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	err    error
}

func newRunGuard(ctx context.Context) *runGuard {
	ctx, cancel := context.WithCancel(ctx)
	return &runGuard{ctx: ctx, cancel: cancel}
}

// fail keeps err if it is the run's first failure and cancels the run.
func (g *runGuard) fail(err error) {
	g.once.Do(func() { g.err = err; g.cancel() })
}

// stopped tells whether the run has failed (or its context has ended).
func (g *runGuard) stopped() bool { return g.ctx.Err() != nil }

// failure is why the run stopped. Read it only after the workers that may fail have
// signalled (a WaitGroup) that they are done.
func (g *runGuard) failure() error {
	if g.err != nil {
		return g.err
	}
	return g.ctx.Err()
}

// call makes one call under the per-call deadline.
func (g *runGuard) call(c caller) error {
	ctx, cancel := context.WithTimeout(g.ctx, callTimeout)
	defer cancel()
	return c(ctx)
}

// warmUp makes n calls that are not measured; it stops at the first failure, its own (which
// it returns) or the run's.
func warmUp(g *runGuard, c caller, n int) error {
	for i := 0; i < n && !g.stopped(); i++ {
		if err := g.call(c); err != nil {
			return fmt.Errorf("warm-up call failed: %w", err)
		}
	}
	return nil
}

// timeCalls makes n calls, timed one by one, and appends their latencies to latencies; it
// stops at the first failure, its own (which it returns) or the run's.
func timeCalls(g *runGuard, c caller, n int, latencies *[]time.Duration) error {
	for i := 0; i < n && !g.stopped(); i++ {
		t0 := time.Now()
		err := g.call(c)
		elapsed := time.Since(t0)
		if err != nil {
			return fmt.Errorf("call failed: %w", err)
		}
		*latencies = append(*latencies, elapsed)
	}
	return nil
}

// mergeLatencies is the workers' latencies in one slice.
func mergeLatencies(perWorker [][]time.Duration) []time.Duration {
	var all []time.Duration
	for _, l := range perWorker {
		all = append(all, l...)
	}
	return all
}

// summarize is the result line of one mode's measured calls: the percentiles of their
// latencies (which it sorts), their throughput over the wall time they took, and the process
// CPU time they used per call.
func summarize(cfg *config, mode string, latencies []time.Duration, wall, cpu time.Duration) *result {
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	calls := len(latencies)
	return &result{
		Language:       "go",
		Mode:           mode,
		Payload:        cfg.payload,
		Concurrency:    cfg.concurrency,
		TLS:            cfg.tls,
		Calls:          calls,
		P50Ms:          round3(percentileMs(latencies, 50)),
		P90Ms:          round3(percentileMs(latencies, 90)),
		P99Ms:          round3(percentileMs(latencies, 99)),
		ThroughputPerS: round3(float64(calls) / wall.Seconds()),
		CPUMsPerCall:   round3(float64(cpu) / float64(time.Millisecond) / float64(calls)),
	}
}

// benchmarkPaired runs a paired mode: it sets up both sides, then the paired run (see
// pairedRun), and returns side A's result, then side B's.
func benchmarkPaired(ctx context.Context, cfg *config) ([]*result, error) {
	p, err := buildPayload(cfg)
	if err != nil {
		return nil, err
	}
	plan := planPhases(cfg.calls, cfg.phaseCalls, cfg.concurrency)
	var sides []*side
	defer func() {
		for _, s := range sides {
			s.closeConn()
		}
	}()
	for i, mode := range cfg.sides {
		s, err := setUpSide(cfg, sideNames[i], mode, p, plan.callsPerWorker())
		if err != nil {
			return nil, err
		}
		sides = append(sides, s)
	}

	g := newRunGuard(ctx)
	defer g.cancel()
	run := newPairedRun(g, sides, plan, cfg.warmup)
	if err := run.measurePhases(); err != nil {
		return nil, err
	}

	results := make([]*result, len(sides))
	for i, s := range sides {
		res, err := s.result(cfg, plan.callsPerWorker()*cfg.concurrency)
		if err != nil {
			return nil, err
		}
		results[i] = res
	}
	return results, nil
}

// sideNames are the "side" fields of a paired run's two lines, A's then B's.
var sideNames = []string{"a", "b"}

// side is one side of a paired run: its mode, its own connection, a caller per worker, and
// what its phases measured.
type side struct {
	name      string // "a" or "b"
	mode      string // client or stub
	callers   []caller
	closeConn func()
	latencies [][]time.Duration // per worker, over all the side's phases
	wall, cpu time.Duration     // sums over the side's phases
}

// setUpSide sets up one side of a paired run as its single mode sets itself up: its own
// connection (newCallers) and a caller per worker, with room for each worker's calls.
func setUpSide(cfg *config, name, mode string, p *payload, callsPerWorker int) (*side, error) {
	factory, closeConn, err := newCallers(cfg, mode, p)
	if err != nil {
		return nil, fmt.Errorf("setting up side %s (%s): %w", name, mode, err)
	}
	s := &side{
		name:      name,
		mode:      mode,
		callers:   make([]caller, cfg.concurrency),
		closeConn: closeConn,
		latencies: make([][]time.Duration, cfg.concurrency),
	}
	for w := range s.callers {
		s.callers[w] = factory()
		s.latencies[w] = make([]time.Duration, 0, callsPerWorker)
	}
	return s, nil
}

// String names the side in errors: "side a (client)".
func (s *side) String() string { return fmt.Sprintf("side %s (%s)", s.name, s.mode) }

// result is the side's line: the single-mode fields over the side's calls, wall time and
// CPU time, and the side's name.
func (s *side) result(cfg *config, wantCalls int) (*result, error) {
	all := mergeLatencies(s.latencies)
	if len(all) != wantCalls {
		return nil, fmt.Errorf("%s made %d measured calls, expected %d", s, len(all), wantCalls)
	}
	res := summarize(cfg, s.mode, all, s.wall, s.cpu)
	res.Side = s.name
	return res, nil
}

// phasePlan is the measured part of a paired run: how many phases each side gets, how many
// calls each worker makes in a phase, and the order of the sides.
type phasePlan struct {
	perWorker     int   // calls of each worker in one phase
	phasesPerSide int   // phases of each side, the same for both
	order         []int // the side of each phase: 0 (A) or 1 (B)
}

// abba is the order of the sides in each block of four phases; it cancels order effects.
var abba = [4]int{0, 1, 1, 0}

// planPhases plans the phases of a paired run: each of the workers makes max(1, phaseCalls /
// workers) calls per phase, and each side gets the fewest phases that make at least calls
// calls, in the order A B B A A B B A ...
func planPhases(calls, phaseCalls, workers int) phasePlan {
	perWorker := phaseCalls / workers
	if perWorker < 1 {
		perWorker = 1
	}
	perPhase := perWorker * workers
	phasesPerSide := (calls + perPhase - 1) / perPhase
	order := make([]int, 2*phasesPerSide)
	for i := range order {
		order[i] = abba[i%len(abba)]
	}
	return phasePlan{perWorker: perWorker, phasesPerSide: phasesPerSide, order: order}
}

// callsPerWorker is how many measured calls each worker makes on each side.
func (p phasePlan) callsPerWorker() int { return p.perWorker * p.phasesPerSide }

// pairedRun is the timed part of a paired run: one goroutine per worker, and the
// coordinator (measurePhases) that starts each phase, waits for all its calls, and reads the
// process CPU and the clock at every phase boundary.
type pairedRun struct {
	guard   *runGuard
	sides   []*side
	plan    phasePlan
	warmup  int
	phases  []chan *side   // per worker: the side of each phase to run; closed at the end
	warm    sync.WaitGroup // the workers' warm-ups
	inPhase sync.WaitGroup // the calls of the current phase
}

func newPairedRun(g *runGuard, sides []*side, plan phasePlan, warmup int) *pairedRun {
	r := &pairedRun{guard: g, sides: sides, plan: plan, warmup: warmup,
		phases: make([]chan *side, len(sides[0].callers))}
	for w := range r.phases {
		r.phases[w] = make(chan *side, 1)
	}
	return r
}

// measurePhases starts the workers, waits for their warm-ups, then runs the planned phases one
// after the other: a phase starts when all calls of the one before have ended, and its wall
// and CPU time (boundary to boundary) count toward its side.
func (r *pairedRun) measurePhases() error {
	r.warm.Add(len(r.phases))
	for w := range r.phases {
		go r.worker(w)
	}
	defer func() {
		for _, ch := range r.phases {
			close(ch)
		}
	}()
	r.warm.Wait()
	if r.guard.stopped() {
		return r.guard.failure()
	}

	prev, err := readBoundary()
	if err != nil {
		return err
	}
	for _, i := range r.plan.order {
		s := r.sides[i]
		r.runPhase(s)
		next, err := readBoundary()
		if err != nil {
			return err
		}
		if r.guard.stopped() {
			return r.guard.failure()
		}
		s.wall += next.at.Sub(prev.at)
		s.cpu += next.cpu - prev.cpu
		prev = next
	}
	return nil
}

// runPhase starts one phase of side s on every worker and waits until all its calls ended
// (the barrier between phases).
func (r *pairedRun) runPhase(s *side) {
	r.inPhase.Add(len(r.phases))
	for _, ch := range r.phases {
		ch <- s
	}
	r.inPhase.Wait()
}

// worker is worker w: its warm-up calls on side A, then on side B, then its calls of each
// phase the coordinator starts, on that phase's side, until the coordinator ends the run.
func (r *pairedRun) worker(w int) {
	for _, s := range r.sides {
		if err := warmUp(r.guard, s.callers[w], r.warmup); err != nil {
			r.guard.fail(fmt.Errorf("%s: %w", s, err))
			break
		}
	}
	r.warm.Done()
	for s := range r.phases[w] {
		if err := timeCalls(r.guard, s.callers[w], r.plan.perWorker, &s.latencies[w]); err != nil {
			r.guard.fail(fmt.Errorf("%s: %w", s, err))
		}
		r.inPhase.Done()
	}
}

// boundary is what is read at a phase boundary: the process CPU time and the monotonic
// clock.
type boundary struct {
	cpu time.Duration
	at  time.Time
}

func readBoundary() (boundary, error) {
	cpu, err := processCPU()
	if err != nil {
		return boundary{}, err
	}
	return boundary{cpu: cpu, at: time.Now()}, nil
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
