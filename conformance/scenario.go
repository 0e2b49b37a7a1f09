package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Image is a file the runner creates in the scenario's directory before the
// server starts: a raw file of Size bytes with Fill ranges ([offset, length,
// byte]), or a qcow2 image (Format "qcow2", optional Backing image name)
// made with qemu-img and filled with qemu-io.
type Image struct {
	Name    string     `json:"name"`
	Size    int64      `json:"size"`
	Fill    [][3]int64 `json:"fill,omitempty"`
	Format  string     `json:"format,omitempty"`
	Backing string     `json:"backing,omitempty"`
}

// Step is one scenario step; exactly one of its fields is set.
type Step struct {
	// Send executes a command ({"execute": ..., "arguments": ...});
	// "${IMG:name}" in strings is replaced by the image's path.
	Send map[string]any `json:"send,omitempty"`
	// Order, with Send, records which events arrived before the command's
	// return, in order ("events_before_return" in its response entry:
	// "JOB_STATUS_CHANGE id status" or "EVENT id"): the event-versus-return
	// order of reference §3.2, which a transcript otherwise leaves out.
	Order bool `json:"order,omitempty"`
	// Hang, with Send, is a window (a Go duration, "2s") in which the
	// server must not answer the command: QEMU's outcome where it never
	// answers (reference §12's rollback hang). No answer within the window
	// is recorded as {"cmd": ..., "no_answer_within": "2s"}, with the
	// events that came meanwhile, and the run ends there (a hung monitor
	// answers nothing more, so a hang step is the last step); an answer is
	// recorded as any other and the run goes on. A server that deviates
	// by answering (jobsim, D1) is held to its jobsim transcript.
	Hang string `json:"hang,omitempty"`
	// WaitEvent waits for the first event of that name whose data contains
	// Match, among events since the last command that no earlier wait took.
	WaitEvent string         `json:"wait_event,omitempty"`
	Match     map[string]any `json:"match,omitempty"`
	// Bitmaps records a node's dirty bitmaps (query-named-block-nodes).
	Bitmaps string `json:"bitmaps,omitempty"`
	// Graph records driver, read-only flag and backing file of nodes.
	Graph []string `json:"graph,omitempty"`
	// SHA256 records the digest of a raw image file.
	SHA256 string `json:"sha256,omitempty"`
	// GuestSHA256 records the digest of what a guest reads from a qcow2
	// chain (qemu-img convert); the scenario must have closed it.
	GuestSHA256 string `json:"guest_sha256,omitempty"`
}

// Scenario is a language-neutral QMP script (the format of
// ../shared/reference/qemu-transcripts/record.py, plus Tags and Deviation).
type Scenario struct {
	Name   string   `json:"-"`
	Note   string   `json:"note"`
	Images []Image  `json:"images"`
	Mask   []string `json:"mask"`
	Steps  []Step   `json:"steps"`
	// Tags classify scenarios: "time-bound" marks jobs that run to
	// completion under a speed limit (≥ 1 s on QEMU).
	Tags []string `json:"tags,omitempty"`
	// Deviation names the spec/deviations.md entry (e.g. "D10") under which
	// jobsim's transcript differs from QEMU's; jobsim is then compared with
	// NAME.jobsim.transcript.json instead.
	Deviation string `json:"deviation,omitempty"`
	// QEMUOnly marks a scenario jobsim does not run at all (its Deviation
	// says why).
	QEMUOnly bool `json:"qemu_only,omitempty"`
}

// HasTag reports whether the scenario carries tag t.
func (s *Scenario) HasTag(t string) bool {
	return slices.Contains(s.Tags, t)
}

// NeedsQemuImg reports whether the scenario needs qemu-img/qemu-io (qcow2
// images or guest digests).
func (s *Scenario) NeedsQemuImg() bool {
	for _, im := range s.Images {
		if im.Format != "" && im.Format != "raw" {
			return true
		}
	}
	for _, st := range s.Steps {
		if st.GuestSHA256 != "" {
			return true
		}
	}
	return false
}

