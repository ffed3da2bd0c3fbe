package fpgascore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fpgascore/fpgascore/go/fpgascore"
	"github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// A client over TLS with a key from the environment, scoring one image.
func ExampleNewClient() {
	client, err := fpgascore.NewClient("scoring.example.com:443",
		fpgascore.WithTLS(),
		fpgascore.WithAccessToken(os.Getenv("FPGASCORE_KEY")),
		fpgascore.WithTimeout(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	image, err := os.ReadFile("cat.jpg")
	if err != nil {
		log.Fatal(err)
	}
	scores, err := client.ScoreImage(context.Background(), image)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range scores.TopK(5) {
		fmt.Printf("%-30s %.4f\n", p.Label, p.Score)
	}
}

// A key without TLS is refused before anything is sent.
func ExampleNewClient_keyOverPlaintext() {
	_, err := fpgascore.NewClient("127.0.0.1:50051", fpgascore.WithAccessToken("my-key"))
	fmt.Println(status.Code(err))
	// Output: FailedPrecondition
}

// A private CA, a second key during a rotation, and the Bearer form.
func ExampleWithSecondaryAccessToken() {
	client, err := fpgascore.NewClient("10.0.0.7:50051",
		fpgascore.WithRootCAFile("/etc/fpgascore/ca.pem"),
		fpgascore.WithServerNameOverride("scoring.internal"),
		fpgascore.WithAccessToken(os.Getenv("FPGASCORE_KEY")),
		fpgascore.WithSecondaryAccessToken(os.Getenv("FPGASCORE_NEW_KEY")),
		fpgascore.WithBearerScheme())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
}

// Retry settings; MaxAttempts 1 disables retries.
func ExampleWithRetryPolicy() {
	_, _ = fpgascore.NewClient("127.0.0.1:50051",
		fpgascore.WithRetryPolicy(fpgascore.RetryPolicy{
			MaxAttempts:    6,
			InitialBackoff: 50 * time.Millisecond,
			MaxBackoff:     time.Second,
			Multiplier:     2,
		}))
	p := fpgascore.DefaultRetryPolicy()
	fmt.Println(p.MaxAttempts, p.BackoffBound(1), p.BackoffBound(3), p.BackoffBound(10))
	// Output: 4 100ms 400ms 2s
}

// A batch in one call, with per-call metadata and deadline.
func ExampleClient_ScoreImages() {
	client, err := fpgascore.NewClient("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	a, _ := os.ReadFile("a.jpg")
	b, _ := os.ReadFile("b.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-trace", "batch-42")
	scores, err := client.ScoreImages(ctx, [][]byte{a, b})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < scores.Len(); i++ {
		fmt.Println(i, scores.RowTopK(i, 1)[0])
	}
}

// Pre-processed pixels as a float tensor.
func ExampleClient_ScoreTensor() {
	client, err := fpgascore.NewClient("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	pixels := make([]float32, 224*224*3) // BGR, mean-subtracted
	scores, err := client.ScoreTensor(context.Background(), pixels, []int64{224, 224, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(scores.Shape)
}

// Local checks fail with INVALID_ARGUMENT before any call.
func ExampleError() {
	client, err := fpgascore.NewClient("127.0.0.1:50051")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	_, err = client.ScoreImages(context.Background(), nil)
	var e *fpgascore.Error
	if errors.As(err, &e) {
		fmt.Println(fpgascore.CodeName(e.Code), e.Code == codes.InvalidArgument, e.RequestID == "")
		fmt.Println(e.Message)
	}
	// Output:
	// INVALID_ARGUMENT true true
	// empty batch: give at least one image
}

func ExampleTopK() {
	row := make([]float32, fpgascore.NumClasses)
	row[1], row[207], row[281] = 0.7, 0.2, 0.1
	for _, p := range fpgascore.TopK(row, 3) {
		fmt.Println(p.ClassID, p.Label, p.Score)
	}
	// Output:
	// 1 goldfish 0.7
	// 207 golden retriever 0.2
	// 281 tabby 0.1
}

func ExampleLabel() {
	fmt.Println(fpgascore.Label(0), "/", fpgascore.Label(1))
	// Output: tench / goldfish
}

// The documented raw pattern: a grpc.ClientConn with TLS and the module's per-call
// credentials, and the generated stub.
func ExampleAccessTokenCredentials() {
	conn, err := grpc.NewClient("scoring.example.com:443",
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(nil, "")),
		grpc.WithPerRPCCredentials(&fpgascore.AccessTokenCredentials{Key: os.Getenv("FPGASCORE_KEY")}))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	stub := fpgascorepb.NewPredictionServiceClient(conn)
	_ = stub // stub.Predict(ctx, &fpgascorepb.PredictRequest{...})

	creds := fpgascore.AccessTokenCredentials{Key: "secret-key-123", Bearer: true}
	fmt.Printf("%v\n", creds)
	// Output: AccessTokenCredentials{Key: <redacted>, Bearer: true, AllowInsecure: false}
}
