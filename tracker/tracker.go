package tracker

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jobfsm/jobfsm/internal/errno"
)

// Verdicts of a tracked job.
const (
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	Cancelled = "cancelled"
	Unknown   = "unknown"
)

// Bitmap verdicts.
const (
	BitmapOK        = "ok"
	BitmapNeedsFull = "needs-full-backup"
)

// canceledText is strerror(ECANCELED) on glibc: QEMU's error text of a job
// that was cancelled (by a user or by its transaction's abort).
var canceledText = errno.ECANCELED.String()

// Kill points: Options.Hook is called with these names at the protocol's
// steps, after the step's effect (journal write or command) is done.
const (
	PointMarker   = "marker"   // marker bitmap created, intent not yet journaled
	PointIntent   = "intent"   // intent journaled, command not yet sent
	PointSent     = "sent"     // command answered, answer not yet journaled
	PointFinalize = "finalize" // job-finalize answered
	PointVerdict  = "verdict"  // verdicts journaled, jobs not yet dismissed
	PointDismiss  = "dismiss"  // job-dismiss answered
)

// Options configure a Tracker.
type Options struct {
	// Hook, when set, is called at every kill point (tests abandon the
	// tracker there to simulate a crash).
	Hook func(point string)
	// View, when set, records what the tracker sees and does (commands,
	// job events, connects, verdicts) for the timeline; see View.
	View *View
	// bug plants one known tracker bug (mutation tests only).
	bug Bug
}

// Bug names a planted tracker bug; the property test must catch each one.
type Bug int

const (
	noBug Bug = iota
	// BugDismissBeforeJournal dismisses a concluded job before its
	// verdict is durable.
	BugDismissBeforeJournal
	// BugEventByName acts on a JOB_STATUS_CHANGE to pending without
	// checking that the job is tracked.
	BugEventByName
	// BugMissingSucceeded decides a job QEMU no longer has as succeeded.
	BugMissingSucceeded
	// BugSkipFinalize never finalizes a pending job.
	BugSkipFinalize
	// BugClearOnFailure treats a failed on-success backup's bitmap as
	// reset.
	BugClearOnFailure
)

// Tracker runs the management side of QEMU's job protocol for the backups
// it starts. It is not safe for concurrent use.
type Tracker struct {
	j    *Journal
	c    *Client
	opts Options
}

// New returns a tracker over journal j talking to QEMU through c (which may
// be nil until SetClient).
func New(j *Journal, c *Client, opts Options) *Tracker {
	t := &Tracker{j: j, opts: opts}
	t.SetClient(c)
	return t
}

// SetClient replaces the QMP connection (after a reconnect).
func (t *Tracker) SetClient(c *Client) {
	t.c = c
	if c != nil && t.opts.View != nil {
		t.opts.View.step("connect", "", "", nil)
		c.Record(t.opts.View)
	}
}

// Journal returns the tracker's journal.
func (t *Tracker) Journal() *Journal { return t.j }

func (t *Tracker) hook(p string) {
	if t.opts.Hook != nil {
		t.opts.Hook(p)
	}
}

// BackupSpec is one blockdev-backup the tracker starts.
type BackupSpec struct {
	JobID      string
	Device     string
	Target     string
	Sync       string
	Bitmap     string
	BitmapMode string
	Speed      int64
	// maxChunk, when set, is sent as x-perf max-chunk: the property test
	// makes backups copy one cluster per step, so that failures and
	// cancels leave targets partly copied.
	maxChunk int64
}

var syncModes = map[string]bool{"full": true, "top": true, "none": true, "incremental": true, "bitmap": true}
var bitmapModes = map[string]bool{"": true, "on-success": true, "always": true, "never": true}