// Validate checks a scenario's shape so that a malformed file fails with a
// clear message instead of a confusing run.
func (s *Scenario) Validate() error {
	names := map[string]bool{}
	for i, im := range s.Images {
		if im.Name == "" || strings.ContainsAny(im.Name, "/}") {
			return fmt.Errorf("image %d: bad name %q", i, im.Name)
		}
		if names[im.Name] {
			return fmt.Errorf("image %q declared twice", im.Name)
		}
		if im.Size <= 0 {
			return fmt.Errorf("image %q: size must be positive", im.Name)
		}
		if im.Backing != "" && !names[im.Backing] {
			return fmt.Errorf("image %q: backing %q is not an earlier image", im.Name, im.Backing)
		}
		for _, f := range im.Fill {
			if f[0] < 0 || f[1] < 0 || f[0]+f[1] > im.Size || f[2] < 0 || f[2] > 255 {
				return fmt.Errorf("image %q: fill %v out of range", im.Name, f)
			}
		}
		names[im.Name] = true
	}
	if len(s.Steps) == 0 {
		return fmt.Errorf("no steps")
	}
	if s.QEMUOnly && s.Deviation == "" {
		return fmt.Errorf("qemu_only needs the deviation that explains it")
	}
	for i, st := range s.Steps {
		n := 0
		if st.Send != nil {
			n++
			if _, ok := st.Send["execute"]; !ok {
				return fmt.Errorf("step %d: send without execute", i)
			}
		}
		for _, set := range []bool{st.WaitEvent != "", st.Bitmaps != "", st.Graph != nil, st.SHA256 != "", st.GuestSHA256 != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("step %d: exactly one of send, wait_event, bitmaps, graph, sha256, guest_sha256 must be set", i)
		}
		if st.Order && st.Send == nil {
			return fmt.Errorf("step %d: order needs send", i)
		}
		if st.Hang != "" {
			if err := validHang(st, i == len(s.Steps)-1); err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		for _, img := range []string{st.SHA256, st.GuestSHA256} {
			if img != "" && !names[img] {
				return fmt.Errorf("step %d: unknown image %q", i, img)
			}
		}
	}
	return nil
}

// maxHang bounds a hang window: every second of it is spent waiting on
// every QEMU run.
const maxHang = 10 * time.Second

func validHang(st Step, last bool) error {
	d, err := time.ParseDuration(st.Hang)
	switch {
	case st.Send == nil:
		return fmt.Errorf("hang needs send")
	case st.Order:
		return fmt.Errorf("hang and order exclude each other (a hung command has no return to order events against)")
	case err != nil || d <= 0 || d > maxHang:
		return fmt.Errorf("hang %q is not a duration between 0 and %v", st.Hang, maxHang)
	case !last:
		return fmt.Errorf("a hang step must be the last step (a hung server answers nothing after it)")
	}
	return nil
}

// LoadScenario reads NAME.json.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Name = strings.TrimSuffix(filepath.Base(path), ".json")
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// LoadCorpus reads every scenario in dir (NAME.json, not *.transcript.json),
// sorted by name.
func LoadCorpus(dir string) ([]*Scenario, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".transcript.json") {
			continue
		}
		s, err := LoadScenario(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Transcript is a normalized run: responses in order (greeting
// capabilities, each command's return or error class+desc, observation
// results), events in order without timestamps, and each job's status
// sequence. Its JSON form is record.py's (plus "statuses").
type Transcript struct {
	Responses []any               `json:"responses"`
	Events    []any               `json:"events"`
	Statuses  map[string][]string `json:"statuses,omitempty"`
}

// LoadTranscript reads a transcript file.
func LoadTranscript(path string) (*Transcript, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t Transcript
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Statuses = statusSequences(t.Events)
	return &t, nil
}

// Marshal is the transcript's canonical file form (sorted keys, one-space
// indent, trailing newline), as record.py writes it.
func (t *Transcript) Marshal() []byte {
	c := *t
	c.Statuses = statusSequences(t.Events)
	b, _ := json.MarshalIndent(c, "", " ")
	return append(b, '\n')
}

// statusSequences extracts each job's JOB_STATUS_CHANGE statuses.
func statusSequences(events []any) map[string][]string {
	out := map[string][]string{}
	for _, e := range events {
		m, _ := e.(map[string]any)
		if m["event"] != "JOB_STATUS_CHANGE" {
			continue
		}
		d, _ := m["data"].(map[string]any)
		id, _ := d["id"].(string)
		st, _ := d["status"].(string)
		out[id] = append(out[id], st)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
