package blockjob

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

type env struct {
	t   testing.TB
	m   *sim.Manager
	g   *blockdev.Graph
	log []string
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, m: sim.New(sim.Options{}), g: blockdev.NewGraph()}
	e.m.Subscribe(func(ev sim.Event) { e.log = append(e.log, evString(ev)) })
	return e
}

// evString renders an event the way the tests below spell QEMU's
// transcripts: "status j0 created", "COMPLETED j0 len=.. off=.. err=..".
func evString(ev sim.Event) string {
	switch ev.Name {
	case sim.EventJobStatusChange:
		return fmt.Sprintf("%s %s", ev.Job, ev.Status)
	case sim.EventBlockJobError:
		return fmt.Sprintf("ERROR %s %s %s", ev.Job, ev.Operation, ev.Action)
	case sim.EventBlockJobPending:
		return "PENDING " + ev.Job
	case sim.EventBlockJobReady:
		return fmt.Sprintf("READY %s %d/%d", ev.Job, ev.Offset, ev.Len)
	case sim.EventBlockJobCompleted:
		s := fmt.Sprintf("COMPLETED %s %d/%d", ev.Job, ev.Offset, ev.Len)
		if ev.HasError {
			s += " " + ev.Error
		}
		return s
	case sim.EventBlockJobCancelled:
		return fmt.Sprintf("CANCELLED %s", ev.Job)
	}
	return string(ev.Name)
}

func i64(v int64) *int64   { return &v }
func str(s string) *string { return &s }
func no() *bool            { b := false; return &b }

func (e *env) mem(name string, size int64) *blockdev.Node {
	n, err := e.g.AddNode(blockdev.NodeOptions{Driver: blockdev.DriverRaw, NodeName: name,
		File: &blockdev.NodeRef{Options: &blockdev.NodeOptions{Driver: blockdev.DriverMemory, Size: i64(size)}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) overlay(name string, size int64, backing string) *blockdev.Node {
	o := blockdev.NodeOptions{Driver: blockdev.DriverQcow2, NodeName: name,
		File: &blockdev.NodeRef{Options: &blockdev.NodeOptions{Driver: blockdev.DriverMemory, Size: i64(size)}}}
	if backing != "" {
		o.Backing = &blockdev.NodeRef{Ref: backing}
	}
	n, err := e.g.AddNode(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) null(name string, size int64) {
	if _, err := e.g.AddNode(blockdev.NodeOptions{Driver: blockdev.DriverNullCo, NodeName: name, Size: i64(size)}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) fill(node string, off, n int64, v byte) {
	if _, err := e.g.Write(node, off, bytes.Repeat([]byte{v}, int(n))); err != nil {
		e.t.Fatal(err)
	}
}

// transcriptImage writes the "src" fill of the QEMU transcripts.
func (e *env) transcriptImage(node string) {
	e.fill(node, 0, 131072, 90)
	e.fill(node, 2097152, 196608, 195)
}

// digest is the sha256 of a node's whole content, read directly.
func (e *env) digest(name string) string {
	n := e.g.Node(name)
	return digestNode(e.t, n)
}

func digestNode(t testing.TB, n *blockdev.Node) string {
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for off := int64(0); off < n.Size(); off += int64(len(buf)) {
		k := min(int64(len(buf)), n.Size()-off)
		if _, err := n.Read(off, buf[:k]); err != nil {
			t.Fatal(err)
		}
		h.Write(buf[:k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (e *env) settle() { e.m.RunUntil(func() bool { return false }, e.m.Now()+int64(time.Hour)) }

func (e *env) expectLog(want ...string) {
	e.t.Helper()
	got := e.log
	e.log = nil
	if len(got) != len(want) {
		e.t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			e.t.Fatalf("event %d: got %q want %q\n all: %q", i, got[i], want[i], got)
		}
	}
}

func wantErr(t testing.TB, err error, class, text string) {
	t.Helper()
	var qe *qerr.Error
	if !errors.As(err, &qe) || qe.Class != class || qe.Desc != text {
		t.Fatalf("want %s %q, got %#v", class, text, err)
	}
}

// transcriptDigest is the recorded sha256 of the 4 MiB "src" image.
const transcriptDigest = "6efd91dd540da36f979988368ed1efbf805b298503238ebe5df41e1d22f26d93"

func blockdevBitmap(node, name string) blockdev.BitmapAddArgs {
	return blockdev.BitmapAddArgs{Node: node, Name: name}
}
