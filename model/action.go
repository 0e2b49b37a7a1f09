package model

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jobfsm/jobfsm/fsm"
)

// Op is what an Action does. OpNoop is zero so that shrinking (which drives
// choices towards zero) turns unneeded steps into no-ops.
type Op uint8

const (
	OpNoop       Op = iota // let due work run (Settle)
	OpCreate               // create jobs: one alone, or several in a grouped transaction
	OpStart                // job_start a created job
	OpVerb                 // a QMP job command
	OpAdvance              // advance virtual time
	OpDrainBegin           // an internal pause (drained section) begins
	OpDrainEnd             // the oldest open drained section of a job ends
	OpDisconnect           // a monitor disconnects
	OpConnect              // a monitor reconnects (and re-reads query-jobs)
	OpWrite                // block mode: a guest write to a real job's device
	OpFault                // block mode: arm a one-shot EIO on the node a real job writes (Force: disarm)
	OpBitmap               // block mode: a block-dirty-bitmap command on a backup's busy bitmap
	numOps
)

var opNames = [...]string{"noop", "create", "start", "verb", "advance", "drain-begin", "drain-end", "disconnect", "connect", "write", "fault", "bitmap"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// Target says which id a command names.
type Target uint8

const (
	TargetJob       Target = iota // a job of this sequence (Action.Job indexes the ids created so far)
	TargetUnknown                 // a well-formed id no job has
	TargetMalformed               // an id that is not well-formed
)

// JobPlan is one job to create: its arguments and its test driver's script.
type JobPlan struct {
	Type           string `json:"type"` // backup, mirror, commit, stream, or create (not a block job)
	ManualFinalize bool   `json:"manual_finalize,omitempty"`
	ManualDismiss  bool   `json:"manual_dismiss,omitempty"`
	Speed          int64  `json:"speed,omitempty"` // negative: the creation early-fails
	Steps          int    `json:"steps"`           // work slices, 1 ms each
	Ready          bool   `json:"ready,omitempty"` // mirror-like: ready after the work, waits for complete
	Lazy           bool   `json:"lazy,omitempty"`  // ready-style: a soft cancel takes one more slice to notice
	FailAt         int    `json:"fail_at,omitempty"`
	IOErrorAt      int    `json:"io_error_at,omitempty"`
	OnError        string `json:"on_error,omitempty"`
	NoSpace        bool   `json:"enospc,omitempty"`
	IORead         bool   `json:"io_read,omitempty"`
	PrepareFails   bool   `json:"prepare_fails,omitempty"`
	// Changeable: the driver has .change (block-job-change, QEMU 8.2+),
	// which accepts every change.
	Changeable bool `json:"changeable,omitempty"`
	// IDKind: 0 a fresh id, 1 the id of an earlier job of the sequence
	// (in use, or reusable after dismiss), 2 a malformed id.
	IDKind uint8 `json:"id_kind,omitempty"`
	IDRef  int   `json:"id_ref,omitempty"`
	// Real (block mode): a real sim/blockjob job of Type on its own
	// nodes; OnError is its target (or commit/stream) error policy and
	// Active makes a commit an active commit. The test-driver fields are
	// ignored.
	Real   bool `json:"real,omitempty"`
	Active bool `json:"active,omitempty"`
	// BitmapMode (real backups): back up with the device's dirty bitmap
	// "bm" in this bitmap-mode (on-success, always, never); SyncBitmap uses
	// sync=bitmap rather than full (never implies it).
	BitmapMode string `json:"bitmap_mode,omitempty"`
	SyncBitmap bool   `json:"sync_bitmap,omitempty"`
	// Chain (real backups): an incremental backup (sync=bitmap,
	// bitmap-mode on-success) of the device of an earlier backup that is
	// gone, into the same target; ChainRef picks that device.
	Chain    bool `json:"chain,omitempty"`
	ChainRef int  `json:"chain_ref,omitempty"`
}

// Action is one step of a random sequence. It is plain data: a sequence
// replays exactly and can be shrunk.
type Action struct {
	Op     Op
	Jobs   []JobPlan // OpCreate: one job, or a grouped transaction
	Start  bool      // OpCreate: start the jobs right away (QMP's own order)
	Job    int       // OpStart, OpVerb, OpDrain*: index into the sequence's ids
	Target Target    // OpVerb
	Verb   fsm.Verb  // OpVerb
	Block  bool      // OpVerb: block-job-* rather than job-*
	Force  bool      // OpVerb cancel: block-job-cancel force
	Speed  int64     // OpVerb set-speed
	Ns     int64     // OpAdvance
	Mon    int       // OpDisconnect, OpConnect
}

func (p JobPlan) String() string {
	var b strings.Builder
	b.WriteString(p.Type)
	if p.Real && p.Active {
		b.WriteString(" active")
	}
	if p.ManualFinalize {
		b.WriteString(" auto-finalize=false")
	}
	if p.ManualDismiss {
		b.WriteString(" auto-dismiss=false")
	}
	if p.Speed != 0 {
		fmt.Fprintf(&b, " speed=%d", p.Speed)
	}
	if p.Real {
		if p.OnError != "" {
			fmt.Fprintf(&b, " on-error=%s", p.OnError)
		}
		if p.Chain {
			fmt.Fprintf(&b, " incremental-of=#%d", p.ChainRef)
		} else if p.BitmapMode != "" {
			sync := "full"
			if p.SyncBitmap || p.BitmapMode == "never" {
				sync = "bitmap"
			}
			fmt.Fprintf(&b, " sync=%s bitmap=bm bitmap-mode=%s", sync, p.BitmapMode)
		}
		return b.String()
	}
	fmt.Fprintf(&b, " steps=%d", p.Steps)
	if p.Ready {
		b.WriteString(" ready")
	}
	if p.Lazy {
		b.WriteString(" lazy")
	}
	if p.FailAt > 0 {
		fmt.Fprintf(&b, " fail-at=%d", p.FailAt)
	}
	if p.IOErrorAt > 0 {
		errno := "EIO"
		if p.NoSpace {
			errno = "ENOSPC"
		}
		op := "write"
		if p.IORead {
			op = "read"
		}
		fmt.Fprintf(&b, " io-error-at=%d(%s %s on-error=%s)", p.IOErrorAt, op, errno, p.OnError)
	}
	if p.PrepareFails {
		b.WriteString(" prepare-fails")
	}
	if p.Changeable {
		b.WriteString(" changeable")
	}
	return b.String()
}

// actionJSON is Action's file form, with names for the op and the verb.
type actionJSON struct {
	Op     string    `json:"op"`
	Jobs   []JobPlan `json:"jobs,omitempty"`
	Start  bool      `json:"start,omitempty"`
	Job    int       `json:"job,omitempty"`
	Target Target    `json:"target,omitempty"`
	Verb   string    `json:"verb,omitempty"`
	Block  bool      `json:"block,omitempty"`
	Force  bool      `json:"force,omitempty"`
	Speed  int64     `json:"speed,omitempty"`
	Ns     int64     `json:"ns,omitempty"`
	Mon    int       `json:"mon,omitempty"`
}

// MarshalJSON writes the action with its op and verb by name.
func (a Action) MarshalJSON() ([]byte, error) {
	w := actionJSON{Op: a.Op.String(), Jobs: a.Jobs, Start: a.Start, Job: a.Job, Target: a.Target,
		Block: a.Block, Force: a.Force, Speed: a.Speed, Ns: a.Ns, Mon: a.Mon}
	if a.Op == OpVerb {
		w.Verb = a.Verb.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads an action written by MarshalJSON.
func (a *Action) UnmarshalJSON(b []byte) error {
	var w actionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	op := -1
	for i, n := range opNames {
		if n == w.Op {
			op = i
		}
	}
	if op < 0 {
		return fmt.Errorf("model: unknown action op %q", w.Op)
	}
	*a = Action{Op: Op(op), Jobs: w.Jobs, Start: w.Start, Job: w.Job, Target: w.Target,
		Block: w.Block, Force: w.Force, Speed: w.Speed, Ns: w.Ns, Mon: w.Mon}
	if a.Op == OpVerb {
		// A verb of any version; Sequence checks it against its own.
		v, ok := parseAnyVerb(w.Verb)
		if !ok {
			return fmt.Errorf("model: unknown verb %q", w.Verb)
		}
		a.Verb = v
	}
	if a.Job < 0 || a.Mon < 0 || a.Target > TargetMalformed {
		return fmt.Errorf("model: action %s has a negative index or bad target", w.Op)
	}
	return nil
}

// Sequence is a replayable run: the sim seed and the actions. Regression
// cases under testdata/ are Sequences in JSON.
type Sequence struct {
	Note    string `json:"note,omitempty"`
	SimSeed uint64 `json:"sim_seed"`
	// Block: replay in block mode (real jobs, guest writes, faults).
	Block bool `json:"block,omitempty"`
	// Version is the QEMU version sim and the model follow (absent: 7.2).
	Version fsm.Version `json:"qemu,omitempty"`
	Actions []Action    `json:"actions"`
	// Want, for a failing sequence (a campaign's failure report), is the
	// violation id the sequence produces.
	Want string `json:"want,omitempty"`
}

// parseAnyVerb parses a verb of any version's table.
func parseAnyVerb(name string) (fsm.Verb, bool) {
	for _, v := range fsm.Versions() {
		if verb, ok := fsm.For(v).ParseVerb(name); ok {
			return verb, true
		}
	}
	return 0, false
}

// UnmarshalJSON reads a sequence and checks that each verb is one of its
// version's (change is not a command of QEMU 7.2).
func (s *Sequence) UnmarshalJSON(b []byte) error {
	type plain Sequence // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	table := fsm.For(p.Version)
	for i, a := range p.Actions {
		if a.Op != OpVerb {
			continue
		}
		if _, ok := table.ParseVerb(a.Verb.String()); !ok {
			return fmt.Errorf("model: action %d: %s is not a job verb of QEMU %s", i, a.Verb, p.Version)
		}
	}
	*s = Sequence(p)
	return nil
}
