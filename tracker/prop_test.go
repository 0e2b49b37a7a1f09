package tracker

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/rapidmain"
	"github.com/jobfsm/jobfsm/qmp"
)

// defaultChecks keeps the property test at a few seconds on two cores;
// `make tracker-soak` runs more with a random seed.
const defaultChecks = 40

// TestMain runs rapid with this package's defaults (CI: seed 1) and
// prints the seed.
func TestMain(m *testing.M) {
	rapidmain.Run(m, "tracker", defaultChecks, "go test ./tracker -run TestTrackerProperty")
}

// bugNames are the planted bugs the mutation proof selects by name.
var bugNames = map[string]Bug{
	"dismiss-before-journal": BugDismissBeforeJournal,
	"event-by-name":          BugEventByName,
	"missing-succeeded":      BugMissingSucceeded,
	"skip-finalize":          BugSkipFinalize,
	"clear-on-failure":       BugClearOnFailure,
}

const (
	imgSize   = 512 << 10
	backupBps = 2 << 20 // a backup takes 250 ms of virtual time
	maxJobs   = 12
)

var sources = []string{"s0", "s1"}

// truthJob is the simulator's ground truth about one tracked job.
type truthJob struct {
	id, group, device, target, sync, mode string
	bitmap                                bool
	snapshot                              []byte // the source when the job started
	copies                                []bool // clusters the job copies; nil: all
	created                               bool   // QEMU ever had the job
}

func (j *truthJob) covers(c int) bool { return j.copies == nil || j.copies[c] }

// world is one run: the simulated QEMU (a dispatcher driven synchronously),
// the tracker under test, and the ground truth.
type world struct {
	t       failer
	dir     string
	bug     Bug
	d       *qmp.Dispatcher
	admin   *qmp.Session
	writers map[string]*blockdev.GuestWriter
	journal string
	tr      *Tracker
	conn    *simConn
	jobs    map[string]*truthJob
	order   []string
	targets []string
	// lost: jobs QEMU lost (a restart) — the only jobs allowed unknown,
	// with those it never had
	lost     map[string]bool
	verified map[string]bool
	others   map[string]bool
	nOther   int
	nTarget  int
	nGroup   int
	killIn   int
	dropping bool
	drops    int
	restarts int
	log      []string
}

