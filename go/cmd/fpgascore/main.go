// Command fpgascore scores images on an fpgascore server and prints the top classes.
//
//	fpgascore -version
//	fpgascore score -host H -port P [-ssl] [-ca PEM] [-server-name N] [-key-env VAR]
//	                [-bearer] [-allow-insecure-key] [-timeout 10s] [-top 5] [-batch-size 8]
//	                [-json] IMG...
//
// The access token is read from the environment variable named by -key-env (never from a
// flag value, which other users can see in the process list). Images are sent as they are
// (JPEG or PNG), -batch-size per call (default 8; the reference server takes up to 32), one
// call after another; the output keeps the order of the command line. The first call that
// fails ends the run with status 1: what was scored is printed, and stderr gets the error
// and which images were not scored (and, for a call refused as too large, to lower
// -batch-size).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"

	"github.com/fpgascore/fpgascore/go/fpgascore"
)

// defaultBatchSize is the images per call unless -batch-size says otherwise: well under the
// reference server's 32 (its --max-batch).
const defaultBatchSize = 8

// maxErrorChars bounds how much of a server's message the command prints.
const maxErrorChars = 300

// tooLargeMarkers are what a server says when a call holds too many images (or bytes) for
// it: the reference server's "at most 32 per request", TF Serving's "maximum input batch
// size", and gRPC's message-size refusals ("larger than max", Grpc.Net's "exceeds the
// maximum").
var tooLargeMarkers = []string{"per request", "batch size", "larger than max", "exceeds the maximum"}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `usage: fpgascore score -host H -port P [-ssl] [-ca PEM] [-key-env VAR] [-batch-size N] [-json] IMG...
       fpgascore -version

Scores images (JPEG/PNG files), -batch-size per call, and prints the top classes of each.
`

type prediction struct {
	ClassID int     `json:"class_id"`
	Label   string  `json:"label"`
	Score   float32 `json:"score"`
}

type imageResult struct {
	File        string       `json:"file"`
	Predictions []prediction `json:"predictions"`
}

// run is the command; it returns the exit status (0 ok, 1 a failed call, 2 bad usage).
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "-version" || args[0] == "--version" || args[0] == "version" {
		fmt.Fprintf(stdout, "fpgascore %s\n", fpgascore.Version)
		return 0
	}
	if args[0] != "score" {
		fmt.Fprintf(stderr, "fpgascore: unknown command %q\n%s", args[0], usage)
		return 2
	}
	fs := flag.NewFlagSet("fpgascore score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.String("host", "127.0.0.1", "server host name or address")
	port := fs.Int("port", 50051, "server port")
	useTLS := fs.Bool("ssl", false, "use TLS (system roots unless -ca or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH)")
	caFile := fs.String("ca", "", "PEM file of the root certificates to trust (implies -ssl)")
	serverName := fs.String("server-name", "", "name to check in the server certificate (implies -ssl)")
	keyEnv := fs.String("key-env", "", "name of the environment variable holding the access token")
	bearer := fs.Bool("bearer", false, `send the key as "Bearer <key>"`)
	allowInsecure := fs.Bool("allow-insecure-key", false, "allow sending the key without TLS (test servers)")
	timeout := fs.Duration("timeout", fpgascore.DefaultTimeout, "deadline of each call, retries included")
	top := fs.Int("top", 5, "number of classes to print per image")
	batchSize := fs.Int("batch-size", defaultBatchSize, "images per call (the reference server takes up to 32)")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprintf(stderr, "fpgascore: no image given\n%s", usage)
		return 2
	}
	if *top < 1 {
		fmt.Fprintln(stderr, "fpgascore: -top must be at least 1")
		return 2
	}
	if *batchSize < 1 {
		fmt.Fprintln(stderr, "fpgascore: -batch-size must be at least 1")
		return 2
	}
	opts := []fpgascore.Option{fpgascore.WithTimeout(*timeout)}
	if *useTLS {
		opts = append(opts, fpgascore.WithTLS())
	}
	if *caFile != "" {
		opts = append(opts, fpgascore.WithRootCAFile(*caFile))
	}
	if *serverName != "" {
		opts = append(opts, fpgascore.WithServerNameOverride(*serverName))
	}
	if *keyEnv != "" {
		key := getenv(*keyEnv)
		if key == "" {
			fmt.Fprintf(stderr, "fpgascore: environment variable %s is empty or unset\n", *keyEnv)
			return 2
		}
		opts = append(opts, fpgascore.WithAccessToken(key))
	}
	if *bearer {
		opts = append(opts, fpgascore.WithBearerScheme())
	}
	if *allowInsecure {
		opts = append(opts, fpgascore.WithAllowInsecureKey())
	}
	client, err := fpgascore.NewClient(net.JoinHostPort(*host, strconv.Itoa(*port)), opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer client.Close()

	var results []imageResult
	for start := 0; start < len(files); start += *batchSize {
		batch := files[start:min(start+*batchSize, len(files))]
		images := make([][]byte, 0, len(batch))
		for _, f := range batch {
			data, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(stderr, "fpgascore:", err)
				notScored(stderr, files, start, *batchSize)
				return 2
			}
			images = append(images, data)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		scores, err := client.ScoreImages(ctx, images)
		cancel()
		if err != nil {
			if *asJSON {
				printJSON(stdout, stderr, results)
			}
			reportFailure(stderr, err, len(batch), *batchSize)
			notScored(stderr, files, start, *batchSize)
			return 1
		}
		scored := make([]imageResult, 0, len(batch))
		for i, f := range batch {
			r := imageResult{File: f}
			for _, p := range scores.RowTopK(i, *top) {
				r.Predictions = append(r.Predictions, prediction{ClassID: p.ClassID, Label: p.Label, Score: p.Score})
			}
			scored = append(scored, r)
		}
		if *asJSON {
			results = append(results, scored...)
		} else {
			printText(stdout, scored)
		}
	}
	if *asJSON && !printJSON(stdout, stderr, results) {
		return 1
	}
	return 0
}

