// Package fpgascore is the Go client of the fpgascore image-scoring service: a gRPC
// service, wire-compatible with TensorFlow Serving's PredictionService, that scores images
// with an FPGA-accelerated ResNet-50 classifier and returns 1000 ImageNet class scores per
// image.
//
// Create one long-lived Client per server with NewClient and share it between goroutines:
//
//	client, err := fpgascore.NewClient("scoring.example.com:443",
//		fpgascore.WithTLS(),
//		fpgascore.WithAccessToken(os.Getenv("FPGASCORE_KEY")))
//	if err != nil { ... }
//	defer client.Close()
//	scores, err := client.ScoreImage(ctx, jpegBytes)
//	for _, p := range scores.TopK(5) {
//		fmt.Printf("%s %.3f\n", p.Label, p.Score)
//	}
//
// Every call takes a context.Context; a call without a deadline gets the client's default
// (10 s, WithTimeout). The deadline bounds the whole call, retries included. Failed calls
// return a *Error carrying the gRPC code, the server's message and the server's request id;
// status.Code(err) and errors.As work on it.
//
// The behaviour (retry policy, TLS and key rules, errors) is the same in every fpgascore
// client; conformance/CLIENT_SPEC.md in the repository is the reference.
package fpgascore
