package blockdev

import (
	"bytes"
	"errors"
	"testing"

	"github.com/jobfsm/jobfsm/internal/errno"
)

func holdNode(t *testing.T, g *Graph, name string) *Node {
	t.Helper()
	size := int64(64 << 10)
	n, err := g.AddNode(NodeOptions{Driver: DriverRaw, NodeName: name,
		File: &NodeRef{Options: &NodeOptions{Driver: DriverMemory, Size: &size}}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func read(t *testing.T, n *Node, off int64, k int) []byte {
	t.Helper()
	p := make([]byte, k)
	if _, err := n.Read(off, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGuestHold: writes that reach a held node (named directly or through
// the filter above it) wait, in order, until the last hold ends, and are
// then issued through the named node's front as the graph is by then: after
// a pivot and the filter's removal, both lead to the target. Other nodes
// and the jobs' own I/O are not held.
func TestGuestHold(t *testing.T) {
	g := NewGraph()
	src := holdNode(t, g, "src")
	tgt := holdNode(t, g, "tgt")
	other := holdNode(t, g, "other")
	f, err := g.InsertFilter(DriverMirrorTop, "top", src)
	if err != nil {
		t.Fatal(err)
	}
	g.ReleaseGuestWrites(src) // no hold: nothing happens
	g.HoldGuestWrites(src)
	g.HoldGuestWrites(src)
	var order []string
	for i, name := range []string{"src", "top", "src"} {
		if g.SubmitWrite(name, int64(i), []byte{byte(10 + i)}, func(_ int64, err error) {
			if err != nil {
				t.Errorf("held write %d: %v", i, err)
			}
			order = append(order, name)
		}) {
			t.Fatalf("write %d to %s completed at once under a hold", i, name)
		}
	}
	if _, err := g.Write("other", 0, []byte{1}); err != nil || read(t, other, 0, 1)[0] != 1 {
		t.Fatalf("a write to an unrelated node was held (%v)", err)
	}
	if _, err := src.Write(5, []byte{9}); err != nil || read(t, src, 5, 1)[0] != 9 {
		t.Fatalf("a direct (job) write was held (%v)", err)
	}
	if got := g.HeldWrites(src); got != 3 {
		t.Fatalf("held %d, want 3", got)
	}
	// The pivot: the source's name now leads to the target.
	g.ReplaceNode(src, tgt)
	g.RemoveFilter(f)
	g.ReleaseGuestWrites(src)
	if len(order) != 0 || !bytes.Equal(read(t, tgt, 0, 3), []byte{0, 0, 0}) {
		t.Fatal("writes issued while one hold is left")
	}
	g.ReleaseGuestWrites(src)
	if want := []string{"src", "top", "src"}; len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Fatalf("completion order %q, want %q", order, want)
	}
	if got := read(t, tgt, 0, 3); !bytes.Equal(got, []byte{10, 11, 12}) {
		t.Fatalf("target got %v, want the held writes", got)
	}
	if got := read(t, src, 0, 3); !bytes.Equal(got, []byte{0, 0, 0}) {
		t.Fatalf("old source got %v: held writes went to the replaced node", got)
	}
	if g.HeldWrites(src) != 0 {
		t.Fatal("queue not empty after release")
	}
}

// TestGuestHoldError: a held write that fails when issued reports its
// error to its done callback; Graph.Write, which cannot wait, reports the
// queued write as accepted.
func TestGuestHoldError(t *testing.T) {
	g := NewGraph()
	src := holdNode(t, g, "src")
	if _, err := g.InjectError("src", InjectRule{Write: true, Errno: errno.ENOSPC}); err != nil {
		t.Fatal(err)
	}
	g.HoldGuestWrites(src)
	if lat, err := g.Write("src", 0, []byte{1}); lat != 0 || err != nil {
		t.Fatalf("held Write returned %d, %v; want 0, nil", lat, err)
	}
	var got error
	g.SubmitWrite("src", 0, []byte{2}, func(_ int64, err error) { got = err })
	g.ReleaseGuestWrites(src)
	var ioe *IOError
	if !errors.As(got, &ioe) || ioe.Errno != errno.ENOSPC {
		t.Fatalf("done got %v, want the injected ENOSPC", got)
	}
	if g.SubmitWrite("nosuch", 0, []byte{1}, func(_ int64, err error) { got = err }); got == nil {
		t.Fatal("write to an unknown node succeeded")
	}
}