func printText(stdout io.Writer, results []imageResult) {
	for _, r := range results {
		fmt.Fprintln(stdout, r.File)
		for i, p := range r.Predictions {
			fmt.Fprintf(stdout, "  %d. %-40s %4d  %.5f\n", i+1, p.Label, p.ClassID, p.Score)
		}
	}
}

func printJSON(stdout, stderr io.Writer, results []imageResult) bool {
	if results == nil {
		results = []imageResult{}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(stderr, err)
		return false
	}
	return true
}

// reportFailure prints the error of a call of n images, its message bounded, and the advice
// to lower -batch-size when the server refused the call as too large.
func reportFailure(stderr io.Writer, err error, n, batchSize int) {
	var fe *fpgascore.Error
	if !errors.As(err, &fe) {
		fmt.Fprintln(stderr, "fpgascore:", err)
		return
	}
	requestID := ""
	if fe.RequestID != "" {
		requestID = " [request_id=" + fe.RequestID + "]"
	}
	fmt.Fprintf(stderr, "fpgascore: %s: %s%s\n", fpgascore.CodeName(fe.Code), bounded(fe.Message), requestID)
	if batchTooLarge(fe, n) {
		fmt.Fprintf(stderr, "fpgascore: the server refused %d images in one call: lower -batch-size (it is %d)\n", n, batchSize)
	}
}

// batchTooLarge reports whether the server refused a call of n images as too large, so
// that a smaller -batch-size would help.
func batchTooLarge(e *fpgascore.Error, n int) bool {
	if n < 2 || (e.Code != codes.InvalidArgument && e.Code != codes.ResourceExhausted) {
		return false
	}
	message := strings.ToLower(e.Message)
	for _, marker := range tooLargeMarkers {
		if strings.Contains(message, marker) {
			return true
		}
	}
	return false
}

// notScored says which images a run that stopped at files[done] did not score (when they
// took more than one call).
func notScored(stderr io.Writer, files []string, done, batchSize int) {
	if len(files) <= batchSize {
		return
	}
	rest := ""
	if left := len(files) - done - 1; left > 0 {
		rest = fmt.Sprintf(" and the %d after it", left)
	}
	fmt.Fprintf(stderr, "fpgascore: %d of %d images scored; not scored: %s%s\n", done, len(files), files[done], rest)
}

func bounded(text string) string {
	if len(text) <= maxErrorChars {
		return text
	}
	cut := maxErrorChars
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", text[:cut], len(text)-cut)
}
