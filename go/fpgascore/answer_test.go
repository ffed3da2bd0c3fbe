package fpgascore

// What the client checks in an answer: no NaN or infinite score (INTERNAL naming the first
// one), negative finite scores passed through, and one response size limit
// (WithMaxResponseBytes, 16 MiB by default; over it RESOURCE_EXHAUSTED).

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

const mib = 1 << 20

func answerOf(values []float32, rows int, floatVal bool) *pb.PredictResponse {
	t := &pb.TensorProto{Dtype: pb.DataType_DT_FLOAT, TensorShape: shapeProto([]int64{int64(rows), int64(len(values) / rows)})}
	if floatVal {
		t.FloatVal = values
	} else {
		t.TensorContent = littleEndianBytes(values)
	}
	return &pb.PredictResponse{Outputs: map[string]*pb.TensorProto{DefaultOutputName: t}}
}

func TestNonFiniteScoresAreInternal(t *testing.T) {
	for _, c := range []struct {
		value float32
		name  string
	}{{float32(math.NaN()), "NaN"}, {float32(math.Inf(1)), "+Inf"}, {float32(math.Inf(-1)), "-Inf"}} {
		for _, floatVal := range []bool{false, true} {
			values := make([]float32, 2*NumClasses)
			values[NumClasses+999] = c.value
			values[NumClasses+998] = float32(math.NaN()) // the first one is named, the others counted
			_, err := decodeScores(answerOf(values, 2, floatVal), DefaultOutputName, 2, NumClasses)
			if status.Code(err) != codes.Internal || !errors.Is(err, ErrNonFiniteScore) {
				t.Fatalf("%s (float_val %t): %v", c.name, floatVal, err)
			}
			want := "has a non-finite score (NaN) at image 1, class 998 (2 of 2000 scores are not finite)"
			if !strings.Contains(err.Error(), want) || len(err.Error()) > 200 {
				t.Errorf("%s: message %q lacks %q", c.name, err, want)
			}
			values[NumClasses+998] = 0
			_, err = (&Client{opts: defaultOptions()}).DecodeScores(answerOf(values, 2, floatVal))
			if want := "(" + c.name + ") at image 1, class 999 (1 of 2000"; !strings.Contains(err.Error(), want) {
				t.Errorf("DecodeScores: %v lacks %q", err, want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Code != codes.Internal {
				t.Errorf("%T %v is not an INTERNAL *Error", err, err)
			}
		}
	}
}

func TestNegativeAndUnnormalisedScoresPassThrough(t *testing.T) {
	values := []float32{-7.5, 0, 3e38, -3e38, 1e-45, -0.25}
	for _, floatVal := range []bool{false, true} {
		s, err := decodeScores(answerOf(values, 2, floatVal), DefaultOutputName, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			if s.Values[i] != v {
				t.Fatalf("value %d: %v, sent %v", i, s.Values[i], v)
			}
		}
	}
}

func TestMaxResponseBytesIsChecked(t *testing.T) {
	for _, n := range []int{0, -1, math.MaxInt32 + 1} {
		if _, err := NewClient("127.0.0.1:1", WithMaxResponseBytes(n)); ErrorCode(err) != codes.InvalidArgument ||
			!strings.Contains(err.Error(), "WithMaxResponseBytes") {
			t.Errorf("WithMaxResponseBytes(%d): %v", n, err)
		}
	}
	c, err := NewClient("127.0.0.1:1", WithMaxResponseBytes(math.MaxInt32))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if DefaultMaxResponseBytes != 16*mib {
		t.Errorf("DefaultMaxResponseBytes = %d", DefaultMaxResponseBytes)
	}
}

func TestEmulatorNonFiniteAnswer(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr, fastRetries)
	images := [][]byte{testImage(t, "gradient.jpg"), testImage(t, "rings.jpg")}
	for control, want := range map[string]string{"nan": "(NaN) at image 0, class 0", "inf@1,999": "(+Inf) at image 1, class 999"} {
		id := caseID(t, control)
		var info CallInfo
		_, err := c.ScoreImages(WithCallInfo(withCase(context.Background(), id, "x-conformance-scores", control), &info), images)
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != codes.Internal || !errors.Is(err, ErrNonFiniteScore) || !strings.Contains(fe.Message, want) {
			t.Fatalf("%s: %v", control, err)
		}
		logged := e.Records(id)
		if len(logged) != 1 || info.Attempts != 1 || fe.RequestID == "" || fe.RequestID != logged[0]["request_id"] {
			t.Errorf("%s: request id %q, attempts %d, server log %v", control, fe.RequestID, info.Attempts, logged)
		}
	}
}

func TestEmulatorNegativeScoresPassThrough(t *testing.T) {
	e := emulatorFor(t, "plain")
	c := newTestClient(t, e.Addr)
	img := testImage(t, "rings.jpg")
	honest, err := c.ScoreImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	negative, err := c.ScoreImage(withCase(context.Background(), caseID(t, "negative"), "x-conformance-scores", "negative"), img)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range negative.Values {
		if v >= 0 || v != honest.Values[i]-2 {
			t.Fatalf("score %d: %v, honest %v", i, v, honest.Values[i])
		}
	}
}

func TestEmulatorResponseLimit(t *testing.T) {
	img := testImage(t, "rings.jpg")
	pad := func(id string, n int) context.Context {
		return withCase(context.Background(), id, "x-conformance-pad-response-bytes", strconv.Itoa(n))
	}
	plain := emulatorFor(t, "plain")
	// 15 MiB: over grpc-go's own 4 MB default, under the client's 16 MiB.
	if _, err := newTestClient(t, plain.Addr).ScoreImage(pad(caseID(t, "15mib"), 15*mib), img); err != nil {
		t.Fatalf("a 15 MiB answer: %v", err)
	}
	var info CallInfo
	small := newTestClient(t, plain.Addr, fastRetries, WithMaxResponseBytes(mib))
	_, err := small.ScoreImage(WithCallInfo(pad(caseID(t, "over"), mib), &info), img)
	if ErrorCode(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "received message larger than max") || info.Attempts != 1 {
		t.Fatalf("over WithMaxResponseBytes: %v (attempts %d)", err, info.Attempts)
	}
	large := emulatorFor(t, "large-answers")
	if _, err := newTestClient(t, large.Addr).ScoreImage(pad(caseID(t, "16mib"), 16*mib), img); ErrorCode(err) != codes.ResourceExhausted {
		t.Fatalf("over the default 16 MiB: %v", err)
	}
	if _, err := newTestClient(t, large.Addr, WithMaxResponseBytes(17*mib)).ScoreImage(pad(caseID(t, "raised"), 16*mib), img); err != nil {
		t.Fatalf("a raised limit: %v", err)
	}
}
