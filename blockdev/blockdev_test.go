package blockdev

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/internal/testseed"
)

// seed is the property tests' seed: fixed under CI, JOBFSM_SEED=<n> to
// replay one, JOBFSM_SEED=random for a new one. It is always printed.
func seed(t testing.TB) uint64 { return testseed.Get(t, "JOBFSM_SEED", 1) }

// TestHBitmapModel checks the sparse bitmap against a plain []bool under
// random set/reset ranges, at lengths that need one, two and three tree
// levels: Count, Get, Next, NextZero, Copy, Equal, Merge and the words
// WriteWords hashes.
func TestHBitmapModel(t *testing.T) {
	s := seed(t)
	r := rand.New(rand.NewPCG(s, 1))
	for _, maxN := range []int{leafBits / 2, 3*leafBits + 100, 64*leafBits + 77, 70 * 64 * leafBits} {
		iters, ops := 4, 60
		if maxN > 1<<20 { // the []bool model is slow at three levels
			iters, ops = 1, 12
		}
		for iter := 0; iter < iters; iter++ {
			n := int64(maxN/2 + r.IntN(maxN/2))
			h, other := NewHBitmap(n), NewHBitmap(n)
			model, otherModel := make([]bool, n), make([]bool, n)
			for op := 0; op < ops; op++ {
				a := r.Int64N(n)
				b := a + r.Int64N(n-a+1)
				if r.IntN(4) == 0 { // short runs make leaves, long ones markers
					b = min(n, a+r.Int64N(200))
				}
				set := r.IntN(3) != 0
				tgt, m := h, model
				if r.IntN(4) == 0 {
					tgt, m = other, otherModel
				}
				if set {
					tgt.Set(a, b)
				} else {
					tgt.Reset(a, b)
				}
				for i := a; i < b; i++ {
					m[i] = set
				}
				checkHBitmap(t, s, h, model, r.Int64N(n))
			}
			c := h.Copy()
			if !c.Equal(h) || !h.Equal(c) {
				t.Fatalf("seed %d: a copy is not equal", s)
			}
			var want bytes.Buffer
			words := make([]uint64, max((n+63)/64, 1))
			for i, v := range model {
				if v {
					words[i/64] |= 1 << (i % 64)
				}
			}
			for _, w := range words {
				binary.Write(&want, binary.LittleEndian, w)
			}
			var got bytesHash
			h.WriteWords(&got)
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("seed %d: WriteWords differs from the model's words (n=%d)", s, n)
			}
			c.Merge(other)
			for i := range model {
				model[i] = model[i] || otherModel[i]
			}
			checkHBitmap(t, s, c, model, r.Int64N(n))
			if other.Count() > 0 && h.Count() < c.Count() && c.Equal(h) {
				t.Fatalf("seed %d: Equal after a merge that added bits", s)
			}
		}
	}
}

// bytesHash is a hash.Hash that keeps what is written, for WriteWords.
type bytesHash struct{ bytes.Buffer }

func (*bytesHash) Sum(b []byte) []byte { return b }
func (*bytesHash) Size() int           { return 0 }
func (*bytesHash) BlockSize() int      { return 1 }

func checkHBitmap(t *testing.T, s uint64, h *HBitmap, model []bool, q int64) {
	t.Helper()
	n := int64(len(model))
	var cnt int64
	for _, v := range model {
		if v {
			cnt++
		}
	}
	if h.Count() != cnt {
		t.Fatalf("seed %d: count %d, model %d", s, h.Count(), cnt)
	}
	wantNext, wantZero := int64(-1), n
	for i := q; i < n; i++ {
		if model[i] && wantNext < 0 {
			wantNext = i
		}
		if !model[i] && wantZero == n {
			wantZero = i
		}
	}
	if got := h.Next(q); got != wantNext {
		t.Fatalf("seed %d: Next(%d)=%d want %d", s, q, got, wantNext)
	}
	if got := h.NextZero(q); got != wantZero {
		t.Fatalf("seed %d: NextZero(%d)=%d want %d", s, q, got, wantZero)
	}
	if h.Get(q) != model[q] {
		t.Fatalf("seed %d: Get(%d)", s, q)
	}
}

