package fpgascore

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/proto"
)

// protoCodec marshals the generated (protobuf APIv2) messages with
// google.golang.org/protobuf directly. grpc-go's default codec goes through
// github.com/golang/protobuf, which must then be v1.4 or later; the client does not depend
// on that (Debian, for one, still ships v1.3 as golang-github-golang-protobuf-1-3-dev).
type protoCodec struct{}

var _ encoding.Codec = protoCodec{}

func (protoCodec) Marshal(v interface{}) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("fpgascore codec: cannot marshal %T", v)
	}
	return proto.Marshal(m)
}

func (protoCodec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("fpgascore codec: cannot unmarshal into %T", v)
	}
	return proto.Unmarshal(data, m)
}

// Name is "proto", the content subtype of the standard codec: the wire is the same.
func (protoCodec) Name() string { return "proto" }