func (s BackupSpec) check() error {
	switch {
	case s.JobID == "":
		return &UsageError{"--job-id is required"}
	case s.Device == "":
		return &UsageError{"--device is required"}
	case s.Target == "":
		return &UsageError{"--target is required"}
	case !syncModes[s.Sync]:
		return &UsageError{fmt.Sprintf("--sync must be full, top, none, incremental or bitmap, not %q", s.Sync)}
	case !bitmapModes[s.BitmapMode]:
		return &UsageError{fmt.Sprintf("--bitmap-mode must be on-success, always or never, not %q", s.BitmapMode)}
	case s.Speed < 0:
		return &UsageError{"--speed must not be negative"}
	}
	return nil
}

// effectiveMode is the bitmap mode QEMU applies: incremental forces
// on-success (blockdev.c do_backup_common).
func (r JobRecord) effectiveMode() string {
	if r.Sync == "incremental" {
		return "on-success"
	}
	return r.BitmapMode
}

func (s BackupSpec) args(withID bool) map[string]any {
	a := map[string]any{
		"device": s.Device, "target": s.Target, "sync": s.Sync,
		"auto-finalize": false, "auto-dismiss": false,
	}
	if withID {
		a["job-id"] = s.JobID
	}
	if s.Bitmap != "" {
		a["bitmap"] = s.Bitmap
	}
	if s.BitmapMode != "" {
		a["bitmap-mode"] = s.BitmapMode
	}
	if s.Speed > 0 {
		a["speed"] = s.Speed
	}
	if s.maxChunk > 0 {
		a["x-perf"] = map[string]any{"max-chunk": s.maxChunk}
	}
	return a
}

// Backup journals and starts one backup job; it returns once QEMU accepted
// it. A refusal is journaled and returned as *RefusedError.
func (t *Tracker) Backup(s BackupSpec) error { return t.start([]BackupSpec{s}, false) }

// BackupGroup starts several backups as one QMP transaction with
// completion-mode grouped: they succeed together or are all cancelled.
func (t *Tracker) BackupGroup(specs []BackupSpec) error {
	if len(specs) == 0 {
		return &UsageError{"a group needs at least one backup"}
	}
	return t.start(specs, true)
}

