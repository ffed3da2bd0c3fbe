package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/fpgascore/fpgascore/go/fpgascore"
	"github.com/fpgascore/fpgascore/go/fpgascorepb"
	cpb "github.com/fpgascore/fpgascore/go/internal/conformancepb"
)

const caseKey = "x-conformance-case"

// protocolVersion is the version of proto/fpgascore/conformance/v1/driver.proto spoken here.
const protocolVersion = "1.1"

// unmarshal reads canonical JSON of either field-name spelling and ignores unknown fields,
// as the protocol asks of every reader.
var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

func metadataOf(m *fpgascore.ModelMetadata) *cpb.ModelMetadata {
	list := func(specs []fpgascore.TensorSpec) []*cpb.TensorSpec {
		out := make([]*cpb.TensorSpec, 0, len(specs))
		for _, s := range specs {
			shape := make([]int32, len(s.Shape))
			for i, d := range s.Shape {
				shape[i] = int32(d)
			}
			out = append(out, &cpb.TensorSpec{Name: s.Name, Dtype: s.DType, Shape: shape})
		}
		return out
	}
	return &cpb.ModelMetadata{ModelName: m.ModelName, Version: m.Version, SignatureName: m.SignatureName,
		Inputs: list(m.Inputs), Outputs: list(m.Outputs)}
}

// helloAnswer is the driver's first line.
func helloAnswer() *cpb.HelloAnswer {
	return &cpb.HelloAnswer{ProtocolVersion: protocolVersion, Driver: "fpgascore-conformance",
		Client: "github.com/fpgascore/fpgascore/go", ClientVersion: fpgascore.Version, Language: "go"}
}

// badRequest is a line that is not a valid request.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func bad(format string, args ...interface{}) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

type driver struct {
	errOut   io.Writer
	sessions map[string]*fpgascore.Client
}

func newDriver(errOut io.Writer) *driver {
	return &driver{errOut: errOut, sessions: map[string]*fpgascore.Client{}}
}

func (d *driver) closeSessions() {
	for _, c := range d.sessions {
		c.Close()
	}
}

// handleLine answers one request line; it never panics out.
func (d *driver) handleLine(line []byte) (resp *cpb.DriverAnswer) {
	resp = &cpb.DriverAnswer{}
	defer func() {
		if r := recover(); r != nil {
			resp.Results = nil
			resp.Error = fmt.Sprintf("driver failure: panic: %v", r)
		}
	}()
	req := &cpb.DriverRequest{}
	if err := unmarshal.Unmarshal(line, req); err != nil {
		resp.Error = "bad request: " + err.Error()
		return resp
	}
	resp.Id = req.GetId()
	results, err := d.handle(req)
	if err != nil {
		var br *badRequest
		prefix := "driver failure: "
		if errors.As(err, &br) {
			prefix = "bad request: "
		}
		resp.Error = prefix + err.Error()
		return resp
	}
	resp.Results = results
	return resp
}

// work is one call to make with a client and a context: scores, or (action "metadata")
// the model's metadata.
type work func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, *fpgascore.ModelMetadata, error)

