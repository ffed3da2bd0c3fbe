// Command fpgascore-conformance is the Go client's conformance driver. It speaks the driver
// protocol of proto/fpgascore/conformance/v1/driver.proto (conformance/README.md) on stdin
// and stdout: the runner's Hello first, answered with a HelloAnswer, then one DriverRequest
// per line, each answered with one DriverAnswer, in order, flushed after each; it exits at
// the end of input. Messages are read and written with the generated types (package
// internal/conformancepb) and protojson. It uses only the public fpgascore API (the
// fpgascorepb message type only to read a raw request file).
//
// Choices the spec leaves open, the same as the Python and C# drivers:
//   - with calls > 1, call i (1-based) sends "x-conformance-case: <case>#<i>";
//   - concurrency K > 1 runs the calls on K goroutines sharing one client (at most K in
//     flight); results are listed in call order;
//   - shape is always [N, 1000];
//   - a construction error gives one result with its code and no call; ACTION_NONE gives
//     one result with code OK when construction succeeded;
//   - ACTION_REQUEST sends the inputs and output_filter of the serialized PredictRequest
//     in request_file with Client.Predict (the client's own model spec) and reports the
//     decoded output;
//   - a session client keeps the connection settings of its first line; each line's
//     metadata is sent with that line's calls;
//   - error is set (and results empty) only for a line that is not a valid request.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	cpb "github.com/fpgascore/fpgascore/go/internal/conformancepb"
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
	first := true
	for {
		line, readErr := reader.ReadBytes('\n')
		if len(trimSpace(line)) > 0 {
			var answer proto.Message
			if first { // the runner's Hello; whatever its version, say ours (the runner decides)
				first = false
				hello := &cpb.Hello{}
				if err := unmarshal.Unmarshal(trimSpace(line), hello); err != nil || hello.GetProtocolVersion() == "" {
					fmt.Fprintf(errOut, "fpgascore-conformance: the first line is not a Hello with a protocolVersion (%v): %.200q\n", err, line)
					return 2
				}
				answer = helloAnswer()
			} else {
				answer = d.handleLine(trimSpace(line))
			}
			data, err := protojson.Marshal(answer)
			if err != nil {
				data, _ = protojson.Marshal(&cpb.DriverAnswer{Error: "driver failure: " + err.Error()})
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
