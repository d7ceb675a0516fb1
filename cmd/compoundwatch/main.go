// Command compoundwatch watches named places in Sentinel-2 imagery and reports
// where new buildings have appeared. See the README for the subcommands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	code := exitCode(err)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compoundwatch:", err)
	}
	os.Exit(code)
}
