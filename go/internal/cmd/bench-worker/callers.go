package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fpgascore/fpgascore/go/fpgascore"
	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// caller makes one call, building its request and checking the scores; one caller serves all
// the workers of a side.
type caller func(ctx context.Context) error

// payload is what every call sends, read or made once before the run.
type payload struct {
	images [][]byte  // jpeg, batch8: distinct copies of the image
	tensor []float32 // tensor: 1*224*224*3 values, all 0.5
	rows   int       // images per call, the rows of the [rows, 1000] scores
}

var tensorShape = []int64{1, fpgascore.ImageSize, fpgascore.ImageSize, fpgascore.ImageChannels}

func loadPayload(p *plan) (*payload, error) {
	if p.Payload == "tensor" {
		values := make([]float32, tensorShape[1]*tensorShape[2]*tensorShape[3])
		for i := range values {
			values[i] = 0.5
		}
		return &payload{tensor: values, rows: 1}, nil
	}
	data, err := os.ReadFile(p.Image)
	if err != nil || len(data) == 0 {
		return nil, fmt.Errorf("reading the image %s: %v (%d bytes)", p.Image, err, len(data))
	}
	n := 1
	if p.Payload == "batch8" {
		n = 8
	}
	// n distinct copies: n images in memory, as a real batch is (the same slice n times would
	// stay in the CPU cache).
	images := make([][]byte, n)
	for i := range images {
		images[i] = append([]byte(nil), data...)
	}
	return &payload{images: images, rows: n}, nil
}

// newCaller sets up the connection of mode (client or stub): the caller and its closer.
func newCaller(p *plan, mode string, pl *payload) (caller, func(), error) {
	target := net.JoinHostPort(p.Host, strconv.Itoa(p.Port))
	if mode == "client" {
		return clientCaller(p, target, pl)
	}
	return stubCaller(p, target, pl)
}

// clientCaller is the public API: one fpgascore.Client, retries off.
func clientCaller(p *plan, target string, pl *payload) (caller, func(), error) {
	opts := []fpgascore.Option{fpgascore.WithRetryPolicy(fpgascore.NoRetries())}
	if p.TLS {
		opts = append(opts, fpgascore.WithTLS())
		if p.CA != "" {
			opts = append(opts, fpgascore.WithRootCAFile(p.CA))
		}
		if p.key != "" {
			opts = append(opts, fpgascore.WithAccessToken(p.key))
		}
	}
	client, err := fpgascore.NewClient(target, opts...)
	if err != nil {
		return nil, nil, err
	}
	call := func(ctx context.Context) error {
		var s *fpgascore.Scores
		var err error
		if pl.tensor != nil {
			s, err = client.ScoreTensor(ctx, pl.tensor, tensorShape)
		} else {
			s, err = client.ScoreImages(ctx, pl.images)
		}
		if err == nil && (s.Len() != pl.rows || s.Width() != fpgascore.NumClasses) {
			err = fmt.Errorf("scores of shape %v, expected [%d, %d]", s.Shape, pl.rows, fpgascore.NumClasses)
		}
		return err
	}
	return call, func() { client.Close() }, nil
}

// stubCaller is the raw generated stub on its own grpc.ClientConn: every call builds a fresh
// PredictRequest by hand, as the client does, and decodes the scores by hand.
func stubCaller(p *plan, target string, pl *payload) (caller, func(), error) {
	creds := insecure.NewCredentials()
	if p.TLS {
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if p.CA != "" {
			pemData, err := os.ReadFile(p.CA)
			if err != nil {
				return nil, nil, fmt.Errorf("reading the CA: %w", err)
			}
			tlsCfg.RootCAs = x509.NewCertPool()
			if !tlsCfg.RootCAs.AppendCertsFromPEM(pemData) {
				return nil, nil, fmt.Errorf("the CA %s holds no PEM certificate", p.CA)
			}
		}
		creds = credentials.NewTLS(tlsCfg)
	}
	dial := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if p.key != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(&fpgascore.AccessTokenCredentials{Key: p.key}))
	}
	// passthrough, as the client does with a host:port target (NewClient's default is dns).
	conn, err := grpc.NewClient("passthrough:///"+target, dial...)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot set up a connection to %s: %w", target, err)
	}
	stub := pb.NewPredictionServiceClient(conn)
	call := func(ctx context.Context) error {
		resp, err := stub.Predict(ctx, &pb.PredictRequest{
			ModelSpec: &pb.ModelSpec{Name: "resnet50", SignatureName: "serving_default"},
			Inputs:    map[string]*pb.TensorProto{"images": stubInput(pl)},
		})
		if err != nil {
			return err
		}
		values, err := decodeOutput(resp)
		if err == nil && len(values) != pl.rows*fpgascore.NumClasses {
			err = fmt.Errorf("output_alias has %d values, expected %d", len(values), pl.rows*fpgascore.NumClasses)
		}
		return err
	}
	return call, func() { conn.Close() }, nil
}

// stubInput is the "images" tensor of one stub call, built as a user of the raw stub builds
// it: the images as DT_STRING [N], or the float32 values encoded into a new little-endian
// tensor_content of a DT_FLOAT [1, 224, 224, 3].
func stubInput(pl *payload) *pb.TensorProto {
	if pl.tensor == nil {
		return &pb.TensorProto{
			Dtype:       pb.DataType_DT_STRING,
			TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: int64(len(pl.images))}}},
			StringVal:   pl.images,
		}
	}
	dims := make([]*pb.TensorShapeProto_Dim, len(tensorShape))
	for i, d := range tensorShape {
		dims[i] = &pb.TensorShapeProto_Dim{Size: d}
	}
	content := make([]byte, 4*len(pl.tensor))
	for i, v := range pl.tensor {
		binary.LittleEndian.PutUint32(content[4*i:], math.Float32bits(v))
	}
	return &pb.TensorProto{Dtype: pb.DataType_DT_FLOAT, TensorShape: &pb.TensorShapeProto{Dim: dims}, TensorContent: content}
}

// decodeOutput reads the "output_alias" floats: tensor_content (little-endian) when set, else
// float_val.
func decodeOutput(resp *pb.PredictResponse) ([]float32, error) {
	t := resp.GetOutputs()["output_alias"]
	if t == nil {
		return nil, errors.New("response has no output_alias")
	}
	content := t.GetTensorContent()
	if len(content) == 0 {
		return t.GetFloatVal(), nil
	}
	if len(content)%4 != 0 {
		return nil, fmt.Errorf("output_alias tensor_content has %d bytes, not a multiple of 4", len(content))
	}
	values := make([]float32, len(content)/4)
	for i := range values {
		values[i] = math.Float32frombits(binary.LittleEndian.Uint32(content[4*i:]))
	}
	return values, nil
}
