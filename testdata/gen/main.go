// Command gen writes the synthetic Sentinel-2 fixture world (scenes as COGs,
// the area, the truth) into a folder, deterministically:
//
//	go run ./testdata/gen -out testdata/scenes
//
// Tests and `make demo` generate the same world in a temporary folder through
// package pipeline/fixture; this command is for looking at it in QGIS.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"compoundwatch/pipeline/fixture"
)

func main() {
	out := flag.String("out", "testdata/scenes", "folder to write the fixture world into")
	weeks := flag.Int("weeks", fixture.DefaultSpec().Weeks, "number of ISO weeks of scenes")
	flag.Parse()
	spec := fixture.DefaultSpec()
	spec.Weeks = *weeks
	m, err := fixture.Generate(context.Background(), *out, spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d scenes, %d compounds into %s\n", len(m.Scenes), len(m.Compounds), *out)
}
