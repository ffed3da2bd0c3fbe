// Command bench-null-server is the native null server of bench/clients.py (package
// benchserver): a PredictionService that does no work at all.
//
//	bench-null-server --port P [--host 127.0.0.1] [--tls --cert PEM --key PEM] [--key-env VAR]
//
// It is under internal/ so that the published module does not offer it among its commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fpgascore/fpgascore/go/internal/benchserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := benchserver.Command(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