func (t *Tracker) start(specs []BackupSpec, grouped bool) error {
	seen := map[string]bool{}
	for _, s := range specs {
		if err := s.check(); err != nil {
			return err
		}
		if seen[s.JobID] {
			return &UsageError{fmt.Sprintf("job id '%s' given twice", s.JobID)}
		}
		seen[s.JobID] = true
		if r, ok := t.j.Job(s.JobID); ok && r.Phase != PhaseRefused {
			return &UsageError{fmt.Sprintf("job '%s' is already tracked", s.JobID)}
		}
	}
	// the marker bitmap proves, later, that QEMU did not restart meanwhile
	bitmaps := map[string]BitmapRecord{}
	for _, b := range t.j.Bitmaps() {
		bitmaps[b.Key()] = b
	}
	var changed []BitmapRecord
	if needs := markerNodes(specs); len(needs) > 0 {
		nodes, err := t.queryNodes()
		if err != nil {
			return err
		}
		// the restart evidence (a missing marker) must be durable before
		// the marker is created anew, or a kill in between would erase it
		if err := t.j.write(nil, t.observe(nodes, bitmaps, nil)); err != nil {
			return err
		}
		for _, n := range needs {
			if nodes[n] != nil && !nodes[n].hasMarker(t.marker()) {
				_, err := t.c.Execute("block-dirty-bitmap-add", map[string]any{"node": n, "name": t.marker(), "disabled": true})
				var qe *QMPError
				if err != nil && !errors.As(err, &qe) {
					return err
				}
				t.hook(PointMarker)
			}
		}
	}
	group := ""
	if grouped {
		group = specs[0].JobID
	}
	var recs []JobRecord
	for _, s := range specs {
		recs = append(recs, JobRecord{ID: s.JobID, Group: group, Device: s.Device, Target: s.Target,
			Sync: s.Sync, Bitmap: s.Bitmap, BitmapMode: s.BitmapMode, Speed: s.Speed, Phase: PhaseIntent})
		if s.Bitmap != "" {
			k := s.Device + "/" + s.Bitmap
			b, ok := bitmaps[k]
			if !ok {
				b = BitmapRecord{Node: s.Device, Name: s.Bitmap, Reason: "no backup by the tracker has established it yet"}
			}
			b.Owner = s.JobID
			bitmaps[k] = b
			changed = append(changed, b)
		}
	}
	if err := t.j.write(recs, changed); err != nil {
		return err
	}
	t.hook(PointIntent)
	var err error
	if grouped {
		var actions []any
		for _, s := range specs {
			actions = append(actions, map[string]any{"type": "blockdev-backup", "data": s.args(true)})
		}
		_, err = t.c.Execute("transaction", map[string]any{
			"actions":    actions,
			"properties": map[string]any{"completion-mode": "grouped"},
		})
	} else {
		_, err = t.c.Execute("blockdev-backup", specs[0].args(true))
	}
	var qe *QMPError
	if err != nil && !errors.As(err, &qe) {
		// not known whether QEMU got it: the intent stays, reconcile decides
		return err
	}
	t.hook(PointSent)
	var release []BitmapRecord
	for i := range recs {
		r := &recs[i]
		r.Seq = 0
		if old, ok := t.j.Job(r.ID); ok {
			r.Seq = old.Seq
		}
		if qe != nil {
			r.Phase, r.Verdict, r.Error = PhaseRefused, Failed, qe.Desc
			if r.Bitmap != "" {
				for _, b := range t.j.Bitmaps() {
					if b.Owner == r.ID {
						b.Owner = ""
						release = append(release, b)
					}
				}
			}
		} else {
			r.Phase = PhaseStarted
		}
	}
	if err := t.j.write(recs, release); err != nil {
		return err
	}
	if qe != nil {
		t.viewVerdicts(recs, nil)
		ids := make([]string, len(specs))
		for i, s := range specs {
			ids[i] = s.JobID
		}
		return &RefusedError{Jobs: ids, Text: qe.Desc}
	}
	return nil
}

func markerNodes(specs []BackupSpec) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range specs {
		if s.Bitmap != "" && !seen[s.Device] {
			seen[s.Device] = true
			out = append(out, s.Device)
		}
	}
	return out
}

// marker is the name of the tracker's marker bitmap: a disabled,
// non-persistent bitmap whose presence proves QEMU has not restarted since
// the tracker created it (a restart loses every non-persistent bitmap).
func (t *Tracker) marker() string { return "jobsim-tracker-" + t.j.ID() }

// jobInfo is one entry of query-jobs.
type jobInfo struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Status   string `json:"status"`
	Current  int64  `json:"current-progress"`
	Total    int64  `json:"total-progress"`
	Error    string `json:"-"` // set from the "error" member by queryJobs
	HasError bool   `json:"-"`
}

func (t *Tracker) queryJobs() (map[string]*jobInfo, error) {
	raw, err := t.c.Execute("query-jobs", nil)
	if err != nil {
		return nil, err
	}
	// error's presence, not only its text, tells a failure (QEMU omits it
	// on success): a pointer keeps that apart in one decoding pass
	var l []struct {
		jobInfo
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, &ProtocolError{Op: "query-jobs", Err: err}
	}
	out := make(map[string]*jobInfo, len(l))
	for i := range l {
		ji := &l[i].jobInfo
		if l[i].Error != nil {
			ji.Error, ji.HasError = *l[i].Error, true
		}
		out[ji.ID] = ji
	}
	return out, nil
}

// dirtyInfo is one entry of a node's dirty-bitmaps.
type dirtyInfo struct {
	Name         string `json:"name"`
	Count        int64  `json:"count"`
	Granularity  int64  `json:"granularity"`
	Recording    bool   `json:"recording"`
	Busy         bool   `json:"busy"`
	Persistent   bool   `json:"persistent"`
	Inconsistent bool   `json:"inconsistent"`
}

