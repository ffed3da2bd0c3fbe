package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
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
	"google.golang.org/protobuf/proto"

	"github.com/fpgascore/fpgascore/go/fpgascore"
	"github.com/fpgascore/fpgascore/go/fpgascorepb"
)

const caseKey = "x-conformance-case"

// request is one line of input. Pointers tell "absent or null" from a value.
type request struct {
	ID                   json.RawMessage   `json:"id"`
	Host                 *string           `json:"host"`
	Port                 *int              `json:"port"`
	UseSSL               *bool             `json:"use_ssl"`
	RootCertificatesFile *string           `json:"root_certificates_file"`
	ServerNameOverride   *string           `json:"server_name_override"`
	AccessToken          *string           `json:"access_token"`
	SecondaryAccessToken *string           `json:"secondary_access_token"`
	AuthScheme           *string           `json:"auth_scheme"`
	AllowInsecureKey     *bool             `json:"allow_insecure_key"`
	TimeoutMS            *float64          `json:"timeout_ms"`
	Retry                *retrySpec        `json:"retry"`
	Metadata             map[string]string `json:"metadata"`
	Action               *string           `json:"action"`
	Images               []string          `json:"images"`
	TensorFile           *string           `json:"tensor_file"`
	TensorShape          []int64           `json:"tensor_shape"`
	RequestFile          *string           `json:"request_file"`
	Calls                *int              `json:"calls"`
	Concurrency          *int              `json:"concurrency"`
	TopK                 *int              `json:"top_k"`
	Session              *string           `json:"session"`
	ModelName            *string           `json:"model_name"`
	SignatureName        *string           `json:"signature_name"`
}

type retrySpec struct {
	MaxAttempts      *int     `json:"max_attempts"`
	InitialBackoffMS *float64 `json:"initial_backoff_ms"`
	MaxBackoffMS     *float64 `json:"max_backoff_ms"`
	Multiplier       *float64 `json:"multiplier"`
}

type response struct {
	ID      json.RawMessage `json:"id"`
	Results []result        `json:"results"`
	Error   *string         `json:"error"`
}

type result struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	RequestID string            `json:"request_id"`
	Shape     []int64           `json:"shape"`
	TopK      [][][]interface{} `json:"top_k"` // per row: [class_id, score] pairs
	Metadata  *metadataResult   `json:"metadata,omitempty"`
}

// metadataResult is what action "metadata" reports: inputs and outputs as [name, dtype, shape].
type metadataResult struct {
	ModelName     string          `json:"model_name"`
	Version       *int64          `json:"version"`
	SignatureName string          `json:"signature_name"`
	Inputs        [][]interface{} `json:"inputs"`
	Outputs       [][]interface{} `json:"outputs"`
}

func metadataOf(m *fpgascore.ModelMetadata) *metadataResult {
	list := func(specs []fpgascore.TensorSpec) [][]interface{} {
		out := make([][]interface{}, 0, len(specs))
		for _, s := range specs {
			out = append(out, []interface{}{s.Name, s.DType, s.Shape})
		}
		return out
	}
	return &metadataResult{ModelName: m.ModelName, Version: m.Version, SignatureName: m.SignatureName,
		Inputs: list(m.Inputs), Outputs: list(m.Outputs)}
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

// handleLine answers one input line; it never panics out.
func (d *driver) handleLine(line []byte) (resp response) {
	resp.ID = json.RawMessage("null")
	defer func() {
		if r := recover(); r != nil {
			resp.Results = []result{}
			resp.Error = strPtr(fmt.Sprintf("driver failure: panic: %v", r))
		}
	}()
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(line, &probe); err != nil {
		return response{ID: resp.ID, Results: []result{}, Error: strPtr("bad request: " + err.Error())}
	}
	if id, ok := probe["id"]; ok {
		resp.ID = id
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&req); err != nil {
		return response{ID: resp.ID, Results: []result{}, Error: strPtr("bad request: " + err.Error())}
	}
	results, err := d.handle(&req)
	if err != nil {
		var br *badRequest
		prefix := "driver failure: "
		if errors.As(err, &br) {
			prefix = "bad request: "
		}
		return response{ID: resp.ID, Results: []result{}, Error: strPtr(prefix + err.Error())}
	}
	resp.Results = results
	return resp
}

// work is one call to make with a client and a context: scores, or (action "metadata")
// the model's metadata.
type work func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, *fpgascore.ModelMetadata, error)