func (d *driver) handle(req *cpb.DriverRequest) ([]*cpb.CallResult, error) {
	calls, concurrency := orDefault(req.GetCalls(), 1), orDefault(req.GetConcurrency(), 1)
	k := 5
	if req.TopK != nil {
		k = int(req.GetTopK())
	}
	if calls < 1 || concurrency < 1 || k < 0 {
		return nil, bad("'calls' and 'concurrency' must be >= 1, 'top_k' >= 0")
	}
	var call work
	switch action := req.GetAction(); action {
	case cpb.Action_ACTION_NONE:
	case cpb.Action_ACTION_METADATA:
		call = func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, *fpgascore.ModelMetadata, error) {
			m, err := c.ModelMetadata(ctx)
			return nil, m, err
		}
	case cpb.Action_ACTION_IMAGES, cpb.Action_ACTION_TENSOR, cpb.Action_ACTION_REQUEST:
		scoring, err := makeWork(req, action)
		if err != nil {
			return nil, err
		}
		call = func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, *fpgascore.ModelMetadata, error) {
			scores, err := scoring(ctx, c)
			return scores, nil, err
		}
	default:
		return nil, bad("'action' must be ACTION_IMAGES, ACTION_TENSOR, ACTION_REQUEST, ACTION_METADATA or ACTION_NONE, not %v", action)
	}

	md := map[string]string{}
	for key, value := range req.GetMetadata() {
		md[strings.ToLower(key)] = value
	}
	baseCase := md[caseKey]

	var client *fpgascore.Client
	session := req.GetSession()
	if session != "" {
		client = d.sessions[session]
	}
	if client == nil {
		opts, target, err := clientOptions(req)
		if err != nil {
			return nil, err
		}
		c, err := fpgascore.NewClient(target, opts...)
		if err != nil {
			return []*cpb.CallResult{failed(err, "")}, nil
		}
		client = c
		if session != "" {
			d.sessions[session] = c
		} else {
			defer c.Close()
		}
	}
	if call == nil {
		return []*cpb.CallResult{{Code: cpb.Code_OK}}, nil
	}

	one := func(i int) *cpb.CallResult {
		pairs := make([]string, 0, 2*len(md))
		for key, value := range md {
			if key == caseKey && calls > 1 && baseCase != "" {
				value = fmt.Sprintf("%s#%d", baseCase, i+1)
			}
			pairs = append(pairs, key, value)
		}
		var info fpgascore.CallInfo
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if after := req.GetCancelAfterMs(); after > 0 { // the caller cancels the call's context
			stop := time.AfterFunc(time.Duration(after)*time.Millisecond, cancel)
			defer stop.Stop()
		}
		ctx = fpgascore.WithCallInfo(metadata.AppendToOutgoingContext(ctx, pairs...), &info)
		scores, meta, err := call(ctx, client)
		var result *cpb.CallResult
		switch {
		case err != nil:
			result = failed(err, info.RequestID)
		case meta != nil:
			result = &cpb.CallResult{Code: cpb.Code_OK, RequestId: info.RequestID, Metadata: metadataOf(meta)}
		default:
			result = succeeded(scores, k, info.RequestID)
		}
		result.Trailers = textTrailers(info.Trailer)
		return result
	}
	results := make([]*cpb.CallResult, calls)
	if concurrency > 1 {
		var wg sync.WaitGroup
		slots := make(chan struct{}, concurrency)
		for i := 0; i < calls; i++ {
			wg.Add(1)
			slots <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-slots }()
				results[i] = one(i)
			}(i)
		}
		wg.Wait()
	} else {
		for i := range results {
			results[i] = one(i)
		}
	}
	return results, nil
}

// orDefault is n, or def when n is 0 (the field's "absent").
func orDefault(n int32, def int) int {
	if n == 0 {
		return def
	}
	return int(n)
}

func clientOptions(req *cpb.DriverRequest) ([]fpgascore.Option, string, error) {
	if req.GetHost() == "" || req.GetPort() == 0 {
		return nil, "", bad("'host' and 'port' are required")
	}
	if req.GetPort() < 1 || req.GetPort() > 65535 {
		return nil, "", bad("'port' %d is out of range", req.GetPort())
	}
	target := net.JoinHostPort(req.GetHost(), strconv.Itoa(int(req.GetPort())))
	var opts []fpgascore.Option
	if req.GetUseSsl() {
		opts = append(opts, fpgascore.WithTLS())
		if f := req.GetRootCertificatesFile(); f != "" {
			opts = append(opts, fpgascore.WithRootCAFile(f))
		}
		if name := req.GetServerNameOverride(); name != "" {
			opts = append(opts, fpgascore.WithServerNameOverride(name))
		}
	}
	if req.AccessToken != nil {
		opts = append(opts, fpgascore.WithAccessToken(req.GetAccessToken()))
	}
	if req.SecondaryAccessToken != nil {
		opts = append(opts, fpgascore.WithSecondaryAccessToken(req.GetSecondaryAccessToken()))
	}
	switch req.GetAuthScheme() {
	case cpb.AuthScheme_AUTH_SCHEME_UNSPECIFIED, cpb.AuthScheme_AUTH_SCHEME_RAW:
	case cpb.AuthScheme_AUTH_SCHEME_BEARER:
		opts = append(opts, fpgascore.WithBearerScheme())
	default:
		return nil, "", bad("unknown 'auth_scheme' %v", req.GetAuthScheme())
	}
	if req.ModelName != nil {
		opts = append(opts, fpgascore.WithModelName(req.GetModelName()))
	}
	if req.SignatureName != nil {
		opts = append(opts, fpgascore.WithSignatureName(req.GetSignatureName()))
	}
	if req.GetAllowInsecureKey() {
		opts = append(opts, fpgascore.WithAllowInsecureKey())
	}
	if req.TimeoutMs != nil {
		if req.GetTimeoutMs() <= 0 {
			return nil, "", bad("'timeout_ms' must be positive")
		}
		opts = append(opts, fpgascore.WithTimeout(time.Duration(req.GetTimeoutMs())*time.Millisecond))
	}
	if r := req.GetRetry(); r != nil {
		p := fpgascore.DefaultRetryPolicy()
		if r.MaxAttempts != nil {
			if r.GetMaxAttempts() < 1 {
				return nil, "", bad("'retry.max_attempts' must be >= 1")
			}
			p.MaxAttempts = int(r.GetMaxAttempts())
		}
		if r.InitialBackoffMs != nil {
			p.InitialBackoff = time.Duration(r.GetInitialBackoffMs()) * time.Millisecond
		}
		if r.MaxBackoffMs != nil {
			p.MaxBackoff = time.Duration(r.GetMaxBackoffMs()) * time.Millisecond
		}
		if r.Multiplier != nil {
			p.Multiplier = r.GetMultiplier()
		}
		if p.InitialBackoff <= 0 || p.MaxBackoff < p.InitialBackoff || p.Multiplier < 1 {
			return nil, "", bad("bad 'retry': backoffs must be > 0 with max >= initial, multiplier >= 1")
		}
		opts = append(opts, fpgascore.WithRetryPolicy(p))
	}
	return opts, target, nil
}

