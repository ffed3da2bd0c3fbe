// Command fpgascore scores images on an fpgascore server and prints the top classes.
//
//	fpgascore --version
//	fpgascore score [--host H] [--port P] [--ssl] [--ca PEM] [--server-name N] [--key-env VAR]
//	                [--bearer] [--allow-insecure-key] [--timeout 10] [--top 5] [--batch-size 8]
//	                [--json] IMG...
//	fpgascore service create --name x --ssl --cert cert.pem --key key.pem   (service.go: service, model)
//
// The flags, their defaults, the JSON document and the exit codes are those of the Python
// and C# commands (conformance/CLIENT_SPEC.md, "Command line"): flags may follow the image
// paths, -flag is the same as --flag, --timeout is in seconds (a decimal). The access token
// is read from the environment variable named by --key-env (never from a flag value, which
// other users can see in the process list). Images are sent as they are (JPEG or PNG),
// --batch-size per call (default 8; the reference server takes up to 32), one call after
// another; the output keeps the order of the command line. The first call that fails, or
// an image that cannot be read, ends the run with status 1: what was scored is printed, and
// stderr gets the error and which images were not scored (and, for a call refused as too
// large, to lower --batch-size). Bad usage or configuration is status 2.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
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

const usage = `usage: fpgascore score [--host H] [--port P] [--ssl] [--ca PEM] [--server-name NAME]
                       [--key-env VAR] [--secondary-key-env VAR] [--bearer] [--allow-insecure-key]
                       [--timeout SECONDS] [--retries N] [--top K] [--batch-size N] [--model NAME]
                       [--json] IMG...
       fpgascore service ... | model ...   (fpgascore service --help)
       fpgascore --version | --help

Scores images (JPEG/PNG files), --batch-size per call, and prints the top classes of each.
Flags may come before or after the image paths; -flag and --flag are the same.
`

// keyWithoutTLS is the usage error of a key that would go out without TLS.
const keyWithoutTLS = "a key (--key-env) is only sent over TLS: add --ssl (or --ca PEM), " +
	"or --allow-insecure-key for a trusted network or a local test server"

type prediction struct {
	ClassID int     `json:"class_id"`
	Label   string  `json:"label"`
	Score   float32 `json:"score"`
}

// imageError is the error of an image in the JSON document.
type imageError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

// imageResult is one image of the JSON document: scored (RequestID, TopK) or failed (Error).
type imageResult struct {
	Image     string       `json:"image"`
	RequestID *string      `json:"request_id,omitempty"`
	TopK      []prediction `json:"top_k,omitempty"`
	Error     *imageError  `json:"error,omitempty"`
}

// document is what -json prints: every image scored or failed, then those not scored.
type document struct {
	Results   []imageResult `json:"results"`
	NotScored []string      `json:"not_scored"`
}

// usageError prints a usage error and returns its exit status, 2.
func usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "fpgascore: "+format+"\n", a...)
	fmt.Fprint(stderr, usage)
	return 2
}

// parseInterspersed parses args with fs, flags before, between and after the image paths
// (the flag package stops at the first non-flag); after "--" everything is an image.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(files, rest...), nil
		}
		if len(rest) == 0 {
			return files, nil
		}
		files = append(files, rest[0])
		args = rest[1:]
	}
}