func u64(v int64) *int64 { return &v }
func yes() *bool         { b := true; return &b }

func mustErr(t *testing.T, err error, class, text string) {
	t.Helper()
	var qe *qerr.Error
	if !errors.As(err, &qe) {
		t.Fatalf("want %s %q, got %v", class, text, err)
	}
	if qe.Class != class || qe.Desc != text {
		t.Fatalf("want %s %q, got %s %q", class, text, qe.Class, qe.Desc)
	}
}

func memNode(t *testing.T, g *Graph, name string, size int64) *Node {
	t.Helper()
	n, err := g.AddNode(NodeOptions{Driver: DriverRaw, NodeName: name,
		File: &NodeRef{Options: &NodeOptions{Driver: DriverMemory, Size: u64(size)}}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBitmapCommandsTranscript replays the bitmap part of the QEMU transcript
// bitmap_commands (reference qemu-transcripts/scenarios): expected counts,
// flags, order, texts and the digest are the recorded ones.
func TestBitmapCommandsTranscript(t *testing.T) {
	g := NewGraph()
	memNode(t, g, "mid", 4<<20)
	if err := g.BitmapAdd(BitmapAddArgs{Node: "mid", Name: "a", Granularity: u64(65536)}); err != nil {
		t.Fatal(err)
	}
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "mid", Name: "a"}), qerr.GenericError, "Bitmap already exists: a")
	if err := g.BitmapAdd(BitmapAddArgs{Node: "mid", Name: "b", Disabled: yes()}); err != nil {
		t.Fatal(err)
	}
	// The recorded full backup wrote every byte of mid.
	if _, err := g.Write("mid", 0, make([]byte, 4<<20)); err != nil {
		t.Fatal(err)
	}
	want := []BitmapInfo{
		{Name: "b", Count: 0, Granularity: 65536},
		{Name: "a", Count: 4194304, Granularity: 65536, Recording: true},
	}
	checkInfos(t, g.Node("mid"), want)
	sum, err := g.BitmapSHA256("mid", "a")
	if err != nil || sum != "12a3ae445661ce5dee78d0650d33362dec29c4f82af05e7e57fb595bbbacf0ca" {
		t.Fatalf("sha256 %s %v", sum, err)
	}
	if err := g.BitmapDisable("mid", "a"); err != nil {
		t.Fatal(err)
	}
	if err := g.BitmapEnable("mid", "b"); err != nil {
		t.Fatal(err)
	}
	if err := g.BitmapMerge("mid", "b", []BitmapRef{{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	want = []BitmapInfo{
		{Name: "b", Count: 4194304, Granularity: 65536, Recording: true},
		{Name: "a", Count: 4194304, Granularity: 65536},
	}
	checkInfos(t, g.Node("mid"), want)
	if err := g.BitmapClear("mid", "a"); err != nil {
		t.Fatal(err)
	}
	if err := g.BitmapRemove("mid", "b"); err != nil {
		t.Fatal(err)
	}
	mustErr(t, g.BitmapRemove("mid", "b"), qerr.GenericError, "Dirty bitmap 'b' not found")
	checkInfos(t, g.Node("mid"), []BitmapInfo{{Name: "a", Count: 0, Granularity: 65536}})
	sum, _ = g.BitmapSHA256("mid", "a")
	if sum != "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc" { // sha256 of 8 zero bytes
		t.Fatalf("empty sha256 %s", sum)
	}
}

func checkInfos(t *testing.T, n *Node, want []BitmapInfo) {
	t.Helper()
	got := n.BitmapInfos()
	if len(got) != len(want) {
		t.Fatalf("bitmaps %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("bitmap %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestBitmapErrors: QEMU's texts for bad input and busy bitmaps; a refused
// command changes nothing.
func TestBitmapErrors(t *testing.T) {
	g := NewGraph()
	memNode(t, g, "n", 1<<20)
	memNode(t, g, "big", 2<<20)
	G := qerr.GenericError
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "n", Name: ""}), G, "Bitmap name cannot be empty")
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "x", Name: "a"}), G, "Cannot find device='x' nor node-name='x'")
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "a", Granularity: u64(256)}), G, "Granularity must be power of 2 and at least 512")
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "a", Granularity: u64(3000)}), G, "Granularity must be power of 2 and at least 512")
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "a", Granularity: u64(0)}), G, "Granularity must be power of 2 and at least 512")
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "a", Granularity: u64(1 << 32)}), G, "Parameter 'granularity' expects uint32_t")
	// Recorded on QEMU 7.2: an empty 2 MiB bitmap at 512 bytes is 64 zero words.
	memNode(t, g, "two", 2<<20)
	if err := g.BitmapAdd(BitmapAddArgs{Node: "two", Name: "y", Granularity: u64(512)}); err != nil {
		t.Fatal(err)
	}
	if sum, _ := g.BitmapSHA256("two", "y"); sum != "076a27c79e5ace2a3d47f9dd2e83e4ff6ea8872b3c2218f66c92b89b55f36560" {
		t.Fatalf("sha256 %s", sum)
	}
	if err := g.BitmapAdd(BitmapAddArgs{Node: "two", Name: "big", Granularity: u64(1 << 31)}); err != nil {
		t.Fatal(err)
	}
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "n", Name: string(bytes.Repeat([]byte("x"), 1024))}), G, "Bitmap name too long: "+string(bytes.Repeat([]byte("x"), 1024)))
	mustErr(t, g.BitmapRemove("x", "a"), G, "Node 'x' not found")
	mustErr(t, g.BitmapClear("n", "a"), G, "Dirty bitmap 'a' not found")
	for _, a := range []BitmapAddArgs{{Node: "n", Name: "a"}, {Node: "n", Name: "c"}, {Node: "big", Name: "d"}} {
		if err := g.BitmapAdd(a); err != nil {
			t.Fatal(err)
		}
	}
	mustErr(t, g.BitmapMerge("n", "a", []BitmapRef{{Name: "zz"}}), G, "Dirty bitmap 'zz' not found")
	mustErr(t, g.BitmapMerge("n", "a", []BitmapRef{{Node: "big", Name: "d", External: true}}), G,
		"Bitmaps are of different sizes (destination size is 1048576, source size is 2097152) and can't be merged")
	a, _ := g.LookupBitmap("n", "a")
	a.SetRange(0, 4096)
	if _, err := a.CreateSuccessor(); err != nil {
		t.Fatal(err)
	}
	busy := "Bitmap 'a' is currently in use by another operation and cannot be used"
	mustErr(t, g.BitmapRemove("n", "a"), G, busy)
	mustErr(t, g.BitmapClear("n", "a"), G, busy)
	mustErr(t, g.BitmapEnable("n", "a"), G, busy)
	mustErr(t, g.BitmapDisable("n", "a"), G, busy)
	mustErr(t, g.BitmapMerge("n", "a", []BitmapRef{{Name: "c"}}), G, busy)
	mustErr(t, g.BitmapMerge("n", "c", []BitmapRef{{Name: "a"}}), G, busy)
	mustErr(t, g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "a"}), G, "Bitmap already exists: a")
	if _, err := a.CreateSuccessor(); err == nil {
		t.Fatal("second successor accepted")
	}
	if a.Count() != 65536 || !a.Busy() || a.Disabled() != true {
		t.Fatalf("busy bitmap changed: count %d busy %v", a.Count(), a.Busy())
	}
	c, _ := g.LookupBitmap("n", "c")
	c.SetReadonly(true)
	mustErr(t, g.BitmapClear("n", "c"), G, "Bitmap 'c' is readonly and cannot be modified")
	c.SetReadonly(false)
	c.SetInconsistent(true)
	mustErr(t, g.BitmapEnable("n", "c"), G, "Bitmap 'c' is inconsistent and cannot be used")
}

