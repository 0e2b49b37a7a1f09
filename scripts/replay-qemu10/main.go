// Command replay-qemu10 replays the conformance corpus (spec/conformance)
// on QEMU 10.0's qemu-storage-daemon, installed by scripts/setup-qemu10.sh,
// and compares every transcript with the one QEMU 7.2 recorded.
//
//	go run ./scripts/replay-qemu10 -dir ~/.cache/jobfsm/qemu-10.0 [-record] [-only NAME]
//
// With -record it writes what 10.0 answered to
// spec/conformance/qemu-10.0/NAME.transcript.json; without, it also
// compares each run with that recording (the recordings must replay
// identically, or they are noise, not behaviour). It lives here, outside
// conformance/, because it only drives conformance's exported runner with
// another daemon: images are made with 10.0's qemu-img and qemu-io (put
// first on PATH through symlinks, as the runner looks them up by name).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jobfsm/jobfsm/conformance"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "replay-qemu10:", err)
		os.Exit(1)
	}
}

func run() error {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	dir := flag.String("dir", filepath.Join(cache, "jobfsm", "qemu-10.0"), "where scripts/setup-qemu10.sh installed QEMU 10.0")
	corpus := flag.String("corpus", "spec/conformance", "the corpus: scenarios and QEMU 7.2's transcripts")
	out := flag.String("out", "spec/conformance/qemu-10.0", "where QEMU 10.0's transcripts are kept")
	record := flag.Bool("record", false, "write 10.0's transcripts instead of checking them")
	only := flag.String("only", "", "run only this scenario")
	timeout := flag.Duration("timeout", 30*time.Second, "per-scenario timeout")
	flag.Parse()

	bin := filepath.Join(*dir, "bin")
	qsd := filepath.Join(bin, "qemu-storage-daemon-10.0")
	if _, err := os.Stat(qsd); err != nil {
		return fmt.Errorf("%s missing: run `make setup-qemu10` first (%w)", qsd, err)
	}
	tools, err := os.MkdirTemp("", "qemu10-tools-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tools)
	for _, t := range []string{"qemu-img", "qemu-io"} {
		if err := os.Symlink(filepath.Join(bin, t+"-10.0"), filepath.Join(tools, t)); err != nil {
			return err
		}
	}
	if err := os.Setenv("PATH", tools+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		return err
	}

	scns, err := conformance.LoadCorpus(*corpus)
	if err != nil {
		return err
	}
	if *record {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
	}
	srv := &conformance.Process{Label: "qemu-storage-daemon 10.0",
		Command: []string{qsd, "--chardev", "stdio,id=m", "--monitor", "m"}}
	var total, same, failed, unstable int
	for _, s := range scns {
		if *only != "" && s.Name != *only {
			continue
		}
		total++
		got, err := conformance.Run(s, srv, *timeout)
		if err != nil {
			var pe *conformance.ProtocolError
			if !errors.As(err, &pe) {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			failed++
			fmt.Printf("ERROR   %s: %v\n", s.Name, err)
			continue
		}
		v72, err := conformance.LoadTranscript(filepath.Join(*corpus, s.Name+".transcript.json"))
		if err != nil {
			return err
		}
		verdict := "SAME   "
		d := conformance.Diff(v72, got)
		if d == "" {
			same++
		} else {
			verdict = "DIFFERS"
		}
		path := filepath.Join(*out, s.Name+".transcript.json")
		if *record {
			if err := os.WriteFile(path, got.Marshal(), 0o644); err != nil {
				return err
			}
		} else if rec, err := conformance.LoadTranscript(path); err != nil {
			return fmt.Errorf("%s: %w (record first with -record)", s.Name, err)
		} else if rd := conformance.Diff(rec, got); rd != "" {
			unstable++
			fmt.Printf("UNSTABLE %s: differs from its 10.0 recording: %s\n", s.Name, rd)
		}
		line := verdict + " " + s.Name
		if d != "" {
			line += ": 7.2 → 10.0: " + d
		}
		fmt.Println(strings.TrimSpace(line))
	}
	fmt.Printf("%d of %d transcripts identical to QEMU 7.2's; %d differ, %d did not finish\n",
		same, total, total-same-failed, failed)
	if !*record {
		fmt.Printf("%d of %d replays differ from their 10.0 recording\n", unstable, total-failed)
		if unstable > 0 {
			return fmt.Errorf("%d replays are not reproducible", unstable)
		}
	}
	return nil
}