type nodeInfo struct {
	Name    string      `json:"node-name"`
	Bitmaps []dirtyInfo `json:"dirty-bitmaps"`
}

func (n *nodeInfo) bitmap(name string) *dirtyInfo {
	for i := range n.Bitmaps {
		if n.Bitmaps[i].Name == name {
			return &n.Bitmaps[i]
		}
	}
	return nil
}

func (n *nodeInfo) hasMarker(name string) bool { return n.bitmap(name) != nil }

func (t *Tracker) queryNodes() (map[string]*nodeInfo, error) {
	raw, err := t.c.Execute("query-named-block-nodes", nil)
	if err != nil {
		return nil, err
	}
	var l []nodeInfo
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, &ProtocolError{Op: "query-named-block-nodes", Err: err}
	}
	out := map[string]*nodeInfo{}
	for i := range l {
		out[l[i].Name] = &l[i]
	}
	return out, nil
}

// Reconcile brings the journal up to date with QEMU: it finalizes tracked
// jobs waiting in pending, decides and journals every verdict it can, and
// dismisses concluded tracked jobs whose verdict is durable. Events are
// not needed for any of it.
func (t *Tracker) Reconcile() (Status, error) {
	t.followEvents()
	j1, err := t.queryJobs()
	if err != nil {
		return Status{}, err
	}
	recs := t.j.Jobs()
	finalized := map[string]bool{}
	for _, r := range recs {
		if r.Phase == PhaseDecided || r.Phase == PhaseRefused || t.opts.bug == BugSkipFinalize {
			continue
		}
		ji := j1[r.ID]
		if ji == nil || ji.Status != "pending" || (r.Group != "" && finalized[r.Group]) {
			continue
		}
		if err := t.finalize(r.ID); err != nil {
			return Status{}, err
		}
		finalized[r.Group] = r.Group != ""
	}
	// nodes before jobs: a job still listed afterwards proves QEMU did not
	// restart between them, so the bitmaps seen are the job's result
	nodes, err := t.queryNodes()
	if err != nil {
		return Status{}, err
	}
	j2, err := t.queryJobs()
	if err != nil {
		return Status{}, err
	}
	bitmaps := map[string]BitmapRecord{}
	for _, b := range t.j.Bitmaps() {
		bitmaps[b.Key()] = b
	}
	var decided, verdicts []JobRecord // verdicts: decided by this reconcile
	var dirty []BitmapRecord
	var dismiss []string
	for _, r := range recs {
		if r.Phase == PhaseRefused {
			continue
		}
		ji := j2[r.ID]
		if r.Phase == PhaseDecided {
			switch {
			case r.Gone:
			case ji == nil:
				r.Gone = true
				decided = append(decided, r)
			case ji.Status == "concluded":
				dismiss = append(dismiss, r.ID)
			}
			continue
		}
		switch {
		case ji == nil && t.opts.bug == BugMissingSucceeded:
			r.Verdict, r.Error = Succeeded, ""
		case ji == nil:
			r.Verdict = Unknown
			r.Error = fmt.Sprintf("QEMU has no job '%s' and no verdict was recorded: QEMU restarted, another client dismissed it, or the command never reached QEMU", r.ID)
		case ji.Status == "concluded" && !ji.HasError:
			r.Verdict, r.Error = Succeeded, ""
		case ji.Status == "concluded" && ji.Error == canceledText:
			r.Verdict, r.Error = Cancelled, ji.Error
		case ji.Status == "concluded":
			r.Verdict, r.Error = Failed, ji.Error
		default:
			if r.Phase == PhaseIntent {
				r.Phase = PhaseStarted
				decided = append(decided, r)
			}
			continue
		}
		r.Phase = PhaseDecided
		r.Gone = ji == nil
		decided = append(decided, r)
		verdicts = append(verdicts, r)
		if ji != nil {
			dismiss = append(dismiss, r.ID)
		}
		if r.Bitmap != "" {
			k := r.Device + "/" + r.Bitmap
			b := bitmaps[k]
			if b.Owner == r.ID || b.Owner == "" {
				b = t.decideBitmap(b, r, nodes)
				bitmaps[k] = b
				dirty = append(dirty, b)
			}
		}
	}
	owners := map[string]bool{}
	for _, r := range recs {
		if r.Phase == PhaseStarted || r.Phase == PhaseIntent {
			owners[r.ID] = true
		}
	}
	for _, r := range decided {
		if r.Phase == PhaseDecided {
			delete(owners, r.ID)
		}
	}
	dirty = append(dirty, t.observe(nodes, bitmaps, owners)...)
	if t.opts.bug == BugDismissBeforeJournal {
		if err := t.dismissAll(dismiss); err != nil {
			return Status{}, err
		}
		dismiss = nil
	}
	if err := t.j.write(decided, dirty); err != nil {
		return Status{}, err
	}
	t.viewVerdicts(verdicts, dirty)
	if len(decided) > 0 || len(dirty) > 0 {
		t.hook(PointVerdict)
	}
	if err := t.dismissAll(dismiss); err != nil {
		return Status{}, err
	}
	// dismissed: from now on the id may be another client's
	var gone []JobRecord
	for _, id := range dismiss {
		if r, ok := t.j.Job(id); ok && r.Phase == PhaseDecided && !r.Gone {
			r.Gone = true
			gone = append(gone, r)
		}
	}
	if err := t.j.write(gone, nil); err != nil {
		return Status{}, err
	}
	return t.status(j2), nil
}