// run is the command; it returns the exit status (0 ok; 1 a failed call or an unreadable
// image; 2 bad usage or configuration).
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		return usageError(stderr, "no command given")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version", "version":
		fmt.Fprintf(stdout, "fpgascore %s\n", fpgascore.Version)
		return 0
	case "score":
	case "service", "model":
		return runDeploy(args, stdout, stderr, getenv)
	default:
		return usageError(stderr, "unknown command %q", args[0])
	}
	fs := flag.NewFlagSet("fpgascore score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	host := fs.String("host", "127.0.0.1", "server host name or address")
	port := fs.Int("port", 50051, "server port")
	useTLS := fs.Bool("ssl", false, "use TLS (system roots unless --ca or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH)")
	caFile := fs.String("ca", "", "PEM file of the root certificates to trust (implies --ssl)")
	serverName := fs.String("server-name", "", "name to check in the server certificate (implies --ssl)")
	keyEnv := fs.String("key-env", "", "name of the environment variable holding the access token")
	secondaryKeyEnv := fs.String("secondary-key-env", "", "name of the environment variable holding the secondary token")
	bearer := fs.Bool("bearer", false, `send the key as "Bearer <key>"`)
	allowInsecure := fs.Bool("allow-insecure-key", false, "allow sending the key without TLS (test servers)")
	timeout := fs.Float64("timeout", fpgascore.DefaultTimeout.Seconds(), "deadline of each call in seconds, retries included")
	retries := fs.Int("retries", 4, "max attempts per call (1 = no retry)")
	top := fs.Int("top", 5, "number of classes to print per image")
	fs.IntVar(top, "top-k", 5, "the same as --top")
	batchSize := fs.Int("batch-size", defaultBatchSize, "images per call (the reference server takes up to 32)")
	model := fs.String("model", "resnet50", "model name")
	asJSON := fs.Bool("json", false, "print one JSON document instead of text")
	showVersion := fs.Bool("version", false, "print the version and exit")
	files, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "fpgascore %s\n", fpgascore.Version)
		return 0
	}
	switch {
	case len(files) == 0:
		return usageError(stderr, "no image given (IMG...)")
	case *port < 1 || *port > 65535:
		return usageError(stderr, "--port must be 1 to 65535, not %d", *port)
	case math.IsNaN(*timeout) || math.IsInf(*timeout, 0) || *timeout <= 0:
		return usageError(stderr, "--timeout must be a positive number of seconds, not %v", *timeout)
	case *retries < 1:
		return usageError(stderr, "--retries must be at least 1")
	case *top < 1:
		return usageError(stderr, "--top must be at least 1")
	case *batchSize < 1:
		return usageError(stderr, "--batch-size must be at least 1")
	}
	deadline := time.Duration(*timeout * float64(time.Second))
	opts := []fpgascore.Option{fpgascore.WithTimeout(deadline), fpgascore.WithModelName(*model),
		fpgascore.WithRetryPolicy(fpgascore.RetryPolicy{MaxAttempts: *retries})}
	tls := *useTLS || *caFile != "" || *serverName != ""
	if tls {
		opts = append(opts, fpgascore.WithTLS())
	}
	if *caFile != "" {
		opts = append(opts, fpgascore.WithRootCAFile(*caFile))
	}
	if *serverName != "" {
		opts = append(opts, fpgascore.WithServerNameOverride(*serverName))
	}
	hasKey := false
	for _, k := range []struct {
		variable string
		option   func(string) fpgascore.Option
	}{{*keyEnv, fpgascore.WithAccessToken}, {*secondaryKeyEnv, fpgascore.WithSecondaryAccessToken}} {
		if k.variable == "" {
			continue
		}
		key := getenv(k.variable)
		if key == "" {
			return usageError(stderr, "environment variable %s is not set or empty", k.variable)
		}
		opts = append(opts, k.option(key))
		hasKey = true
	}
	if hasKey && !tls && !*allowInsecure {
		return usageError(stderr, "%s", keyWithoutTLS)
	}
	if *bearer {
		opts = append(opts, fpgascore.WithBearerScheme())
	}
	if *allowInsecure {
		opts = append(opts, fpgascore.WithAllowInsecureKey())
	}
	client, err := fpgascore.NewClient(net.JoinHostPort(*host, strconv.Itoa(*port)), opts...)
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	defer client.Close()

	doc := document{Results: []imageResult{}, NotScored: []string{}}
	// fail reports the failure of the images at failed (the call after done images were
	// scored, or one unreadable image): the JSON document, the error, the images not scored.
	fail := func(e imageError, failed []int, done int, hint string) int {
		if *asJSON {
			isFailed := map[int]bool{}
			for _, i := range failed {
				isFailed[i] = true
				e := e
				doc.Results = append(doc.Results, imageResult{Image: files[i], Error: &e})
			}
			for i := done; i < len(files); i++ {
				if !isFailed[i] {
					doc.NotScored = append(doc.NotScored, files[i])
				}
			}
			printJSON(stdout, stderr, doc)
		}
		requestID := ""
		if e.RequestID != "" {
			requestID = " [request_id=" + e.RequestID + "]"
		}
		fmt.Fprintf(stderr, "fpgascore: %s: %s%s\n", e.Code, e.Message, requestID)
		if hint != "" {
			fmt.Fprintln(stderr, "fpgascore:", hint)
		}
		notScored(stderr, files, done, *batchSize)
		return 1
	}
	for start := 0; start < len(files); start += *batchSize {
		batch := files[start:min(start+*batchSize, len(files))]
		images := make([][]byte, 0, len(batch))
		for i, f := range batch {
			data, err := os.ReadFile(f)
			if err != nil {
				why := "no such file"
				if !errors.Is(err, iofs.ErrNotExist) {
					why = unwrapPathError(err)
				}
				return fail(imageError{Code: "INVALID_ARGUMENT", Message: fmt.Sprintf("cannot read '%s': %s", f, why)},
					[]int{start + i}, start, "")
			}
			images = append(images, data)
		}
		var info fpgascore.CallInfo
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		scores, err := client.ScoreImages(fpgascore.WithCallInfo(ctx, &info), images)
		cancel()
		if err != nil {
			e := imageError{Code: "UNKNOWN", Message: bounded(err.Error()), RequestID: info.RequestID}
			hint := ""
			var fe *fpgascore.Error
			if errors.As(err, &fe) {
				e = imageError{Code: fpgascore.CodeName(fe.Code), Message: bounded(fe.Message), RequestID: fe.RequestID}
				if batchTooLarge(fe, len(batch)) {
					hint = fmt.Sprintf("the server refused %d images in one call: lower --batch-size (it is %d)", len(batch), *batchSize)
				}
			}
			failed := make([]int, len(batch))
			for i := range failed {
				failed[i] = start + i
			}
			return fail(e, failed, start, hint)
		}
		scored := make([]imageResult, 0, len(batch))
		for i, f := range batch {
			requestID := info.RequestID
			r := imageResult{Image: f, RequestID: &requestID, TopK: []prediction{}}
			for _, p := range scores.RowTopK(i, *top) {
				r.TopK = append(r.TopK, prediction{ClassID: p.ClassID, Label: p.Label, Score: p.Score})
			}
			scored = append(scored, r)
		}
		if *asJSON {
			doc.Results = append(doc.Results, scored...)
		} else {
			printText(stdout, scored)
		}
	}
	if *asJSON && !printJSON(stdout, stderr, doc) {
		return 1
	}
	return 0
}

// unwrapPathError is the reason of a failed file operation without the path (which the
// message names itself).
func unwrapPathError(err error) string {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func printText(stdout io.Writer, results []imageResult) {
	for _, r := range results {
		fmt.Fprintln(stdout, r.Image)
		for i, p := range r.TopK {
			fmt.Fprintf(stdout, "  %d. %-40s %4d  %.5f\n", i+1, p.Label, p.ClassID, p.Score)
		}
	}
}

func printJSON(stdout, stderr io.Writer, doc document) bool {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintln(stderr, err)
		return false
	}
	return true
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
