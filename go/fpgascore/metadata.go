package fpgascore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

const (
	signatureDefField = "signature_def"
	signatureDefMap   = "tensorflow.serving.SignatureDefMap"
	// What a server's answer can put into an error message: a few names, each of bounded length.
	echoChars = 100
	echoNames = 5
)

// TensorSpec is one input or output of the model's signature.
type TensorSpec struct {
	// Name is the input/output name used in requests and responses, e.g. "images".
	Name string
	// DType is the TensorFlow dtype name, e.g. "DT_STRING" or "DT_FLOAT".
	DType string
	// Shape holds the dimensions; -1 is a dimension of any size (the batch).
	Shape []int64
}

// ModelMetadata is what ModelMetadata returns: the served model and its signature.
type ModelMetadata struct {
	// ModelName is the model the server answered for.
	ModelName string
	// Version is the model's version; nil when the server did not say.
	Version *int64
	// SignatureName is the signature described (WithSignatureName, "serving_default").
	SignatureName string
	// Inputs and Outputs are the signature's, sorted by name.
	Inputs, Outputs []TensorSpec
}

// Input returns the input called name, and whether there is one.
func (m *ModelMetadata) Input(name string) (TensorSpec, bool) { return findSpec(m.Inputs, name) }

// Output returns the output called name, and whether there is one.
func (m *ModelMetadata) Output(name string) (TensorSpec, bool) { return findSpec(m.Outputs, name) }

func findSpec(specs []TensorSpec, name string) (TensorSpec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return TensorSpec{}, false
}

// ModelMetadata asks the server for the model's name, version and signature (TF Serving's
// GetModelMetadata with metadata_field "signature_def"), with the same key, metadata,
// deadline and retry policy as a scoring call. A model the server does not serve is a
// NOT_FOUND *Error; an answer without the signature is an INTERNAL-coded *Error naming what
// was wrong.
func (c *Client) ModelMetadata(ctx context.Context) (*ModelMetadata, error) {
	ctx, info := withCallInfoOf(ctx)
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	req := &pb.GetModelMetadataRequest{
		ModelSpec:     &pb.ModelSpec{Name: c.opts.modelName},
		MetadataField: []string{signatureDefField},
	}
	resp, err := callWithRetries(c, ctx, func(ctx context.Context, opts ...grpc.CallOption) (*pb.GetModelMetadataResponse, error) {
		return c.stub.GetModelMetadata(ctx, req, opts...)
	})
	if err != nil {
		return nil, err
	}
	meta, bad := decodeMetadata(resp, c.opts.signatureName)
	if bad != nil {
		bad.RequestID = info.RequestID
		info.Code = bad.Code
		return nil, bad
	}
	return meta, nil
}

func decodeMetadata(resp *pb.GetModelMetadataResponse, signature string) (*ModelMetadata, *Error) {
	packed := resp.GetMetadata()[signatureDefField]
	if packed == nil {
		return nil, newError(codes.Internal, "model metadata has no %q (fields: %s)", signatureDefField, sortedKeys(resp.GetMetadata()))
	}
	if url := packed.GetTypeUrl(); url[strings.LastIndex(url, "/")+1:] != signatureDefMap {
		return nil, newError(codes.Internal, "model metadata %q is a %q, expected %s", signatureDefField, short(url), signatureDefMap)
	}
	var signatures pb.SignatureDefMap
	if err := proto.Unmarshal(packed.GetValue(), &signatures); err != nil {
		return nil, newError(codes.Internal, "model metadata %q does not parse: %v", signatureDefField, err)
	}
	def, ok := signatures.GetSignatureDef()[signature]
	if !ok {
		return nil, newError(codes.Internal, "model metadata has no signature %q (signatures: %s)", signature, sortedKeys(signatures.GetSignatureDef()))
	}
	meta := &ModelMetadata{
		ModelName:     resp.GetModelSpec().GetName(),
		SignatureName: signature,
		Inputs:        specs(def.GetInputs()),
		Outputs:       specs(def.GetOutputs()),
	}
	if v := resp.GetModelSpec().GetVersion(); v != nil {
		version := v.GetValue()
		meta.Version = &version
	}
	return meta, nil
}

func specs(infos map[string]*pb.TensorInfo) []TensorSpec {
	out := make([]TensorSpec, 0, len(infos))
	for name, info := range infos {
		shape := make([]int64, 0, len(info.GetTensorShape().GetDim()))
		for _, d := range info.GetTensorShape().GetDim() {
			shape = append(shape, d.GetSize())
		}
		dtype, ok := pb.DataType_name[int32(info.GetDtype())]
		if !ok {
			dtype = fmt.Sprintf("DT_UNKNOWN_%d", info.GetDtype())
		}
		out = append(out, TensorSpec{Name: name, DType: dtype, Shape: shape})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sortedKeys lists a map's keys for a message: the first few in order, shortened, then how
// many more.
func sortedKeys[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	shown := keys
	if len(keys) > echoNames {
		shown = keys[:echoNames]
	}
	for i, k := range shown {
		shown[i] = short(k)
	}
	out := strings.Join(shown, ", ")
	if len(keys) > echoNames {
		out += fmt.Sprintf(" … (%d more)", len(keys)-echoNames)
	}
	return out
}

func short(s string) string {
	if len(s) <= echoChars {
		return s
	}
	return fmt.Sprintf("%s… (%d more bytes)", strings.ToValidUTF8(s[:echoChars], ""), len(s)-echoChars)
}