// viewVerdicts records the verdicts just journaled: each job decided now
// and the bitmap its end decided.
func (t *Tracker) viewVerdicts(verdicts []JobRecord, bitmaps []BitmapRecord) {
	v := t.opts.View
	if v == nil {
		return
	}
	for _, r := range verdicts {
		action := r.Verdict
		if r.Error != "" && r.Verdict != Cancelled {
			action += ": " + r.Error
		}
		v.step("verdict", r.ID, action, nil)
		if r.Bitmap == "" {
			continue
		}
		for _, b := range bitmaps {
			if b.Node == r.Device && b.Name == r.Bitmap {
				verdict := BitmapNeedsFull
				if b.OK {
					verdict = BitmapOK
				}
				v.step("bitmap", r.ID, b.Key()+" "+verdict, nil)
				break
			}
		}
	}
}

func (t *Tracker) finalize(id string) error { return t.verb("job-finalize", id, PointFinalize) }

func (t *Tracker) dismissAll(ids []string) error {
	for _, id := range ids {
		if err := t.verb("job-dismiss", id, PointDismiss); err != nil {
			return err
		}
	}
	return nil
}

// verb sends a job verb whose refusal by QEMU changes nothing for the
// tracker (the job moved on meanwhile; Reconcile reads what it became), then
// passes the kill point after it. Only a broken connection is an error.
func (t *Tracker) verb(cmd, id, after string) error {
	_, err := t.c.Execute(cmd, map[string]any{"id": id})
	var qe *QMPError
	if err != nil && !errors.As(err, &qe) {
		return err
	}
	t.hook(after)
	return nil
}

// followEvents uses what the monitor told us meanwhile to finalize early;
// nothing depends on it (Reconcile queries anyway), it only saves a round.
func (t *Tracker) followEvents() {
	if t.c == nil {
		return
	}
	// finalizing one member finalizes its whole group: a second
	// job-finalize would only be refused (the member is concluded)
	finalized := map[string]bool{}
	for _, e := range t.c.TakeEvents() {
		if e.Name != "JOB_STATUS_CHANGE" {
			continue
		}
		var d struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if json.Unmarshal(e.Data, &d) != nil || d.Status != "pending" {
			continue
		}
		if t.opts.bug != BugEventByName {
			r, ok := t.j.Job(d.ID)
			if !ok || r.Phase == PhaseDecided || r.Phase == PhaseRefused || t.opts.bug == BugSkipFinalize || finalized[r.Group] {
				continue
			}
			finalized[r.Group] = r.Group != ""
		}
		_ = t.finalize(d.ID)
	}
}