// scoringWork is one scoring call.
type scoringWork func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, error)

func makeWork(req *cpb.DriverRequest, action cpb.Action) (scoringWork, error) {
	switch action {
	case cpb.Action_ACTION_IMAGES:
		paths := req.GetImages()
		return func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, error) {
			images := make([][]byte, len(paths))
			for i, p := range paths {
				data, err := os.ReadFile(p)
				if err != nil {
					return nil, err
				}
				images[i] = data
			}
			return c.ScoreImages(ctx, images)
		}, nil
	case cpb.Action_ACTION_TENSOR:
		if req.GetTensorFile() == "" || len(req.GetTensorShape()) == 0 {
			return nil, bad("ACTION_TENSOR needs 'tensor_file' and 'tensor_shape'")
		}
		path := req.GetTensorFile()
		shape := make([]int64, len(req.GetTensorShape()))
		for i, d := range req.GetTensorShape() {
			shape[i] = int64(d)
		}
		return func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, error) {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			values := make([]float32, len(data)/4)
			for i := range values {
				values[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			}
			return c.ScoreTensor(ctx, values, shape)
		}, nil
	default: // ACTION_REQUEST
		if req.GetRequestFile() == "" {
			return nil, bad("ACTION_REQUEST needs 'request_file'")
		}
		path := req.GetRequestFile()
		return func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, error) {
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			var raw fpgascorepb.PredictRequest
			if err := proto.Unmarshal(data, &raw); err != nil {
				return nil, err
			}
			// The file's inputs and output_filter with the client's own model spec.
			resp, err := c.Predict(ctx, &fpgascorepb.PredictRequest{Inputs: raw.Inputs, OutputFilter: raw.OutputFilter})
			if err != nil {
				return nil, err
			}
			return c.DecodeScores(resp)
		}, nil
	}
}

func failed(err error, requestID string) *cpb.CallResult {
	var e *fpgascore.Error
	if errors.As(err, &e) {
		return &cpb.CallResult{Code: cpb.Code(e.Code), Message: e.Message, RequestId: e.RequestID}
	}
	return &cpb.CallResult{Code: cpb.Code(fpgascore.ErrorCode(err)), Message: err.Error(), RequestId: requestID}
}

func succeeded(s *fpgascore.Scores, k int, requestID string) *cpb.CallResult {
	r := &cpb.CallResult{Code: cpb.Code_OK, RequestId: requestID, Shape: []int32{int32(s.Len()), int32(s.Width())}}
	r.TopK = make([]*cpb.TopK, s.Len())
	for i := 0; i < s.Len(); i++ {
		row := &cpb.TopK{Predictions: make([]*cpb.Prediction, 0, k)}
		for _, p := range s.RowTopK(i, k) {
			row.Predictions = append(row.Predictions, &cpb.Prediction{ClassId: int32(p.ClassID), Score: p.Score})
		}
		r.TopK[i] = row
	}
	return r
}

// textTrailers is a call's trailing metadata for the answer: text keys, the first value of each.
func textTrailers(md metadata.MD) map[string]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string]string, len(md))
	for key, values := range md {
		if len(values) > 0 && !strings.HasSuffix(key, "-bin") {
			out[key] = values[0]
		}
	}
	return out
}