// TestSuccessor: abdicate keeps the writes made during the job and moves
// the name to the successor's list position; reclaim merges them back.
func TestSuccessor(t *testing.T) {
	g := NewGraph()
	memNode(t, g, "n", 1<<20)
	g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "a"})
	g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "b"})
	a, _ := g.LookupBitmap("n", "a")
	g.Write("n", 0, make([]byte, 100))
	if _, err := a.CreateSuccessor(); err != nil {
		t.Fatal(err)
	}
	g.Write("n", 3<<16, make([]byte, 100))
	checkInfos(t, g.Node("n"), []BitmapInfo{
		{Count: 65536, Granularity: 65536, Recording: true},
		{Name: "b", Count: 131072, Granularity: 65536, Recording: true},
		{Name: "a", Count: 65536, Granularity: 65536, Recording: true, Busy: true},
	})
	r, _ := a.Reclaim()
	if r.Count() != 131072 || r.Busy() || r.Disabled() {
		t.Fatal("reclaim")
	}
	a.CreateSuccessor()
	g.Write("n", 5<<16, make([]byte, 100))
	r, _ = a.Abdicate()
	if r.Name() != "a" || r.Count() != 65536 || !r.Get(5<<16) {
		t.Fatal("abdicate")
	}
	if got := g.Node("n").BitmapInfos(); got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("order after abdicate: %+v", got)
	}
}