func (d *driver) handle(req *request) ([]result, error) {
	action := "images"
	if req.Action != nil {
		action = *req.Action
	}
	calls, concurrency, k := intOr(req.Calls, 1), intOr(req.Concurrency, 1), intOr(req.TopK, 5)
	if calls < 1 || concurrency < 1 || k < 0 {
		return nil, bad("'calls' and 'concurrency' must be >= 1, 'top_k' >= 0")
	}
	var call work
	switch action {
	case "none":
	case "metadata":
		call = func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, *fpgascore.ModelMetadata, error) {
			m, err := c.ModelMetadata(ctx)
			return nil, m, err
		}
	case "images", "tensor", "request":
		scoring, err := makeWork(req, action)
		if err != nil {
			return nil, err
		}
		call = func(ctx context.Context, c *fpgascore.Client) (*fpgascore.Scores, *fpgascore.ModelMetadata, error) {
			scores, err := scoring(ctx, c)
			return scores, nil, err
		}
	default:
		return nil, bad("'action' must be images, tensor, request, metadata or none, not %q", action)
	}

	md := map[string]string{}
	for key, value := range req.Metadata {
		md[strings.ToLower(key)] = value
	}
	baseCase := md[caseKey]

	var client *fpgascore.Client
	session := ""
	if req.Session != nil {
		session = *req.Session
		client = d.sessions[session]
	}
	if client == nil {
		opts, target, err := clientOptions(req)
		if err != nil {
			return nil, err
		}
		c, err := fpgascore.NewClient(target, opts...)
		if err != nil {
			return []result{failed(err, "")}, nil
		}
		client = c
		if session != "" {
			d.sessions[session] = c
		} else {
			defer c.Close()
		}
	}
	if call == nil {
		return []result{{Code: "OK"}}, nil
	}

	one := func(i int) result {
		pairs := make([]string, 0, 2*len(md))
		for key, value := range md {
			if key == caseKey && calls > 1 && baseCase != "" {
				value = fmt.Sprintf("%s#%d", baseCase, i+1)
			}
			pairs = append(pairs, key, value)
		}
		var info fpgascore.CallInfo
		ctx := fpgascore.WithCallInfo(metadata.AppendToOutgoingContext(context.Background(), pairs...), &info)
		scores, meta, err := call(ctx, client)
		if err != nil {
			return failed(err, info.RequestID)
		}
		if meta != nil {
			return result{Code: "OK", RequestID: info.RequestID, Metadata: metadataOf(meta)}
		}
		return succeeded(scores, k, info.RequestID)
	}
	results := make([]result, calls)
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

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func clientOptions(req *request) ([]fpgascore.Option, string, error) {
	if req.Host == nil || *req.Host == "" || req.Port == nil {
		return nil, "", bad("'host' and 'port' are required")
	}
	if *req.Port < 1 || *req.Port > 65535 {
		return nil, "", bad("'port' %d is out of range", *req.Port)
	}
	target := net.JoinHostPort(*req.Host, strconv.Itoa(*req.Port))
	var opts []fpgascore.Option
	if req.UseSSL != nil && *req.UseSSL {
		opts = append(opts, fpgascore.WithTLS())
		if req.RootCertificatesFile != nil && *req.RootCertificatesFile != "" {
			opts = append(opts, fpgascore.WithRootCAFile(*req.RootCertificatesFile))
		}
		if req.ServerNameOverride != nil && *req.ServerNameOverride != "" {
			opts = append(opts, fpgascore.WithServerNameOverride(*req.ServerNameOverride))
		}
	}
	if req.AccessToken != nil {
		opts = append(opts, fpgascore.WithAccessToken(*req.AccessToken))
	}
	if req.SecondaryAccessToken != nil {
		opts = append(opts, fpgascore.WithSecondaryAccessToken(*req.SecondaryAccessToken))
	}
	if req.AuthScheme != nil {
		switch strings.ToLower(*req.AuthScheme) {
		case "raw", "":
		case "bearer":
			opts = append(opts, fpgascore.WithBearerScheme())
		default:
			return nil, "", bad("'auth_scheme' must be raw or bearer, not %q", *req.AuthScheme)
		}
	}
	if req.ModelName != nil {
		opts = append(opts, fpgascore.WithModelName(*req.ModelName))
	}
	if req.SignatureName != nil {
		opts = append(opts, fpgascore.WithSignatureName(*req.SignatureName))
	}
	if req.AllowInsecureKey != nil && *req.AllowInsecureKey {
		opts = append(opts, fpgascore.WithAllowInsecureKey())
	}
	if req.TimeoutMS != nil {
		if *req.TimeoutMS <= 0 || math.IsNaN(*req.TimeoutMS) || math.IsInf(*req.TimeoutMS, 0) {
			return nil, "", bad("'timeout_ms' must be positive")
		}
		opts = append(opts, fpgascore.WithTimeout(time.Duration(*req.TimeoutMS*float64(time.Millisecond))))
	}
	if r := req.Retry; r != nil {
		p := fpgascore.DefaultRetryPolicy()
		if r.MaxAttempts != nil {
			if *r.MaxAttempts < 1 {
				return nil, "", bad("'retry.max_attempts' must be >= 1")
			}
			p.MaxAttempts = *r.MaxAttempts
		}
		if r.InitialBackoffMS != nil {
			p.InitialBackoff = time.Duration(*r.InitialBackoffMS * float64(time.Millisecond))
		}
		if r.MaxBackoffMS != nil {
			p.MaxBackoff = time.Duration(*r.MaxBackoffMS * float64(time.Millisecond))
		}
		if r.Multiplier != nil {
			p.Multiplier = *r.Multiplier
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

func makeWork(req *request, action string) (scoringWork, error) {
	switch action {
	case "images":
		paths := req.Images
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
	case "tensor":
		if req.TensorFile == nil || *req.TensorFile == "" || req.TensorShape == nil {
			return nil, bad("action 'tensor' needs 'tensor_file' and an integer list 'tensor_shape'")
		}
		path, shape := *req.TensorFile, req.TensorShape
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
	default: // request
		if req.RequestFile == nil || *req.RequestFile == "" {
			return nil, bad("action 'request' needs 'request_file'")
		}
		path := *req.RequestFile
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

func failed(err error, requestID string) result {
	var e *fpgascore.Error
	if errors.As(err, &e) {
		return result{Code: fpgascore.CodeName(e.Code), Message: e.Message, RequestID: e.RequestID}
	}
	return result{Code: fpgascore.CodeName(fpgascore.ErrorCode(err)), Message: err.Error(), RequestID: requestID}
}

func succeeded(s *fpgascore.Scores, k int, requestID string) result {
	r := result{Code: "OK", RequestID: requestID, Shape: []int64{int64(s.Len()), int64(s.Width())}}
	r.TopK = make([][][]interface{}, s.Len())
	for i := 0; i < s.Len(); i++ {
		row := make([][]interface{}, 0, k)
		for _, p := range s.RowTopK(i, k) {
			var score interface{} // null for a non-finite score, which JSON cannot hold
			if f := float64(p.Score); !math.IsNaN(f) && !math.IsInf(f, 0) {
				score = json.Number(strconv.FormatFloat(f, 'g', -1, 32))
			}
			row = append(row, []interface{}{p.ClassID, score})
		}
		r.TopK[i] = row
	}
	return r
}