// failer is what the world needs of a test: *rapid.T in the property
// test, *testing.T in the scripted regressions.
type failer interface {
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type killed struct{}

// coverage counts what the runs reached (verdicts, faults), to check that
// the workload still exercises them.
var coverage = map[string]int{}

func newWorld(t failer, dir string, bug Bug) *world {
	w := &world{t: t, dir: dir, bug: bug, jobs: map[string]*truthJob{}, lost: map[string]bool{}, verified: map[string]bool{},
		others: map[string]bool{}, killIn: -1, journal: filepath.Join(dir, "journal.db")}
	for _, s := range sources {
		w.createImage(s)
		if err := os.WriteFile(filepath.Join(dir, s+".img"), bytes.Repeat([]byte{0x5a}, imgSize), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.boot()
	w.open()
	return w
}

func (w *world) createImage(name string) {
	if err := os.WriteFile(filepath.Join(w.dir, name+".img"), make([]byte, imgSize), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// boot starts QEMU (again): nodes over the image files, which survive, and
// each source's bitmap, which does not (the operator adds it anew).
func (w *world) boot() {
	w.d = qmp.NewDispatcher(qmp.Options{Seed: uint64(w.restarts), TestCommands: true})
	w.admin = w.d.Connect()
	w.adminDo("qmp_capabilities", nil)
	for _, n := range append(append([]string(nil), sources...), w.targets...) {
		if err := w.adminDo("blockdev-add", map[string]any{"driver": "file", "node-name": n,
			"filename": filepath.Join(w.dir, n+".img")}); err != nil {
			w.t.Fatalf("blockdev-add %s: %v", n, err)
		}
	}
	w.writers = map[string]*blockdev.GuestWriter{}
	for i, s := range sources {
		if err := w.adminDo("block-dirty-bitmap-add", map[string]any{"node": s, "name": "bm"}); err != nil {
			w.t.Fatal(err)
		}
		gw, err := blockdev.NewGuestWriter(w.d.Graph(), s, uint64(w.restarts*10+i), 96<<10)
		if err != nil {
			w.t.Fatal(err)
		}
		w.writers[s] = gw
	}
}

// adminDo runs a command as another client and returns QEMU's error, if any.
func (w *world) adminDo(cmd string, args map[string]any) error {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	w.admin.HandleLine(b)
	var ans error
	for _, l := range w.admin.Take() {
		var m struct {
			Error *struct{ Desc string } `json:"error"`
		}
		if json.Unmarshal(l, &m) == nil && m.Error != nil {
			ans = errors.New(m.Error.Desc)
		}
	}
	return ans
}

// open (re)starts the tracker from its journal over a fresh connection.
func (w *world) open() {
	j, err := OpenJournal(w.journal)
	if err != nil {
		w.t.Fatalf("reopening the journal: %v", err)
	}
	// kills are simulated in-process, so committed writes survive in the
	// page cache without fsync, which would take most of the test's time
	// (BenchmarkJournalVerdict measures the journal with it)
	j.db.NoSync = true
	w.tr = New(j, nil, Options{Hook: w.hook, bug: w.bug})
	w.connect()
}

func (w *world) connect() {
	if w.conn != nil {
		w.conn.Close()
	}
	w.conn = newSimConn(w.d)
	w.conn.dropEvent = func() bool {
		if w.dropping {
			w.drops++
			return w.drops%2 == 1
		}
		return false
	}
	w.conn.onCommand = w.onCommand
	c, err := NewClient(w.conn, 0)
	if err != nil {
		w.t.Fatalf("connecting: %v", err)
	}
	w.tr.SetClient(c)
}

func (w *world) hook(point string) {
	if w.killIn == 0 {
		w.killIn = -1
		w.log = append(w.log, "killed at "+point)
		coverage["kill"]++
		panic(killed{})
	}
	if w.killIn > 0 {
		w.killIn--
	}
}

// onCommand sees every command the tracker sends, before QEMU does: T3
// (dismiss only after a durable verdict) and T5 (hands off other jobs).
func (w *world) onCommand(cmd string, args map[string]any) {
	w.log = append(w.log, cmd)
	id, _ := args["id"].(string)
	switch cmd {
	case "job-finalize", "job-dismiss", "job-cancel", "job-pause", "job-resume", "job-complete",
		"block-job-cancel", "block-job-finalize", "block-job-dismiss":
		if w.jobs[id] == nil {
			w.t.Fatalf("T5: the tracker sent %s for job '%s', which it did not start", cmd, id)
		}
	}
	if cmd == "job-dismiss" {
		coverage["dismiss"]++
		if r, ok := w.tr.Journal().Job(id); !ok || r.Phase != PhaseDecided {
			w.t.Fatalf("T3: the tracker dismissed '%s' before its verdict was durable (journal: %+v)", id, r)
		}
	}
}

// call runs one tracker operation; a kill reopens the tracker from its
// journal, a broken connection reconnects. It reports whether fn returned.
func (w *world) call(fn func() error) (err error, returned bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killed); !ok {
				panic(r)
			}
			_ = w.tr.Journal().Close()
			w.open()
			err, returned = nil, false
		}
	}()
	err = fn()
	var pe *ProtocolError
	if errors.As(err, &pe) {
		w.connect()
	}
	return err, true
}

func (w *world) read(node string) []byte {
	buf := make([]byte, imgSize)
	if _, err := w.d.Graph().Read(node, 0, buf); err != nil {
		w.t.Fatalf("reading %s: %v", node, err)
	}
	return buf
}

func (w *world) bitmap(node string) *blockdev.DirtyBitmap {
	n := w.d.Graph().Node(node)
	if n == nil {
		return nil
	}
	return n.FindBitmap("bm")
}

func (w *world) newTarget() string {
	w.nTarget++
	name := fmt.Sprintf("t%d", w.nTarget)
	w.createImage(name)
	w.targets = append(w.targets, name)
	if err := w.adminDo("blockdev-add", map[string]any{"driver": "file", "node-name": name,
		"filename": filepath.Join(w.dir, name+".img")}); err != nil {
		w.t.Fatal(err)
	}
	return name
}

// drawSpec draws one backup of source s and records its ground truth.
func (w *world) drawSpec(t *rapid.T, s, group string) BackupSpec {
	switch rapid.IntRange(0, 3).Draw(t, "kind") {
	case 0:
		return w.spec(s, group, "full", "")
	case 1:
		return w.spec(s, group, "full", rapid.SampledFrom([]string{"on-success", "always"}).Draw(t, "mode"))
	case 2:
		return w.spec(s, group, "incremental", "")
	default:
		return w.spec(s, group, "bitmap", rapid.SampledFrom([]string{"on-success", "always", "never"}).Draw(t, "mode"))
	}
}

// spec makes one backup of source s (with bitmap bm unless a full backup
// without mode) and records its ground truth.
func (w *world) spec(s, group, sync, mode string) BackupSpec {
	id := fmt.Sprintf("b%d", len(w.jobs)+1)
	spec := BackupSpec{JobID: id, Device: s, Target: w.newTarget(), Speed: backupBps, maxChunk: 64 << 10,
		Sync: sync, BitmapMode: mode}
	if sync != "full" || mode != "" {
		spec.Bitmap = "bm"
	}
	tj := &truthJob{id: id, group: group, device: s, target: spec.Target, sync: spec.Sync,
		mode: spec.BitmapMode, bitmap: spec.Bitmap != "", snapshot: w.read(s)}
	if spec.Sync == "bitmap" || spec.Sync == "incremental" {
		if bm := w.bitmap(s); bm != nil {
			tj.copies = clusters(bm)
		}
	}
	w.jobs[id] = tj
	w.order = append(w.order, id)
	return spec
}

func clusters(bm *blockdev.DirtyBitmap) []bool {
	out := make([]bool, imgSize/bm.Granularity())
	for i := range out {
		out[i] = bm.Bits().Get(int64(i))
	}
	return out
}

func (w *world) backup(t *rapid.T) {
	if len(w.jobs) >= maxJobs {
		return
	}
	var specs []BackupSpec
	group := ""
	if rapid.Bool().Draw(t, "grouped") {
		w.nGroup++
		group = fmt.Sprintf("g%d", w.nGroup)
		for _, s := range sources {
			specs = append(specs, w.drawSpec(t, s, group))
		}
	} else {
		specs = append(specs, w.drawSpec(t, rapid.SampledFrom(sources).Draw(t, "src"), ""))
	}
	w.start(group, specs...)
}

// start has the tracker start specs (a grouped transaction when group is
// set) and records which jobs QEMU got.
func (w *world) start(group string, specs ...BackupSpec) {
	_, _ = w.call(func() error {
		if group != "" {
			return w.tr.BackupGroup(specs)
		}
		return w.tr.Backup(specs[0])
	})
	for _, s := range specs {
		w.jobs[s.JobID].created = w.d.Job(s.JobID) != nil
	}
}

// write is one guest write to source s. It may fail when copy-before-write
// cannot copy to a target with an injected error (break-guest-write); the
// source is then unchanged.
func (w *world) write(s string) { _, _, _ = w.writers[s].Write() }

// restart is a QEMU restart: jobs and bitmaps are gone, images stay.
func (w *world) restart() {
	coverage["restart"]++
	for id := range w.jobs {
		if w.d.Job(id) != nil {
			w.lost[id] = true
		}
	}
	w.conn.Close()
	w.restarts++
	w.others = map[string]bool{}
	w.boot()
	w.connect()
}

func (w *world) runningIDs() []string {
	var ids []string
	for _, id := range w.order {
		if j := w.d.Job(id); j != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// status reconciles and checks T1, T2, group atomicity and T4.
func (w *world) status(t failer) {
	st, err, ok := w.reconcile()
	if !ok || err != nil {
		return
	}
	w.check(st)
	// T4: a second reconcile right after changes nothing
	before := w.snapshotJournal()
	n := len(w.log)
	killIn, breakAt := w.killIn, w.conn.breakAt
	w.killIn, w.conn.breakAt = -1, 0
	st2, err, _ := w.reconcile()
	w.killIn, w.conn.breakAt = killIn, breakAt
	if err != nil {
		t.Fatalf("second reconcile: %v", err)
	}
	for _, c := range w.log[n:] {
		if c != "query-jobs" && c != "query-named-block-nodes" {
			t.Fatalf("T4: the second reconcile sent %s (commands: %v)", c, w.log[n:])
		}
	}
	if !reflect.DeepEqual(st, st2) {
		t.Fatalf("T4: the second reconcile changed the status:\n%+v\n%+v", st, st2)
	}
	if after := w.snapshotJournal(); after != before {
		t.Fatalf("T4: the second reconcile changed the journal:\n%s\n%s", before, after)
	}
}

func (w *world) reconcile() (Status, error, bool) {
	var st Status
	err, ok := w.call(func() error {
		var err error
		st, err = w.tr.Reconcile()
		return err
	})
	return st, err, ok
}

func (w *world) snapshotJournal() string {
	b, _ := json.Marshal([]any{w.tr.Journal().Jobs(), w.tr.Journal().Bitmaps()})
	return string(b)
}

func (w *world) check(st Status) {
	t := w.t
	groups := map[string][]string{}
	for id, js := range st.Jobs {
		tj := w.jobs[id]
		if tj == nil {
			t.Fatalf("status lists job %s the test never started", id)
		}
		if tj.group != "" && js.Verdict != Running && js.Verdict != Unknown {
			groups[tj.group] = append(groups[tj.group], id+"="+js.Verdict)
		}
		coverage["verdict "+js.Verdict]++
		switch js.Verdict {
		case Unknown:
			if !w.lost[id] && tj.created {
				t.Fatalf("T2: job %s is unknown, but QEMU did not lose it", id)
			}
		case Succeeded:
			if w.verified[id] {
				continue // a verdict is final and nothing writes a target after its job
			}
			w.verified[id] = true
			got := w.read(tj.target)
			for c := 0; c < imgSize/(64<<10); c++ {
				lo, hi := c*(64<<10), (c+1)*(64<<10)
				if tj.covers(c) && !bytes.Equal(got[lo:hi], tj.snapshot[lo:hi]) {
					t.Fatalf("T1: job %s succeeded, but cluster %d of target %s differs from the source at job start", id, c, tj.target)
				}
			}
		}
	}
	for g, vs := range groups {
		sort.Strings(vs)
		succ := 0
		for _, v := range vs {
			if strings.HasSuffix(v, "="+Succeeded) {
				succ++
			}
		}
		if succ > 0 && succ < len(vs) {
			t.Fatalf("grouped transaction %s is not atomic: %v", g, vs)
		}
	}
	byTarget := map[string]*truthJob{}
	for _, j := range w.jobs {
		byTarget[j.target] = j
	}
	for key, bs := range st.Bitmaps {
		coverage["bitmap "+bs.Verdict]++
		if bs.Verdict != BitmapOK {
			continue
		}
		node := strings.Split(key, "/")[0]
		bm := w.bitmap(node)
		if bm == nil {
			t.Fatalf("T1: bitmap %s is ok, but QEMU has no such bitmap", key)
		}
		disk := w.read(node)
		gran := int(bm.Granularity())
		reads := map[string][]byte{}
		for c := 0; c < imgSize/gran; c++ {
			if bm.Bits().Get(int64(c)) {
				continue
			}
			lo, hi := c*gran, (c+1)*gran
			var from *truthJob
			for i := len(bs.Chain) - 1; i >= 0; i-- {
				if j := byTarget[bs.Chain[i]]; j != nil && j.covers(c) {
					from = j
					break
				}
			}
			if from == nil {
				t.Fatalf("T1: bitmap %s is ok with chain %v, but clean cluster %d is in no target of it", key, bs.Chain, c)
			}
			if reads[from.target] == nil {
				reads[from.target] = w.read(from.target)
			}
			if !bytes.Equal(reads[from.target][lo:hi], disk[lo:hi]) {
				t.Fatalf("T1: bitmap %s is ok with chain %v, but clean cluster %d differs from target %s (%s)", key, bs.Chain, c, from.target, bs.Reason)
			}
		}
	}
}

// drain ends a run: no more faults, every job runs to its end, and the
// tracker must settle every job and leave none in QEMU (T3, liveness).
func (w *world) drain(t failer) {
	w.killIn, w.dropping = -1, false
	w.connect()
	for _, id := range w.runningIDs() {
		_ = w.adminDo("job-resume", map[string]any{"id": id})
	}
	var st Status
	for i := 0; i < 40; i++ {
		var err error
		st, err, _ = w.reconcile()
		if err != nil {
			t.Fatalf("reconcile while draining: %v", err)
		}
		if st.Settled() && len(w.runningIDs()) == 0 {
			break
		}
		w.d.Advance(100e6)
	}
	if !st.Settled() {
		t.Fatalf("liveness: jobs still running after the drain: %+v", st.Jobs)
	}
	if ids := w.runningIDs(); len(ids) > 0 {
		t.Fatalf("T3: QEMU still has tracked jobs %v after the drain", ids)
	}
	w.check(st)
}

func runProperty(t *rapid.T, dir string, bug Bug) {
	w := newWorld(t, dir, bug)
	defer func() { _ = w.tr.Journal().Close() }()
	t.Repeat(map[string]func(*rapid.T){
		"backup": w.backup,
		"write": func(t *rapid.T) {
			s := rapid.SampledFrom(sources).Draw(t, "src")
			// a write may fail when copy-before-write cannot copy to a
			// target with an injected error (break-guest-write); the
			// source is then unchanged
			w.write(s)
		},
		"advance": func(t *rapid.T) {
			w.d.Advance(int64(rapid.IntRange(1, 150).Draw(t, "ms")) * 1e6)
			w.d.Settle()
		},
		"io-error": func(t *rapid.T) {
			ids := w.runningIDs()
			if len(ids) == 0 {
				return
			}
			tj := w.jobs[rapid.SampledFrom(ids).Draw(t, "job")]
			_, _ = w.d.Graph().InjectError(tj.target, blockdev.InjectRule{Write: true, Errno: errno.EIO, Once: true})
		},
		"other-cancel": func(t *rapid.T) {
			ids := w.runningIDs()
			if len(ids) == 0 {
				return
			}
			id := rapid.SampledFrom(ids).Draw(t, "job")
			_ = w.adminDo("job-cancel", map[string]any{"id": id})

			// sometimes the other client also dismisses what it
			// cancelled: QEMU loses the job, unknown is the honest verdict
			if j := w.d.Job(id); j != nil && j.Status().String() == "concluded" && rapid.Bool().Draw(t, "dismiss") {
				if w.adminDo("job-dismiss", map[string]any{"id": id}) == nil {
					w.lost[id] = true
					coverage["other-dismiss"]++
				}
			}
		},
		"other-pause": func(t *rapid.T) {
			if ids := w.runningIDs(); len(ids) > 0 {
				verb := rapid.SampledFrom([]string{"job-pause", "job-resume"}).Draw(t, "verb")
				_ = w.adminDo(verb, map[string]any{"id": rapid.SampledFrom(ids).Draw(t, "job")})
			}
		},
		"other-job": func(t *rapid.T) {
			w.nOther++
			id := fmt.Sprintf("o%d", w.nOther)
			if w.adminDo("x-jobsim-test-job", map[string]any{"id": id, "steps": 3, "step-ns": 10e6,
				"auto-finalize": false, "auto-dismiss": false}) == nil {
				w.others[id] = true
			}
		},
		"status": func(t *rapid.T) { w.status(t) },
		"restart": func(t *rapid.T) {
			// rarer than the rest: a restart makes every live job unknown
			if rapid.IntRange(0, 3).Draw(t, "restart") == 3 {
				w.restart()
			}
		},
		"kill": func(t *rapid.T) { w.killIn = rapid.IntRange(0, 4).Draw(t, "after") },
		"conn-fault": func(t *rapid.T) {
			w.conn.breakAt = w.conn.n + rapid.IntRange(1, 8).Draw(t, "at")
			w.conn.breakBefore = rapid.Bool().Draw(t, "before")
		},
		"drop-events": func(t *rapid.T) { w.dropping = !w.dropping },
		"": func(t *rapid.T) {
			// T5: other clients' jobs wait in pending until their owner acts
			for id := range w.others {
				if j := w.d.Job(id); j == nil || j.Status().String() == "concluded" {
					t.Fatalf("T5: another client's job %s was finalized or dismissed by someone else", id)
				}
			}
		},
	})
	w.drain(t)
}

// TestTrackerProperty is the tracker's state-machine property test: random
// backups (full, incremental, every bitmap mode, grouped), guest writes, I/O
// errors and other clients' cancels, pauses and jobs, under dropped events,
// broken connections, tracker kills and QEMU restarts; rules T1–T5
// (spec/tracker.md) are checked against the simulator's ground truth.
// JOBFSM_TRACKER_BUG plants a bug (the mutation proof sets it).
func TestTrackerProperty(t *testing.T) {
	bug := noBug
	if name := os.Getenv("JOBFSM_TRACKER_BUG"); name != "" {
		var ok bool
		if bug, ok = bugNames[name]; !ok {
			t.Fatalf("unknown planted bug %q", name)
		}
	}
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(t.TempDir(), "run")
		if err != nil {
			rt.Fatal(err)
		}
		runProperty(rt, dir, bug)
	})
	if bug != noBug || flag.Lookup("rapid.checks").Value.String() != strconv.Itoa(defaultChecks) {
		return
	}

	// the default run must reach every verdict and fault, or it proves
	// less than it claims
	for _, k := range []string{"verdict succeeded", "verdict failed", "verdict cancelled", "verdict unknown",
		"verdict running", "bitmap ok", "bitmap needs-full-backup", "kill", "restart", "dismiss", "other-dismiss"} {
		if coverage[k] == 0 {
			t.Errorf("the property test never reached %q: its workload no longer covers it", k)
		}
	}
}
