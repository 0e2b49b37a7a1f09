package conformance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jobfsm/jobfsm/fsm"
)

// perJob groups events by job (data.id, else data.device): the order of two
// jobs' events relative to each other, and of events relative to command
// responses, is racy in QEMU itself, so only each job's own order counts.
func perJob(events []any) map[string][]any {
	g := map[string][]any{}
	for _, e := range events {
		m, _ := e.(map[string]any)
		d, _ := m["data"].(map[string]any)
		key, ok := d["id"].(string)
		if !ok {
			key, _ = d["device"].(string)
		}
		g[key] = append(g[key], e)
	}
	return g
}

func short(v any) string {
	if s, ok := v.(string); ok && s == "<missing>" {
		return s
	}
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		b = append(b[:300], "..."...)
	}
	return string(b)
}

// Diff returns the first difference between two transcripts ("" if they
// agree): each job's events in order, then the responses in order.
func Diff(want, got *Transcript) string {
	w, g := perJob(want.Events), perJob(got.Events)
	jobs := map[string]bool{}
	for k := range w {
		jobs[k] = true
	}
	for k := range g {
		jobs[k] = true
	}
	var names []string
	for k := range jobs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, job := range names {
		a, b := w[job], g[job]
		for i := 0; i < len(a) || i < len(b); i++ {
			var x, y any = "<missing>", "<missing>"
			if i < len(a) {
				x = a[i]
			}
			if i < len(b) {
				y = b[i]
			}
			if !jsonEqual(x, y) {
				return fmt.Sprintf("events of %q [%d]: want %s, got %s", job, i, short(x), short(y))
			}
		}
	}
	for i := 0; i < len(want.Responses) || i < len(got.Responses); i++ {
		var x, y any = "<missing>", "<missing>"
		if i < len(want.Responses) {
			x = want.Responses[i]
		}
		if i < len(got.Responses) {
			y = got.Responses[i]
		}
		if !jsonEqual(x, y) {
			return fmt.Sprintf("responses[%d]: want %s, got %s", i, short(x), short(y))
		}
	}
	return ""
}

// Corpus is a scenario directory with its recorded transcripts.
type Corpus struct {
	Dir       string
	Scenarios []*Scenario
	// Version is the QEMU version whose transcripts the corpus compares
	// with; TranscriptDir is where they are (Dir for 7.2, Dir/qemu-10.0 for
	// 10.0: see TranscriptDir).
	Version       fsm.Version
	TranscriptDir string
	// Deviations are the ids defined in the deviations file.
	Deviations map[string]bool
}

var deviationID = regexp.MustCompile(`(?m)(?:^#+\s*|\*\*)(D[0-9]+)\b`)

// OpenCorpus loads dir and the deviation ids of deviationsFile (headings
// "## D10 ..." or "- **D10** ..."), and checks that every scenario's deviation is defined and
// has its jobsim transcript.
func OpenCorpus(dir, deviationsFile string) (*Corpus, error) {
	return OpenCorpusAt(dir, deviationsFile, fsm.DefaultVersion)
}

// TranscriptDir is where the transcripts QEMU version v recorded for the
// scenarios of dir are kept: 7.2's next to the scenarios, another
// version's in dir/qemu-VERSION (spec/conformance/README.md).
func TranscriptDir(dir string, v fsm.Version) string {
	if v == fsm.QEMU7_2 {
		return dir
	}
	return filepath.Join(dir, "qemu-"+v.String())
}

// OpenCorpusAt is OpenCorpus comparing with QEMU version v's transcripts
// (and, for deviating scenarios, jobsim's transcripts at v, kept next to
// them).
func OpenCorpusAt(dir, deviationsFile string, v fsm.Version) (*Corpus, error) {
	scns, err := LoadCorpus(dir)
	if err != nil {
		return nil, err
	}
	c := &Corpus{Dir: dir, Scenarios: scns, Deviations: map[string]bool{}, Version: v, TranscriptDir: TranscriptDir(dir, v)}
	if deviationsFile != "" {
		b, err := os.ReadFile(deviationsFile)
		if err != nil {
			return nil, err
		}
		for _, m := range deviationID.FindAllStringSubmatch(string(b), -1) {
			c.Deviations[m[1]] = true
		}
	}
	for _, s := range scns {
		if s.Deviation == "" {
			continue
		}
		if !c.Deviations[s.Deviation] {
			return nil, fmt.Errorf("scenario %s: deviation %s is not defined in %s", s.Name, s.Deviation, deviationsFile)
		}

	}
	return c, nil
}

// QEMUPath is the transcript recorded on real QEMU.
func (c *Corpus) QEMUPath(s *Scenario) string {
	return filepath.Join(c.TranscriptDir, s.Name+".transcript.json")
}

func (c *Corpus) jobsimPath(s *Scenario) string {
	return filepath.Join(c.TranscriptDir, s.Name+".jobsim.transcript.json")
}

// QEMUOnly reports whether jobsim does not run a scenario.
func (c *Corpus) QEMUOnly(s *Scenario) bool { return s.QEMUOnly }

// JobsimPath is where a deviating scenario's jobsim transcript lives.
func (c *Corpus) JobsimPath(s *Scenario) string { return c.jobsimPath(s) }

// Want returns the transcript a server must produce: QEMU's, or for
// jobsim (qemu false) the deviation's transcript when the scenario has one.
func (c *Corpus) Want(s *Scenario, qemu bool) (*Transcript, error) {
	if !qemu && s.Deviation != "" {
		return LoadTranscript(c.jobsimPath(s))
	}
	return LoadTranscript(c.QEMUPath(s))
}

// Result is one scenario's outcome.
type Result struct {
	Scenario *Scenario
	Got      *Transcript
	Diff     string // first difference, "" when equal
	Err      error  // the run failed
	Elapsed  time.Duration
}

// OK reports a pass.
func (r *Result) OK() bool { return r.Err == nil && r.Diff == "" }

func (r *Result) String() string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("FAIL %s: %v", r.Scenario.Name, r.Err)
	case r.Diff != "":
		return fmt.Sprintf("FAIL %s: %s", r.Scenario.Name, r.Diff)
	}
	return "PASS " + r.Scenario.Name
}

// Check runs one scenario on srv and compares it with the expected
// transcript (qemu: srv is real QEMU, so deviations do not apply).
func (c *Corpus) Check(s *Scenario, srv Server, qemu bool, timeout time.Duration) *Result {
	start := time.Now()
	got, err := Run(s, srv, timeout)
	res := &Result{Scenario: s, Got: got, Err: err, Elapsed: time.Since(start)}
	if err != nil {
		return res
	}
	want, err := c.Want(s, qemu)
	if err != nil {
		res.Err = err
		return res
	}
	res.Diff = Diff(want, got)
	return res
}

// Summary renders results as lines plus "N passed, M failed".
func Summary(rs []*Result) string {
	var b strings.Builder
	pass := 0
	for _, r := range rs {
		b.WriteString(r.String())
		b.WriteByte('\n')
		if r.OK() {
			pass++
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", pass, len(rs)-pass)
	return b.String()
}