// JobStatus is one job's line in the status.
type JobStatus struct {
	Verdict string `json:"verdict"`
	Error   string `json:"error"`
	Device  string `json:"device"`
	Target  string `json:"target"`
	Sync    string `json:"sync"`
	Bitmap  string `json:"bitmap"`
	// Progress of a running job (not in the JSON: it changes while the
	// verdict does not, and a second status must print the same).
	Current int64  `json:"-"`
	Total   int64  `json:"-"`
	State   string `json:"-"`
}

// BitmapStatus is one bitmap's line in the status.
type BitmapStatus struct {
	Verdict string   `json:"verdict"`
	Reason  string   `json:"reason"`
	Chain   []string `json:"chain"`
}

// Status is the tracker's answer: every tracked job's verdict and every
// tracked bitmap's state.
type Status struct {
	Jobs    map[string]JobStatus    `json:"jobs"`
	Bitmaps map[string]BitmapStatus `json:"bitmaps"`
}

// Settled reports whether no tracked job is still running.
func (s Status) Settled() bool {
	for _, j := range s.Jobs {
		if j.Verdict == Running {
			return false
		}
	}
	return true
}

func (t *Tracker) status(live map[string]*jobInfo) Status {
	st := Status{Jobs: map[string]JobStatus{}, Bitmaps: map[string]BitmapStatus{}}
	for _, r := range t.j.Jobs() {
		js := JobStatus{Verdict: r.Verdict, Error: r.Error, Device: r.Device, Target: r.Target, Sync: r.Sync, Bitmap: r.Bitmap}
		if r.Phase == PhaseStarted || r.Phase == PhaseIntent {
			js.Verdict = Running
			if ji := live[r.ID]; ji != nil {
				js.Current, js.Total, js.State = ji.Current, ji.Total, ji.Status
			}
		}
		st.Jobs[r.ID] = js
	}
	for _, b := range t.j.Bitmaps() {
		v := BitmapNeedsFull
		if b.OK {
			v = BitmapOK
		}
		chain, reason := b.Chain, b.Reason
		if js, ok := st.Jobs[b.Owner]; ok && js.Verdict == Running {
			// the job holds the bitmap (frozen, writes go to its
			// successor): no incremental backup can be taken from it now,
			// and its state is decided when the job ends
			v, chain, reason = BitmapNeedsFull, nil, fmt.Sprintf("in use by tracked backup %s; decided when it ends", b.Owner)
		}
		if chain == nil {
			chain = []string{}
		}
		st.Bitmaps[b.Key()] = BitmapStatus{Verdict: v, Reason: reason, Chain: chain}
	}
	return st
}

// SortedJobIDs returns the status's job ids in order.
func (s Status) SortedJobIDs() []string {
	return slices.Sorted(maps.Keys(s.Jobs))
}

// SortedBitmapKeys returns the status's bitmap keys in order.
func (s Status) SortedBitmapKeys() []string {
	return slices.Sorted(maps.Keys(s.Bitmaps))
}

// Only returns the status restricted to one job (and its bitmap).
func (s Status) Only(id string) Status {
	out := Status{Jobs: map[string]JobStatus{}, Bitmaps: map[string]BitmapStatus{}}
	if j, ok := s.Jobs[id]; ok {
		out.Jobs[id] = j
		if j.Bitmap != "" {
			if b, ok := s.Bitmaps[j.Device+"/"+j.Bitmap]; ok {
				out.Bitmaps[j.Device+"/"+j.Bitmap] = b
			}
		}
	}
	return out
}