// TestNodeErrors: blockdev-add and blockdev-del texts and orders.
func TestNodeErrors(t *testing.T) {
	g := NewGraph()
	G := qerr.GenericError
	for _, c := range []struct {
		opts NodeOptions
		want string
	}{
		{NodeOptions{Driver: DriverNullCo}, "'node-name' must be specified for the root node"},
		{NodeOptions{Driver: "vmdkx", NodeName: "a"}, "Parameter 'driver' does not accept value 'vmdkx'"},
		{NodeOptions{Driver: DriverNullCo, NodeName: "1a"}, "Invalid node-name: '1a'"},
		{NodeOptions{Driver: DriverRaw, NodeName: "r", File: &NodeRef{Ref: "nope"}}, "Cannot find device='nope' nor node-name='nope'"},
		{NodeOptions{Driver: DriverRaw, NodeName: "r", File: &NodeRef{Options: &NodeOptions{Driver: DriverFile}}}, "Parameter 'file.filename' is missing"},
		{NodeOptions{Driver: DriverRaw, NodeName: "r"}, "Parameter 'file' is missing"},
		{NodeOptions{Driver: DriverNullCo, NodeName: "q", Backing: &NodeRef{Ref: "x"}}, "Parameter 'backing' is unexpected"},
		{NodeOptions{Driver: DriverQcow2, NodeName: "q", File: &NodeRef{Options: &NodeOptions{Driver: DriverNullCo}}}, "Image is not in qcow2 format"},
		{NodeOptions{Driver: DriverNullCo, NodeName: "n2", LatencyNs: u64(-5)}, "latency-ns is invalid"},
		{NodeOptions{Driver: DriverBlkdebug, NodeName: "b", Image: &NodeRef{Options: &NodeOptions{Driver: DriverNullCo}},
			InjectError: []InjectErrorOptions{{Event: "pwritev", Iotype: "bogus"}}}, "Parameter 'iotype' does not accept value 'bogus'"},
		{NodeOptions{Driver: DriverFile, NodeName: "f", Filename: "/nonexistent/x.img"}, "Could not open '/nonexistent/x.img': No such file or directory"},
	} {
		_, err := g.AddNode(c.opts)
		mustErr(t, err, G, c.want)
	}
	if len(g.NamedNodes()) != 0 {
		t.Fatalf("failed adds left nodes: %+v", g.NamedNodes())
	}
	memNode(t, g, "base", 1<<20)
	_, err := g.AddNode(NodeOptions{Driver: DriverNullCo, NodeName: "base"})
	mustErr(t, err, G, "Duplicate nodes with node-name='base'")
	top, err := g.AddNode(NodeOptions{Driver: DriverQcow2, NodeName: "top", Backing: &NodeRef{Ref: "base"},
		File: &NodeRef{Options: &NodeOptions{Driver: DriverMemory, Size: u64(1 << 20)}}})
	if err != nil {
		t.Fatal(err)
	}
	mustErr(t, g.DelNode("zz"), G, "Failed to find node with node-name='zz'")
	mustErr(t, g.DelNode("base"), G, "Node 'base' is busy: node is used as backing hd of 'top'")
	implicit := top.file.Child.Name()
	mustErr(t, g.DelNode(implicit), G, "Node "+implicit+" is not owned by the monitor")
	e := g.AttachBackend("an unnamed block device", top)
	mustErr(t, g.DelNode("top"), G, "Node top is in use")
	g.DetachBackend(e)
	if err := g.DelNode("top"); err != nil {
		t.Fatal(err)
	}
	if g.Node(implicit) != nil {
		t.Fatal("implicit file node survived its parent")
	}
	if err := g.DelNode("base"); err != nil {
		t.Fatal(err)
	}
}

