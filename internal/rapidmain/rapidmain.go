// Package rapidmain is the TestMain of the packages whose property tests
// run under pgregory.net/rapid: CI runs a fixed seed and a package's own
// number of checks unless the command line (-rapid.seed, -rapid.checks) or
// the environment (RAPID_SEED, RAPID_CHECKS) chose them, and the seed is
// printed first so that any run replays.
package rapidmain

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// Run sets rapid's defaults, prints "NAME: rapid seed S, C checks (replay:
// REPLAY -rapid.seed=S)" and runs the tests; it does not return.
func Run(m *testing.M, name string, checks int, replay string) {
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rapid.checks"] && os.Getenv("RAPID_CHECKS") == "" {
		_ = flag.Set("rapid.checks", strconv.Itoa(checks))
	}
	if !set["rapid.seed"] && os.Getenv("RAPID_SEED") == "" {
		_ = flag.Set("rapid.seed", "1")
	}
	seed := flag.Lookup("rapid.seed").Value.String()
	if seed == "0" {
		seed = os.Getenv("RAPID_SEED")
	}
	fmt.Printf("%s: rapid seed %s, %s checks (replay: %s -rapid.seed=%s)\n",
		name, seed, flag.Lookup("rapid.checks").Value.String(), replay, seed)
	os.Exit(m.Run())
}
