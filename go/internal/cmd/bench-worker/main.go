// Command bench-worker is bench/clients.py's Go worker, as thin as the conformance driver: it
// reads one plan, a JSON line on stdin (plan.go; bench/clients.py's make_plan makes it), runs
// it (phases.go) through the fpgascore client or the raw generated stub (callers.go), and
// prints one JSON line on stdout, the raw timings:
//
//	{"language":"go","phases":[{"side":"a","latencies_ms":[...],"wall_ms":W,"cpu_ms":C},...]}
//
// All planning and all statistics are bench/clients.py's. Exit 2: a bad plan (why, on
// stderr); exit 1: a call failed; nothing on stdout either way. It is under internal/ so that
// the published module does not offer it among its commands.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// report is the line printed: one entry per planned phase, in the plan's order.
type report struct {
	Language string        `json:"language"`
	Phases   []phaseResult `json:"phases"`
}

func main() {
	os.Exit(run(context.Background(), os.Stdin, os.Stdout, os.Stderr))
}

// run is the command; it returns the exit code.
func run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	p, err := readPlan(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "bench-worker: bad plan:", err)
		return 2
	}
	phases, err := runPlan(ctx, p)
	if err != nil {
		fmt.Fprintln(stderr, "bench-worker:", err)
		return 1
	}
	line, err := json.Marshal(report{Language: "go", Phases: phases})
	if err != nil {
		fmt.Fprintln(stderr, "bench-worker: encoding the report:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}
