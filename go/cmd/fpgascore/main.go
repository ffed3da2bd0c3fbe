// Command fpgascore scores images on an fpgascore server and prints the top classes.
//
//	fpgascore score -host H -port P [-ssl] [-ca PEM] [-server-name N] [-key-env VAR]
//	                [-bearer] [-allow-insecure-key] [-timeout 10s] [-top 5] [-json] IMG...
//
// The access token is read from the environment variable named by -key-env (never from a
// flag value, which other users can see in the process list). Images are sent as they are
// (JPEG or PNG), up to 64 per call.
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

	"github.com/fpgascore/fpgascore/go/fpgascore"
)

const maxBatch = 64

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `usage: fpgascore score -host H -port P [-ssl] [-ca PEM] [-key-env VAR] [-json] IMG...

Scores images (JPEG/PNG files) and prints the top classes of each.
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
	for start := 0; start < len(files); start += maxBatch {
		end := start + maxBatch
		if end > len(files) {
			end = len(files)
		}
		images := make([][]byte, 0, end-start)
		for _, f := range files[start:end] {
			data, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(stderr, "fpgascore:", err)
				return 2
			}
			images = append(images, data)
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		scores, err := client.ScoreImages(ctx, images)
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for i, f := range files[start:end] {
			r := imageResult{File: f}
			for _, p := range scores.RowTopK(i, *top) {
				r.Predictions = append(r.Predictions, prediction{ClassID: p.ClassID, Label: p.Label, Score: p.Score})
			}
			results = append(results, r)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	for _, r := range results {
		fmt.Fprintln(stdout, r.File)
		for i, p := range r.Predictions {
			fmt.Fprintf(stdout, "  %d. %-40s %4d  %.5f\n", i+1, p.Label, p.ClassID, p.Score)
		}
	}
	return 0
}
