package qmp

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jobfsm/jobfsm/fsm"
	"github.com/jobfsm/jobfsm/sim"
)

// TestEveryVersionHasASchema: each version fsm speaks has a generated
// schema whose greeting is that version's (the recorded files' greetings).
func TestEveryVersionHasASchema(t *testing.T) {
	want := map[fsm.Version]string{
		fsm.QEMU7_2:  `{"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}`,
		fsm.QEMU10_0: `{"qemu": {"micro": 13, "minor": 0, "major": 10}, "package": "Debian 1:10.0.13+ds-0+deb13u1"}`,
	}
	for _, v := range fsm.Versions() {
		s, err := loadSchema(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if got := string(Encode(s.version)); got != want[v] {
			t.Errorf("%s: version %s, want %s", v, got, want[v])
		}
	}
	var se *SchemaError
	if _, err := loadSchema(fsm.Version(200)); err == nil || !asSchemaError(err, &se) {
		t.Errorf("loadSchema(200) = %v, want a *SchemaError", err)
	}
}

func asSchemaError(err error, target **SchemaError) bool {
	se, ok := err.(*SchemaError)
	*target = se
	return ok
}

// v10 is a negotiated 10.0 session with null-co nodes s0/t0 (1 GiB),
// s1/t1 (4 MiB), s2/t2 (4 MiB).
type v10 struct {
	t *testing.T
	d *Dispatcher
	s *Session
}

func newV10(t *testing.T, v fsm.Version) *v10 {
	d := NewDispatcher(Options{Version: v})
	x := &v10{t: t, d: d, s: d.Connect()}
	x.s.Take()
	x.do(`{"execute":"qmp_capabilities"}`)
	for _, n := range []string{"s0", "t0", "s1", "t1", "s2", "t2"} {
		size := "4194304"
		if n[1] == '0' {
			size = "1073741824"
		}
		x.do(`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"` + n + `","size":` + size + `}}`)
	}
	return x
}

// do sends one command and returns its response line (events dropped).
func (x *v10) do(line string) string {
	x.t.Helper()
	x.s.HandleLine([]byte(line))
	resp := ""
	for _, l := range x.s.Take() {
		if !strings.HasPrefix(string(l), `{"timestamp"`) {
			resp = string(l)
		}
	}
	return resp
}

func (x *v10) expect(line, want string) {
	x.t.Helper()
	if got := x.do(line); got != want {
		x.t.Errorf("%s\n got %s\nwant %s", line, got, want)
	}
}

// activelySynced is query-block-jobs' actively-synced of job id, "absent"
// when the member is missing.
func (x *v10) activelySynced(id string) string {
	x.t.Helper()
	var r struct {
		Return []map[string]any `json:"return"`
	}
	if err := json.Unmarshal([]byte(x.do(`{"execute":"query-block-jobs"}`)), &r); err != nil {
		x.t.Fatal(err)
	}
	for _, j := range r.Return {
		if j["device"] == id {
			if v, ok := j["actively-synced"]; ok {
				b, _ := json.Marshal(v)
				return string(b)
			}
			return "absent"
		}
	}
	x.t.Fatalf("no job %s in query-block-jobs", id)
	return ""
}

// runUntil steps the simulator until job id has status st.
func (x *v10) runUntil(id string, st fsm.Status) {
	x.t.Helper()
	for i := 0; i < 1000; i++ {
		if j := x.d.Job(id); j != nil && j.Status() == st {
			x.s.Take()
			return
		}
		if !x.d.Step() {
			break
		}
	}
	x.t.Fatalf("job %s never reached %s", id, st)
}

const (
	okLine        = `{"return": {}}`
	notBackground = `{"error": {"class": "GenericError", "desc": "Change to copy mode 'background' is not implemented"}}`
)

// TestBlockJobChange10 holds block-job-change to the answers measured on
// qemu-storage-daemon 10.0.13 (spec/qemu-10.0.md §5): the lookup, the
// schema's checks, mirror_change's rules (the mirror branch read whatever
// the type, only background -> write-blocking), a backup's lack of change,
// the verb check on a concluded job, and actively-synced following the
// copy mode once the mirror finds nothing dirty.
func TestBlockJobChange10(t *testing.T) {
	x := newV10(t, fsm.QEMU10_0)
	x.expect(`{"execute":"block-job-change","arguments":{"id":"nosuch","type":"mirror","copy-mode":"write-blocking"}}`,
		`{"error": {"class": "DeviceNotActive", "desc": "Block job 'nosuch' not found"}}`)
	x.expect(`{"execute":"blockdev-mirror","arguments":{"job-id":"m0","device":"s0","target":"t0","sync":"full","speed":1}}`, okLine)
	for _, c := range []struct{ args, want string }{
		{`"type":"commit"`, okLine}, // empty branch: background, the current mode
		{`"type":"mirror","copy-mode":"background"`, okLine},
		{`"type":"mirror"`, `{"error": {"class": "GenericError", "desc": "Parameter 'copy-mode' is missing"}}`},
		{`"type":"mirror","copy-mode":"bogus"`, `{"error": {"class": "GenericError", "desc": "Parameter 'copy-mode' does not accept value 'bogus'"}}`},
		{`"type":"mirror","copy-mode":"write-blocking","x":1`, `{"error": {"class": "GenericError", "desc": "Parameter 'x' is unexpected"}}`},
		{`"type":"foo"`, `{"error": {"class": "GenericError", "desc": "Parameter 'type' does not accept value 'foo'"}}`},
		{`"type":"mirror","copy-mode":"write-blocking"`, okLine},
		{`"type":"mirror","copy-mode":"write-blocking"`, okLine}, // the mode it has
		{`"type":"mirror","copy-mode":"background"`, notBackground},
		{`"type":"commit"`, notBackground},
	} {
		line := `{"execute":"block-job-change","arguments":{"id":"m0",` + c.args + `}}`
		x.expect(line, c.want)
	}
	// still copying its first 16 MiB of 1 GiB: not synced
	if got := x.activelySynced("m0"); got != "false" {
		t.Errorf("running write-blocking mirror: actively-synced %s, want false", got)
	}
	x.expect(`{"execute":"block-job-change","arguments":{"type":"backup"}}`,
		`{"error": {"class": "GenericError", "desc": "Parameter 'id' is missing"}}`)

	x.expect(`{"execute":"blockdev-backup","arguments":{"job-id":"b0","device":"s1","target":"t1","sync":"full","speed":1}}`, okLine)
	unsupported := `{"error": {"class": "GenericError", "desc": "Job type does not support change"}}`
	x.expect(`{"execute":"block-job-change","arguments":{"id":"b0","type":"backup"}}`, unsupported)
	x.expect(`{"execute":"block-job-change","arguments":{"id":"b0","type":"mirror","copy-mode":"write-blocking"}}`, unsupported)
	x.expect(`{"execute":"job-pause","arguments":{"id":"b0"}}`, okLine)
	x.expect(`{"execute":"block-job-change","arguments":{"id":"b0","type":"mirror","copy-mode":"write-blocking"}}`, unsupported)

	x.expect(`{"execute":"blockdev-mirror","arguments":{"job-id":"m2","device":"s2","target":"t2","sync":"full","auto-dismiss":false}}`, okLine)
	x.runUntil("m2", fsm.Ready)
	if got := x.activelySynced("m2"); got != "false" {
		t.Errorf("ready background mirror: actively-synced %s, want false", got)
	}
	x.expect(`{"execute":"block-job-change","arguments":{"id":"m2","type":"mirror","copy-mode":"write-blocking"}}`, okLine)
	x.d.Advance(200e6) // the next iterations of the ready mirror (100 ms slices)
	if got := x.activelySynced("m2"); got != "true" {
		t.Errorf("ready mirror switched to write-blocking: actively-synced %s, want true", got)
	}
	x.expect(`{"execute":"job-pause","arguments":{"id":"m2"}}`, okLine)
	x.expect(`{"execute":"block-job-change","arguments":{"id":"m2","type":"mirror","copy-mode":"write-blocking"}}`, okLine)
	x.expect(`{"execute":"job-resume","arguments":{"id":"m2"}}`, okLine)
	x.expect(`{"execute":"block-job-cancel","arguments":{"device":"m2"}}`, okLine)
	x.runUntil("m2", fsm.Concluded)
	if got := x.activelySynced("m2"); got != "true" {
		t.Errorf("concluded write-blocking mirror: actively-synced %s, want true", got)
	}
	x.expect(`{"execute":"block-job-change","arguments":{"id":"m2","type":"backup"}}`,
		`{"error": {"class": "GenericError", "desc": "Job 'm2' in state 'concluded' cannot accept command verb 'change'"}}`)
}

// TestVersionSurfaces72: on 7.2 block-job-change is an unknown command and
// query-block-jobs has no actively-synced.
func TestVersionSurfaces72(t *testing.T) {
	x := newV10(t, fsm.QEMU7_2)
	x.expect(`{"execute":"block-job-change","arguments":{"id":"m0","type":"mirror","copy-mode":"write-blocking"}}`,
		`{"error": {"class": "CommandNotFound", "desc": "The command block-job-change has not been found"}}`)
	x.expect(`{"execute":"blockdev-mirror","arguments":{"job-id":"m0","device":"s0","target":"t0","sync":"full","speed":1}}`, okLine)
	if got := x.activelySynced("m0"); got != "absent" {
		t.Errorf("7.2 mirror: actively-synced %s, want absent", got)
	}
}

// TestEveryAlternateIsNamed: every alternate of every version's schema has
// its QAPI name in alternateNames (the recorded schemas number types
// differently per version, so each version needs its own keys).
func TestEveryAlternateIsNamed(t *testing.T) {
	for _, v := range fsm.Versions() {
		s := mustSchema(v)
		for _, e := range s.types {
			if e.MetaType != "alternate" {
				continue
			}
			var key []string
			for _, m := range e.Members {
				key = append(key, m.Type)
			}
			if s.alternates[strings.Join(key, ",")] == "" {
				t.Errorf("%s: alternate %s (%s) has no name in alternateNames", v, e.Name, strings.Join(key, ","))
			}
		}
	}
}

// TestAlternateTypeError10: with 10.0's numbering the type errors still
// name the alternates (answers measured on qemu-storage-daemon 10.0.13).
func TestAlternateTypeError10(t *testing.T) {
	x := newV10(t, fsm.QEMU10_0)
	x.expect(`{"execute":"block-dirty-bitmap-merge","arguments":{"node":"s0","target":"b","bitmaps":[1]}}`,
		`{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'null', expected: BlockDirtyBitmapOrStr"}}`)
	x.expect(`{"execute":"blockdev-add","arguments":{"driver":"raw","node-name":"r0","file":1}}`,
		`{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'file', expected: BlockdevRef"}}`)
}

// TestUnsimulatedArgumentsRefused10: 10.0's new arguments that would change
// what a command does are refused unless they have QEMU's default
// (deviation D26); their defaults run the command as usual. On 7.2 the
// schema does not know them.
func TestUnsimulatedArgumentsRefused10(t *testing.T) {
	x := newV10(t, fsm.QEMU10_0)
	x.expect(`{"execute":"blockdev-backup","arguments":{"job-id":"b0","device":"s0","target":"t0","sync":"full","speed":1,"discard-source":true}}`,
		`{"error": {"class": "GenericError", "desc": "jobsim does not implement blockdev-backup with 'discard-source': true (deviation D26)"}}`)
	x.expect(`{"execute":"transaction","arguments":{"actions":[{"type":"blockdev-backup","data":{"job-id":"b0","device":"s0","target":"t0","sync":"full","discard-source":true}}]}}`,
		`{"error": {"class": "GenericError", "desc": "jobsim does not implement blockdev-backup with 'discard-source': true (deviation D26)"}}`)
	x.expect(`{"execute":"blockdev-add","arguments":{"driver":"raw","node-name":"r","file":{"driver":"null-co","active":false}}}`,
		`{"error": {"class": "GenericError", "desc": "jobsim does not implement blockdev-add with 'active': false (deviation D26)"}}`)
	x.expect(`{"execute":"block-stream","arguments":{"job-id":"st","device":"s0","backing-mask-protocol":true}}`,
		`{"error": {"class": "GenericError", "desc": "jobsim does not implement block-stream with 'backing-mask-protocol': true (deviation D26)"}}`)
	x.expect(`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"a","active":true}}`, okLine)
	x.expect(`{"execute":"blockdev-backup","arguments":{"job-id":"b0","device":"s0","target":"t0","sync":"full","speed":1,"discard-source":false}}`, okLine)

	y := newV10(t, fsm.QEMU7_2)
	y.expect(`{"execute":"blockdev-backup","arguments":{"job-id":"b0","device":"s0","target":"t0","sync":"full","discard-source":true}}`,
		`{"error": {"class": "GenericError", "desc": "Parameter 'discard-source' is unexpected"}}`)
}

// The job-control commands a version's dispatcher registers (from fsm's
// verb table, sim.VerbCommandsAt) are exactly the job-* and block-job-*
// commands its recorded schema has: the table and QEMU's schema agree.
func TestVerbCommandsMatchTheSchema(t *testing.T) {
	for _, v := range fsm.Versions() {
		schema, err := loadSchema(v)
		if err != nil {
			t.Fatal(err)
		}
		var fromSchema, fromTable []string
		for _, name := range schema.commands {
			if strings.HasPrefix(name, "job-") || strings.HasPrefix(name, "block-job-") {
				fromSchema = append(fromSchema, name)
			}
		}
		for _, c := range sim.VerbCommandsAt(v) {
			fromTable = append(fromTable, c.Name())
		}
		slices.Sort(fromSchema)
		slices.Sort(fromTable)
		if diff := cmp.Diff(fromSchema, fromTable); diff != "" {
			t.Errorf("QEMU %s: job commands, schema (-) against the verb table (+):\n%s", v, diff)
		}
	}
}
