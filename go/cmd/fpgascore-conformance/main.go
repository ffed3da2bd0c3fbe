// Command fpgascore-conformance is the Go client's conformance driver
// (conformance/CLIENT_SPEC.md, "Conformance drivers"). It reads one JSON request per line on
// stdin and writes one JSON response per line on stdout, in order, flushed after each, and
// exits at end of input. It uses only the public fpgascore API (the fpgascorepb message
// type only to read a raw request file).
//
// Choices the spec leaves open, the same as the Python and C# drivers:
//   - with calls > 1, call i (1-based) sends "x-conformance-case: <case>#<i>";
//   - concurrency K > 1 runs the calls on K goroutines sharing one client (at most K in
//     flight); results are listed in call order;
//   - shape is always [N, 1000];
//   - a construction error gives one result with its code and no call; action "none" gives
//     one result with code OK when construction succeeded;
//   - action "request" sends the inputs and output_filter of the serialized PredictRequest
//     in request_file with Client.Predict (the client's own model spec) and reports the
//     decoded output;
//   - a "session" client keeps the connection settings of its first line; each line's
//     metadata is sent with that line's calls;
//   - "error" is set (and "results" empty) only for a line that is not a valid request.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Stdin, os.Stdout, os.Stderr))
}

// run serves the protocol until the end of in.
func run(in io.Reader, out, errOut io.Writer) int {
	d := newDriver(errOut)
	defer d.closeSessions()
	reader := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriter(out)
	for {
		line, readErr := reader.ReadBytes('\n')
		if len(trimSpace(line)) > 0 {
			resp := d.handleLine(line)
			data, err := json.Marshal(resp)
			if err != nil {
				data, _ = json.Marshal(response{ID: resp.ID, Results: []result{}, Error: strPtr("driver failure: " + err.Error())})
			}
			w.Write(data)
			w.WriteByte('\n')
			if err := w.Flush(); err != nil {
				fmt.Fprintln(errOut, "fpgascore-conformance: writing stdout:", err)
				return 1
			}
		}
		if readErr == io.EOF {
			return 0
		}
		if readErr != nil {
			fmt.Fprintln(errOut, "fpgascore-conformance: reading stdin:", readErr)
			return 1
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

func strPtr(s string) *string { return &s }