// TestOverlayReads: an overlay reads its own clusters, the backing's
// elsewhere, and a partial write copies the rest of the cluster up.
func TestOverlayReads(t *testing.T) {
	g := NewGraph()
	memNode(t, g, "base", 1<<20)
	g.Write("base", 0, bytes.Repeat([]byte{1}, 1<<20))
	_, err := g.AddNode(NodeOptions{Driver: DriverQcow2, NodeName: "top", Backing: &NodeRef{Ref: "base"},
		File: &NodeRef{Options: &NodeOptions{Driver: DriverMemory, Size: u64(1 << 20)}}})
	if err != nil {
		t.Fatal(err)
	}
	g.Write("top", 100, []byte{9, 9})
	p := make([]byte, 1<<20)
	g.Read("top", 0, p)
	for i, v := range p {
		want := byte(1)
		if i == 100 || i == 101 {
			want = 9
		}
		if v != want {
			t.Fatalf("byte %d = %d want %d", i, v, want)
		}
	}
	top := g.Node("top")
	if !top.IsAllocated(0) || top.IsAllocated(65536) {
		t.Fatal("allocation")
	}
	if a, n := AllocatedAbove(top, g.Node("base"), false, 0, 1<<20, 65536); !a || n != 65536 {
		t.Fatalf("allocated above: %v %d", a, n)
	}
}

