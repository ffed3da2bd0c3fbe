package fpgascore

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"unsafe"

	"google.golang.org/grpc/codes"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// ImageSize is the side of the square images the model takes, and ImageChannels their
// channels: a float tensor has shape [N, 224, 224, 3] (or [224, 224, 3] for one image).
const (
	ImageSize     = 224
	ImageChannels = 3
)

func shapeProto(dims []int64) *pb.TensorShapeProto {
	s := &pb.TensorShapeProto{Dim: make([]*pb.TensorShapeProto_Dim, len(dims))}
	for i, d := range dims {
		s.Dim[i] = &pb.TensorShapeProto_Dim{Size: d}
	}
	return s
}

func (c *Client) newRequest(input *pb.TensorProto) *pb.PredictRequest {
	req := &pb.PredictRequest{
		ModelSpec: &pb.ModelSpec{Name: c.opts.modelName, SignatureName: c.opts.signatureName},
		Inputs:    map[string]*pb.TensorProto{c.opts.inputName: input},
	}
	if c.opts.outputName != DefaultOutputName {
		req.OutputFilter = []string{c.opts.outputName}
	}
	return req
}

// checkImages is the local check of an image batch.
func checkImages(images [][]byte) error {
	if len(images) == 0 {
		return newError(codes.InvalidArgument, "empty batch: give at least one image")
	}
	for i, img := range images {
		if len(img) == 0 {
			return newError(codes.InvalidArgument, "image %d is empty", i)
		}
	}
	return nil
}

// imagesTensor is the DT_STRING [N] input tensor holding the encoded images untouched.
func imagesTensor(images [][]byte) *pb.TensorProto {
	return &pb.TensorProto{
		Dtype:       pb.DataType_DT_STRING,
		TensorShape: shapeProto([]int64{int64(len(images))}),
		StringVal:   images,
	}
}

// checkTensor is the local check of a float tensor; it returns the shape to send
// ([N,224,224,3]).
func checkTensor(values []float32, shape []int64) ([]int64, error) {
	if len(shape) == 0 {
		return nil, newError(codes.InvalidArgument, "a float tensor needs a shape, [N, 224, 224, 3] or [224, 224, 3]")
	}
	count, err := shapeCount(shape)
	if err != nil {
		return nil, err
	}
	var send []int64
	switch {
	case len(shape) == 3 && shape[0] == ImageSize && shape[1] == ImageSize && shape[2] == ImageChannels:
		send = []int64{1, ImageSize, ImageSize, ImageChannels}
	case len(shape) == 4 && shape[1] == ImageSize && shape[2] == ImageSize && shape[3] == ImageChannels:
		send = append([]int64(nil), shape...)
	default:
		return nil, newError(codes.InvalidArgument, "float tensor shape %v is not [N, 224, 224, 3] or [224, 224, 3]", shape)
	}
	if int64(len(values)) != count {
		return nil, newError(codes.InvalidArgument, "float tensor has %d values but shape %v needs %d", len(values), shape, count)
	}
	return send, nil
}

// shapeCount is the product of the dimensions, which must all be positive.
func shapeCount(shape []int64) (int64, error) {
	count := int64(1)
	for i, d := range shape {
		if d <= 0 {
			return 0, newError(codes.InvalidArgument, "dimension %d of shape %v is %d; dimensions must be positive", i, shape, d)
		}
		if count > math.MaxInt64/d {
			return 0, newError(codes.InvalidArgument, "shape %v is too large", shape)
		}
		count *= d
	}
	return count, nil
}

// floatTensor is the DT_FLOAT input tensor with the values in tensor_content, little-endian
// float32 (never float_val: bigger and slower to encode).
func floatTensor(values []float32, shape []int64) *pb.TensorProto {
	return &pb.TensorProto{
		Dtype:         pb.DataType_DT_FLOAT,
		TensorShape:   shapeProto(shape),
		TensorContent: littleEndianBytes(values),
	}
}

