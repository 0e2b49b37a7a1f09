// Package testseed is the seed of the seeded tests that do not run under
// rapid: fixed (the value CI runs) unless the environment variable the
// test names says otherwise — a number replays that seed, "random" draws a
// new one. The seed is always logged with the way to replay it.
package testseed

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Get returns the seed for a test: $env if set, else fixed.
func Get(t testing.TB, env string, fixed uint64) uint64 {
	t.Helper()
	s := fixed
	switch v := os.Getenv(env); v {
	case "":
	case "random":
		s = uint64(time.Now().UnixNano())
	default:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want a number or \"random\"", env, v)
		}
		s = n
	}
	t.Logf("seed %d (replay with %s=%d)", s, env, s)
	return s
}
