package qmp

import (
	"strings"
	"testing"
)

// The expected events and replies below were recorded from
// qemu-storage-daemon 7.2 for the same commands (issue 16).

// TestTransactionRollsBackInReverse: a transaction whose last action fails
// undoes the others last first (tran_abort): the second backup's rollback
// events precede the first's, the bitmap it added is gone and the bitmap it
// enabled is disabled again.
func TestTransactionRollsBackInReverse(t *testing.T) {
	d, s := session(t, Options{})
	s.Take()
	msgs := runAll(t, d, s,
		`{"execute":"qmp_capabilities"}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"s1","size":1048576}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"t1","size":1048576}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"s2","size":1048576}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"t2","size":1048576}}`,
		`{"execute":"block-dirty-bitmap-add","arguments":{"node":"s1","name":"d","disabled":true}}`,
		`{"execute":"transaction","arguments":{"actions":[`+
			`{"type":"block-dirty-bitmap-add","data":{"node":"s2","name":"new"}},`+
			`{"type":"blockdev-backup","data":{"job-id":"j1","device":"s1","target":"t1","sync":"full"}},`+
			`{"type":"block-dirty-bitmap-enable","data":{"node":"s1","name":"d"}},`+
			`{"type":"blockdev-backup","data":{"job-id":"j2","device":"s2","target":"t2","sync":"full"}},`+
			`{"type":"abort","data":{}}]}}`,
		`{"execute":"x-debug-block-dirty-bitmap-sha256","arguments":{"node":"s2","name":"new"}}`)
	want := []string{"j1 created", "j2 created", "j2 aborting", "j2 concluded", "j2 null", "j1 aborting", "j1 concluded", "j1 null"}
	if got := eventsOf(t, msgs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v", got, want)
	}
	r := responsesOf(msgs)
	if got := r[len(r)-2]; got != `{"error":{"class":"GenericError","desc":"Transaction aborted using Abort action"}}` {
		t.Fatalf("transaction reply %s", got)
	}
	if got := r[len(r)-1]; got != `{"error":{"class":"GenericError","desc":"Dirty bitmap 'new' not found"}}` {
		t.Fatalf("the added bitmap survived the rollback: %s", got)
	}
	msgs = runAll(t, d, s, `{"execute":"query-named-block-nodes"}`)
	out := strings.Join(responsesOf(msgs), "")
	if !strings.Contains(out, `"dirty-bitmaps":[{"busy":false,"count":0,"granularity":65536,"name":"d","persistent":false,"recording":false}]`) {
		t.Fatalf("bitmap d is not back to disabled and idle: %s", out)
	}
}

// TestReadOnlyTargetsOverQMP: read-only nodes are refused as backup and
// mirror targets with 7.2's texts; the mirror's job exists for a moment
// (created, null), the backup's never does.
func TestReadOnlyTargetsOverQMP(t *testing.T) {
	d, s := session(t, Options{})
	s.Take()
	msgs := runAll(t, d, s,
		`{"execute":"qmp_capabilities"}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"src","size":1048576}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"ro","size":1048576,"read-only":true}}`,
		`{"execute":"blockdev-backup","arguments":{"job-id":"j1","device":"src","target":"ro","sync":"full"}}`,
		`{"execute":"blockdev-mirror","arguments":{"job-id":"j2","device":"src","target":"ro","sync":"full"}}`)
	if got, want := eventsOf(t, msgs), "j2 created,j2 null"; strings.Join(got, ",") != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	r := responsesOf(msgs)
	want := []string{
		`{"error":{"class":"GenericError","desc":"Could not create node: Block node is read-only"}}`,
		`{"error":{"class":"GenericError","desc":"Block node is read-only"}}`,
	}
	if got := r[len(r)-2:]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("replies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestGroupedTransactionKinds: a grouped transaction refuses bitmap
// actions up front (nothing created), and when one of its backups fails
// the other is cancelled and its disabled bitmap is handed back disabled
// and idle (backup_abort reclaims the successor). Events are compared per
// job, as record.py does (D4).
func TestGroupedTransactionKinds(t *testing.T) {
	d, s := session(t, Options{})
	s.Take()
	msgs := runAll(t, d, s,
		`{"execute":"qmp_capabilities"}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"s1","size":1048576}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"t1","size":1048576}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"s2","size":1048576}}`,
		`{"execute":"blockdev-add","arguments":{"driver":"blkdebug","node-name":"t2","image":{"driver":"null-co","size":1048576},"inject-error":[{"event":"pwritev","errno":5}]}}`,
		`{"execute":"block-dirty-bitmap-add","arguments":{"node":"s1","name":"d","disabled":true}}`,
		`{"execute":"transaction","arguments":{"actions":[`+
			`{"type":"block-dirty-bitmap-add","data":{"node":"s2","name":"new"}},`+
			`{"type":"blockdev-backup","data":{"job-id":"j0","device":"s1","target":"t1","sync":"full"}}],`+
			`"properties":{"completion-mode":"grouped"}}}`,
		`{"execute":"transaction","arguments":{"actions":[`+
			`{"type":"blockdev-backup","data":{"job-id":"j1","device":"s1","target":"t1","sync":"incremental","bitmap":"d"}},`+
			`{"type":"blockdev-backup","data":{"job-id":"j2","device":"s2","target":"t2","sync":"full"}}],`+
			`"properties":{"completion-mode":"grouped"}}}`,
		`{"execute":"query-jobs"}`,
		`{"execute":"query-named-block-nodes"}`)
	r := responsesOf(msgs)
	want := []string{
		`{"error":{"class":"GenericError","desc":"Action 'block-dirty-bitmap-add' does not support Transaction property completion-mode = grouped"}}`,
		`{"return":{}}`,
		`{"return":[]}`,
	}
	if got := r[6:9]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("replies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	perJob := map[string][]string{}
	for _, ev := range eventsOf(t, msgs) {
		f := strings.Fields(ev)
		if strings.HasPrefix(f[0], "j") {
			perJob[f[0]] = append(perJob[f[0]], f[1])
		} else {
			perJob[f[1]] = append(perJob[f[1]], f[0])
		}
	}
	wantJobs := map[string]string{
		"j1": "created running paused running waiting aborting BLOCK_JOB_CANCELLED concluded null",
		"j2": "created running paused running BLOCK_JOB_ERROR aborting BLOCK_JOB_COMPLETED concluded null",
	}
	if len(perJob) != len(wantJobs) {
		t.Fatalf("events of jobs %v, want j1 and j2 only", perJob)
	}
	for id, w := range wantJobs {
		if got := strings.Join(perJob[id], " "); got != w {
			t.Errorf("%s: %s\nwant %s", id, got, w)
		}
	}
	if out := r[len(r)-1]; !strings.Contains(out, `"dirty-bitmaps":[{"busy":false,"count":0,"granularity":65536,"name":"d","persistent":false,"recording":false}]`) {
		t.Fatalf("bitmap d is not back to disabled and idle: %s", out)
	}
}