// TestInjectErrors: blkdebug once-rules fire once; run-time rules by range.
func TestInjectErrors(t *testing.T) {
	g := NewGraph()
	memNode(t, g, "t", 1<<20)
	_, err := g.AddNode(NodeOptions{Driver: DriverBlkdebug, NodeName: "bad", Image: &NodeRef{Ref: "t"},
		InjectError: []InjectErrorOptions{{Event: "pwritev", Errno: u64(28), Once: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Read("bad", 0, make([]byte, 10)); err != nil {
		t.Fatal("read hit a write rule")
	}
	_, err = g.Write("bad", 0, make([]byte, 10))
	var ioe *IOError
	if !errors.As(err, &ioe) || ioe.Errno != errno.ENOSPC || ioe.Read {
		t.Fatalf("want ENOSPC write error, got %v", err)
	}
	if _, err := g.Write("bad", 0, make([]byte, 10)); err != nil {
		t.Fatal("once rule fired twice")
	}
	id, _ := g.InjectError("t", InjectRule{Read: true, Start: 4096, End: 8192, Errno: errno.EIO})
	if _, err := g.Read("t", 0, make([]byte, 4096)); err != nil {
		t.Fatal("rule outside its range fired")
	}
	for i := 0; i < 2; i++ {
		if _, err := g.Read("t", 4000, make([]byte, 200)); err == nil {
			t.Fatal("always-rule did not fire")
		}
	}
	if ok, _ := g.RemoveInjection("t", id); !ok {
		t.Fatal("rule not found")
	}
	if _, err := g.Read("t", 4000, make([]byte, 200)); err != nil {
		t.Fatal("disarmed rule fired")
	}
	if _, err := g.Write("t", 1<<20-4, make([]byte, 8)); err == nil {
		t.Fatal("write past the end accepted")
	}
}

// TestHeap1TiB: a 1 TiB image with 4 MiB written, and a 64 KiB-granularity
// bitmap over it, stay far below 16 MiB of heap.
func TestHeap1TiB(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g := NewGraph()
	memNode(t, g, "n", 1<<40)
	if err := g.BitmapAdd(BitmapAddArgs{Node: "n", Name: "b"}); err != nil {
		t.Fatal(err)
	}
	buf := bytes.Repeat([]byte{7}, 64<<10)
	for i := int64(0); i < 64; i++ {
		if _, err := g.Write("n", i*(16<<30), buf); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap for 1 TiB image + bitmap with 4 MiB written: %d bytes", heap)
	if heap > 16<<20 {
		t.Fatalf("heap %d bytes, want < 16 MiB", heap)
	}
	bm, _ := g.LookupBitmap("n", "b")
	if bm.Count() != 4<<20 {
		t.Fatalf("bitmap count %d", bm.Count())
	}
	runtime.KeepAlive(g)
}

// BenchmarkBitmap1TiB: set, count and next-dirty over a 1 TiB bitmap at
// 64 KiB granularity (16 Mi bits).
func BenchmarkBitmap1TiB(b *testing.B) {
	const size = 1 << 40
	r := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		bm := NewHBitmap(size / (64 << 10))
		for k := 0; k < 1000; k++ {
			s := r.Int64N(bm.Len())
			bm.Set(s, min(bm.Len(), s+r.Int64N(64)))
		}
		bm.Set(1<<20, 1<<21) // one 64 GiB dirty run
		n := 0
		for i := bm.Next(0); i >= 0; i = bm.Next(bm.NextZero(i)) {
			n++
		}
		if bm.Count() == 0 || n == 0 {
			b.Fatal("empty")
		}
	}
}

// FuzzAddNode: blockdev-add of arbitrary JSON never panics, and a failed
// add leaves the graph as it was.
func FuzzAddNode(f *testing.F) {
	for _, s := range []string{
		`{"driver":"qcow2","node-name":"a","file":{"driver":"null-co"}}`,
		`{"driver":"raw","node-name":"a","file":{"driver":"memory","size":-1}}`,
		`{"driver":"blkdebug","node-name":"a","image":{"driver":"memory","size":4096},"inject-error":[{"event":"nope"}]}`,
		`{"driver":"qcow2","node-name":"a","backing":null,"file":{"driver":"memory","size":65536,"cluster-size":3}}`,
		`{"driver":"null-co","node-name":"a","size":0}`,
		`{"driver":"null-co","node-name":"a","size":9223372036854775807}`,
		`{"driver":"raw","node-name":"a","read-only":true,"file":{"driver":"memory","size":9223372035781033985}}`,
		`{"driver":"file","node-name":"a","filename":"/dev/null","read-only":true}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g := NewGraph()
		memNode(t, g, "base", 1<<20)
		var o NodeOptions
		if json.Unmarshal([]byte(s), &o) != nil || usesFile(&o) {
			return // never let the fuzzer open (and write) real files
		}
		n, err := g.AddNode(o)
		if err != nil {
			if len(g.NamedNodes()) != 2 {
				t.Fatalf("failed add left nodes: %+v", g.NamedNodes())
			}
			return
		}
		p := make([]byte, 4096)
		n.Read(0, p)
		n.Write(0, p)
		g.DelNode(n.Name())
	})
}

func usesFile(o *NodeOptions) bool {
	if o == nil {
		return false
	}
	if o.Driver == DriverFile {
		return true
	}
	for _, r := range []*NodeRef{o.File, o.Backing, o.Image} {
		if r != nil && usesFile(r.Options) {
			return true
		}
	}
	return false
}
