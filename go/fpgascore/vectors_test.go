package fpgascore

// The shared wire vectors (tests/vectors): the client must build exactly these request
// bytes and decode these responses to exactly these floats.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

type vectorsFile struct {
	ModelName     string   `json:"model_name"`
	SignatureName string   `json:"signature_name"`
	InputName     string   `json:"input_name"`
	OutputName    string   `json:"output_name"`
	ImagesHex     []string `json:"images_hex"`
	FloatTensor   struct {
		Shape  []int64   `json:"shape"`
		Values []float64 `json:"values"`
	} `json:"float_tensor"`
	ResponseScores struct {
		Shape  []int64   `json:"shape"`
		Values []float64 `json:"values"`
	} `json:"response_scores"`
}

func loadVectors(t *testing.T) (vectorsFile, string) {
	t.Helper()
	dir := filepath.Join(repoRoot(), "tests", "vectors")
	data, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorsFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v, dir
}

func readVector(t *testing.T, dir, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func marshalDeterministic(t *testing.T, m proto.Message) []byte {
	t.Helper()
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// vectorClient is a client with default options and no connection: enough to build requests.
func vectorClient() *Client { return &Client{opts: defaultOptions()} }

func TestWireVectorImagesRequest(t *testing.T) {
	v, dir := loadVectors(t)
	if v.ModelName != DefaultModelName || v.SignatureName != DefaultSignatureName ||
		v.InputName != DefaultInputName || v.OutputName != DefaultOutputName {
		t.Fatalf("vectors.json names differ from the client defaults: %+v", v)
	}
	var images [][]byte
	for _, h := range v.ImagesHex {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, b)
	}
	if err := checkImages(images); err != nil {
		t.Fatal(err)
	}
	got := marshalDeterministic(t, vectorClient().newRequest(imagesTensor(images)))
	want := readVector(t, dir, "predict_request_images.bin")
	if !bytes.Equal(got, want) {
		t.Fatalf("images request bytes differ:\n got %x\nwant %x", got, want)
	}
}

func TestWireVectorFloatTensorRequest(t *testing.T) {
	v, dir := loadVectors(t)
	values := make([]float32, len(v.FloatTensor.Values))
	for i, f := range v.FloatTensor.Values {
		values[i] = float32(f)
	}
	if math.Signbit(float64(values[5])) != true {
		t.Fatalf("vector value 5 should be -0.0")
	}
	got := marshalDeterministic(t, vectorClient().newRequest(floatTensor(values, v.FloatTensor.Shape)))
	want := readVector(t, dir, "predict_request_float_tensor.bin")
	if !bytes.Equal(got, want) {
		t.Fatalf("float tensor request bytes differ:\n got %x\nwant %x", got, want)
	}
}

func TestWireVectorResponses(t *testing.T) {
	v, dir := loadVectors(t)
	for _, name := range []string{"predict_response_tensor_content.bin", "predict_response_float_val.bin"} {
		t.Run(name, func(t *testing.T) {
			var resp pb.PredictResponse
			if err := proto.Unmarshal(readVector(t, dir, name), &resp); err != nil {
				t.Fatal(err)
			}
			scores, err := decodeScores(&resp, v.OutputName, 2, 0) // the vectors hold a [2, 3] tensor
			if err != nil {
				t.Fatal(err)
			}
			if len(scores.Shape) != 2 || scores.Shape[0] != v.ResponseScores.Shape[0] || scores.Shape[1] != v.ResponseScores.Shape[1] {
				t.Fatalf("shape %v, want %v", scores.Shape, v.ResponseScores.Shape)
			}
			for i, want := range v.ResponseScores.Values {
				if scores.Values[i] != float32(want) {
					t.Fatalf("value %d = %v, want %v", i, scores.Values[i], float32(want))
				}
			}
			if got := scores.Row(1); len(got) != 3 || got[2] != 0.75 {
				t.Fatalf("Row(1) = %v", got)
			}
			top := scores.RowTopK(1, 2)
			if top[0].ClassID != 2 || top[1].ClassID != 1 {
				t.Fatalf("RowTopK(1, 2) = %v", top)
			}
		})
	}
}

// The non-default names go into the request: model name, input name, and an output_filter
// only for a non-default output.
func TestRequestNames(t *testing.T) {
	c := &Client{opts: defaultOptions()}
	WithModelName("m2")(&c.opts)
	WithInputName("in2")(&c.opts)
	WithOutputName("features")(&c.opts)
	req := c.newRequest(imagesTensor([][]byte{{1}}))
	if req.GetModelSpec().GetName() != "m2" || req.GetModelSpec().GetSignatureName() != "serving_default" {
		t.Fatalf("model spec %v", req.GetModelSpec())
	}
	if _, ok := req.GetInputs()["in2"]; !ok {
		t.Fatalf("inputs %v", req.GetInputs())
	}
	if len(req.GetOutputFilter()) != 1 || req.GetOutputFilter()[0] != "features" {
		t.Fatalf("output filter %v", req.GetOutputFilter())
	}
}