// decodeScores reads the float tensor named output from a response: DT_FLOAT, shape
// [rows, columns]. rows is the number of images sent and columns the number of classes
// (NumClasses for the Score calls); 0 leaves that dimension unchecked. A missing output,
// another dtype, another shape or a values count that does not match it is an
// INTERNAL-coded *Error naming what was wrong, and so is a NaN or infinite value (see
// checkFinite). Negative or unnormalised finite values are returned as they are.
func decodeScores(resp *pb.PredictResponse, output string, rows, columns int) (*Scores, error) {
	t, ok := resp.GetOutputs()[output]
	if !ok || t == nil {
		names := make([]string, 0, len(resp.GetOutputs()))
		for name := range resp.GetOutputs() {
			names = append(names, name)
		}
		return nil, newError(codes.Internal, "response has no output %q (outputs: %q)", output, names)
	}
	if t.GetDtype() != pb.DataType_DT_FLOAT {
		return nil, newError(codes.Internal, "output %q has dtype %s, expected DT_FLOAT", output, t.GetDtype())
	}
	shape := make([]int64, 0, len(t.GetTensorShape().GetDim()))
	for _, d := range t.GetTensorShape().GetDim() {
		shape = append(shape, d.GetSize())
	}
	if len(shape) != 2 || shape[0] < 0 || shape[1] < 0 {
		return nil, newError(codes.Internal, "output %q has shape %v, expected [%s, %s]", output, shape, dimName(rows, "N"), dimName(columns, "classes"))
	}
	if columns > 0 && shape[1] != int64(columns) {
		return nil, newError(codes.Internal, "output %q has shape %v, expected [%s, %d]", output, shape, dimName(rows, "N"), columns)
	}
	if rows > 0 && shape[0] != int64(rows) {
		return nil, newError(codes.Internal, "output %q has %d rows for %d images", output, shape[0], rows)
	}
	values, err := tensorFloats(t, output)
	if err != nil {
		return nil, err
	}
	// The values must fill the shape; compared by division, so a huge shape whose product
	// overflows int64 cannot pass.
	n := int64(len(values))
	fits := n == 0 && (shape[0] == 0 || shape[1] == 0)
	if shape[1] > 0 {
		fits = n%shape[1] == 0 && n/shape[1] == shape[0]
	}
	if !fits {
		return nil, newError(codes.Internal, "output %q has %d values but shape %v needs %s", output, len(values), shape, productString(shape))
	}
	if err := checkFinite(values, output, int(shape[1])); err != nil {
		return nil, err
	}
	return &Scores{Values: values, Shape: shape}, nil
}

// ErrNonFiniteScore is the cause of the INTERNAL *Error for an answer holding a NaN or
// infinite score: errors.Is(err, ErrNonFiniteScore) tells that error from the others.
var ErrNonFiniteScore = errors.New("fpgascore: non-finite score")

// checkFinite returns an INTERNAL *Error (cause ErrNonFiniteScore) naming the first NaN or
// infinite value of values (columns per image): its image and class, and how many there are.
func checkFinite(values []float32, output string, columns int) error {
	first, count := -1, 0
	for i, v := range values {
		if v-v != 0 { // NaN or ±Inf: v-v is NaN
			if first < 0 {
				first = i
			}
			count++
		}
	}
	if first < 0 {
		return nil
	}
	kind := "NaN"
	if v := float64(values[first]); math.IsInf(v, 1) {
		kind = "+Inf"
	} else if math.IsInf(v, -1) {
		kind = "-Inf"
	}
	image, class := 0, first
	if columns > 0 {
		image, class = first/columns, first%columns
	}
	e := newError(codes.Internal, "output %q has a non-finite score (%s) at image %d, class %d (%d of %d scores are not finite)",
		output, kind, image, class, count, len(values))
	e.cause = ErrNonFiniteScore
	return e
}

func dimName(n int, name string) string {
	if n > 0 {
		return strconv.Itoa(n)
	}
	return name
}

// productString is the number of values a shape needs, or "more than fit in an int64".
func productString(shape []int64) string {
	count := int64(1)
	for _, d := range shape {
		if d != 0 && count > math.MaxInt64/d {
			return "more than fit in an int64"
		}
		count *= d
	}
	return strconv.FormatInt(count, 10)
}

// tensorFloats returns a float tensor's values from tensor_content or float_val;
// tensor_content wins when a tensor has both (as in the Python client).
func tensorFloats(t *pb.TensorProto, name string) ([]float32, error) {
	content := t.GetTensorContent()
	switch {
	case len(content) > 0:
		if len(content)%4 != 0 {
			return nil, newError(codes.Internal, "output %q tensor_content has %d bytes, not a multiple of 4", name, len(content))
		}
		values := make([]float32, len(content)/4)
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(content[4*i:]))
		}
		return values, nil
	default:
		return append([]float32(nil), t.GetFloatVal()...), nil
	}
}

// nativeLittleEndian reports whether this machine stores a float32 in little-endian order,
// the order of tensor_content.
var nativeLittleEndian = func() bool {
	probe := uint16(1)
	return *(*byte)(unsafe.Pointer(&probe)) == 1
}()

// littleEndianBytes is the tensor_content of values. On a little-endian machine it is the
// values' own memory, not a copy (marshalling copies it onto the wire; the caller's slice is
// only read, during the call); elsewhere a converted copy.
func littleEndianBytes(values []float32) []byte {
	if len(values) == 0 {
		return nil
	}
	if nativeLittleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&values[0])), 4*len(values))
	}
	content := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(content[4*i:], math.Float32bits(v))
	}
	return content
}
