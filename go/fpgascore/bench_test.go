package fpgascore

// BenchmarkClientVsRawStub measures the client's overhead (request building, auth, retry
// bookkeeping, decoding into Scores) against the bare generated stub on the same payload
// and the same in-process server; each client line reports the ratio client/raw ns/op
// (metric "client/raw"):
//
//	go test -run '^$' -bench ClientVsRawStub -benchmem ./fpgascore/

import (
	"context"
	"encoding/binary"
	"math"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

func BenchmarkClientVsRawStub(b *testing.B) {
	srv := startFake(b, nil, nil) // answers every call with a valid [N,1000] response
	image := testImage(b, "gradient.jpg")
	tensor := make([]float32, 224*224*3)
	for i := range tensor {
		tensor[i] = float32(i%255) - 127
	}
	payloads := []struct {
		name string
		rows int
		raw  func() *pb.PredictRequest
		cli  func(ctx context.Context, c *Client) (*Scores, error)
	}{
		{"image", 1,
			func() *pb.PredictRequest {
				return &pb.PredictRequest{
					ModelSpec: &pb.ModelSpec{Name: "resnet50", SignatureName: "serving_default"},
					Inputs: map[string]*pb.TensorProto{"images": {
						Dtype:       pb.DataType_DT_STRING,
						TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{{Size: 1}}},
						StringVal:   [][]byte{image},
					}},
				}
			},
			func(ctx context.Context, c *Client) (*Scores, error) { return c.ScoreImage(ctx, image) }},
		{"tensor-224x224x3", 1,
			func() *pb.PredictRequest {
				content := make([]byte, 4*len(tensor))
				for i, v := range tensor {
					binary.LittleEndian.PutUint32(content[4*i:], math.Float32bits(v))
				}
				return &pb.PredictRequest{
					ModelSpec: &pb.ModelSpec{Name: "resnet50", SignatureName: "serving_default"},
					Inputs: map[string]*pb.TensorProto{"images": {
						Dtype: pb.DataType_DT_FLOAT,
						TensorShape: &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dim{
							{Size: 1}, {Size: 224}, {Size: 224}, {Size: 3}}},
						TensorContent: content,
					}},
				}
			},
			func(ctx context.Context, c *Client) (*Scores, error) {
				return c.ScoreTensor(ctx, tensor, []int64{1, 224, 224, 3})
			}},
	}

	var mu sync.Mutex
	perOp := map[string]time.Duration{}
	record := func(name string, b *testing.B, start time.Time) {
		mu.Lock()
		defer mu.Unlock()
		perOp[name] = time.Since(start) / time.Duration(b.N) // the last (largest) run wins
	}

	for _, p := range payloads {
		p := p
		b.Run(p.name+"/raw-stub", func(b *testing.B) {
			conn, err := grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			stub := pb.NewPredictionServiceClient(conn)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				resp, err := stub.Predict(cctx, p.raw())
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				out := resp.GetOutputs()["output_alias"].GetTensorContent()
				values := make([]float32, len(out)/4)
				for j := range values {
					values[j] = math.Float32frombits(binary.LittleEndian.Uint32(out[4*j:]))
				}
				if len(values) != p.rows*NumClasses {
					b.Fatal(len(values))
				}
			}
			record(p.name+"/raw", b, start)
		})
		b.Run(p.name+"/client", func(b *testing.B) {
			c, err := NewClient(srv.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				s, err := p.cli(ctx, c)
				if err != nil {
					b.Fatal(err)
				}
				if s.Len() != p.rows {
					b.Fatal(s.Shape)
				}
			}
			record(p.name+"/client", b, start)
			mu.Lock()
			raw, cli := perOp[p.name+"/raw"], perOp[p.name+"/client"]
			mu.Unlock()
			if raw > 0 {
				b.ReportMetric(float64(cli)/float64(raw), "client/raw")
			}
		})
	}
}
