package fpgascore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

func TestEmulatorModelMetadata(t *testing.T) {
	e := emulatorFor(t, "plain")
	var info CallInfo
	m, err := newTestClient(t, e.Addr).ModelMetadata(WithCallInfo(context.Background(), &info))
	if err != nil {
		t.Fatal(err)
	}
	want := &ModelMetadata{ModelName: "resnet50", SignatureName: "serving_default",
		Inputs: []TensorSpec{{"images", "DT_STRING", []int64{-1}}},
		Outputs: []TensorSpec{{"features", "DT_FLOAT", []int64{-1, 2048}},
			{"output_alias", "DT_FLOAT", []int64{-1, 1000}}}}
	if m.Version == nil || *m.Version != 1 {
		t.Fatalf("version %v, want 1", m.Version)
	}
	m.Version = nil
	if !reflect.DeepEqual(m, want) || info.Attempts != 1 || len(info.RequestID) != 32 {
		t.Fatalf("got %+v (info %+v), want %+v", m, info, want)
	}
	if out, ok := want.Output("output_alias"); !ok || out.Shape[1] != 1000 {
		t.Fatal("Output lookup")
	}
}

func TestEmulatorUnknownModelAndSignature(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr, WithModelName("inception"))
	for _, call := range []func() error{
		func() error {
			_, err := c.ScoreImages(context.Background(), [][]byte{testImage(t, "gradient.jpg")})
			return err
		},
		func() error { _, err := c.ModelMetadata(context.Background()); return err },
	} {
		err := call()
		if ErrorCode(err) != codes.NotFound || !strings.Contains(err.Error(), "Servable not found for request: Latest(inception)") {
			t.Fatalf("got %v, want NOT_FOUND naming the model", err)
		}
	}
	_, err := newTestClient(t, e.Addr, WithSignatureName("classify")).ScoreImages(context.Background(), [][]byte{testImage(t, "gradient.jpg")})
	if ErrorCode(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `"classify" not found`) {
		t.Fatalf("got %v, want INVALID_ARGUMENT naming the signature", err)
	}
}

func TestDecodeMetadataRefusesMalformedAnswers(t *testing.T) {
	good := func() *pb.GetModelMetadataResponse {
		value, _ := proto.Marshal(&pb.SignatureDefMap{SignatureDef: map[string]*pb.SignatureDef{"other": {}}})
		return &pb.GetModelMetadataResponse{Metadata: map[string]*anypb.Any{
			"signature_def": {TypeUrl: "type.googleapis.com/tensorflow.serving.SignatureDefMap", Value: value}}}
	}
	wrongURL, badBytes := good(), good()
	wrongURL.Metadata["signature_def"].TypeUrl = "type.googleapis.com/foo.Bar"
	badBytes.Metadata["signature_def"].Value = []byte{0xff, 0xff, 0xff}
	for _, c := range []struct {
		resp *pb.GetModelMetadataResponse
		want string
	}{
		{&pb.GetModelMetadataResponse{}, `no "signature_def" (fields: none)`},
		{wrongURL, "expected tensorflow.serving.SignatureDefMap"},
		{badBytes, "does not parse"},
		{good(), `no signature "serving_default" (signatures: other)`},
	} {
		_, err := decodeMetadata(c.resp, "serving_default")
		if err == nil || err.Code != codes.Internal || !strings.Contains(err.Message, c.want) {
			t.Fatalf("got %v, want INTERNAL with %q", err, c.want)
		}
	}
}

func TestKeysAreTrimmedOrRefusedWithoutShowingThem(t *testing.T) {
	for _, raw := range []string{"key-from-a-file\n", "key-from-a-file\r\n", "\tkey-from-a-file "} {
		c, err := NewClient("localhost:1", WithTLS(), WithAccessToken(raw))
		if err != nil {
			t.Fatal(err)
		}
		if _, creds := c.keys.current(); creds.Key != "key-from-a-file" {
			t.Fatalf("key %q not trimmed", creds.Key)
		}
		c.Close()
	}
	for raw, problem := range map[string]string{"first-half\nsecond-half": "U+000A at position 11",
		"first-half\x00": "U+0000", "first-halfé": "U+00E9", "   ": "is empty"} {
		_, err := NewClient("localhost:1", WithTLS(), WithAccessToken(raw))
		if ErrorCode(err) != codes.InvalidArgument || !strings.Contains(err.Error(), problem) || strings.Contains(err.Error(), "first-half") {
			t.Fatalf("%q: got %v, want INVALID_ARGUMENT with %q and no key", raw, err, problem)
		}
	}
}

func TestDecodeMetadataErrorsAreBounded(t *testing.T) {
	defs := map[string]*pb.SignatureDef{}
	for i := 0; i < 1000; i++ {
		defs[fmt.Sprintf("%04d%s", i, strings.Repeat("s", 10000))] = &pb.SignatureDef{}
	}
	value, _ := proto.Marshal(&pb.SignatureDefMap{SignatureDef: defs})
	for _, resp := range []*pb.GetModelMetadataResponse{
		{Metadata: map[string]*anypb.Any{"signature_def": {TypeUrl: "type.googleapis.com/tensorflow.serving.SignatureDefMap", Value: value}}},
		{Metadata: map[string]*anypb.Any{"signature_def": {TypeUrl: strings.Repeat("u", 100000)}}},
	} {
		_, err := decodeMetadata(resp, "serving_default")
		if err == nil || len(err.Message) > 1000 {
			t.Fatalf("message of %d bytes, want a bounded one", len(err.Message))
		}
	}
}
