package blockdev

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// The texts and limits below were measured on qemu-storage-daemon 7.2
// (issue 16); each case names what it pins.

func TestNullCoSizeLimits(t *testing.T) {
	const tooLarge = "Could not refresh total sector count: File too large"
	for _, c := range []struct {
		size     int64
		wantSize int64 // virtual-size QEMU reports
		err      string
	}{
		{1<<63 - 1, 0, tooLarge},
		{1<<63 - 1<<30 + 1, 0, tooLarge}, // rounds up past BDRV_MAX_LENGTH
		{1<<63 - 1<<30, 1<<63 - 1<<30, ""},
		{1<<63 - 1<<30 - 1, 1<<63 - 1<<30, ""},
		{1000, 1024, ""}, // kept in sectors
		{0, 0, ""},
	} {
		g := NewGraph()
		n, err := g.AddNode(NodeOptions{Driver: DriverNullCo, NodeName: "n", Size: u64(c.size)})
		if c.err != "" {
			mustErr(t, err, "GenericError", c.err)
			if g.Node("n") != nil {
				t.Fatalf("size %d: the failed node stayed", c.size)
			}
			continue
		}
		if err != nil {
			t.Fatalf("size %d: %v", c.size, err)
		}
		if n.Size() != c.wantSize {
			t.Fatalf("size %d: virtual size %d, want %d", c.size, n.Size(), c.wantSize)
		}
	}
}

// TestHugeNodeBitmapsStaySmall: a bitmap over the largest null-co node
// QEMU accepts, made all dirty, merged and partly cleared, costs next to
// nothing (QEMU aborts in hbitmap_alloc, deviation D14; jobfsm panicked in
// makeslice or allocated 128 GiB before the bitmap was sparse).
func TestHugeNodeBitmapsStaySmall(t *testing.T) {
	before := heapInuse()
	g := NewGraph()
	for _, name := range []string{"a", "b"} {
		if _, err := g.AddNode(NodeOptions{Driver: DriverNullCo, NodeName: name, Size: u64(MaxLength)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.BitmapAdd(BitmapAddArgs{Node: "a", Name: "b0", Granularity: u64(512)}); err != nil {
		t.Fatal(err)
	}
	if err := g.BitmapAdd(BitmapAddArgs{Node: "a", Name: "b1"}); err != nil {
		t.Fatal(err)
	}
	bm, _ := g.LookupBitmap("a", "b0")
	bm.SetRange(0, MaxLength)
	bm.ResetRange(1<<40+512, 3*512)
	bm.ResetRange(MaxLength-512, 512)
	if want := int64(MaxLength - 4*512); bm.Count() != want {
		t.Fatalf("count %d, want %d", bm.Count(), want)
	}
	if got := bm.Bits().NextZero(0); got != (1<<40+512)/512 {
		t.Fatalf("first clean granule %d", got)
	}
	// b1's 64 KiB granules each hold a dirty sector of b0: all dirty.
	if err := g.BitmapMerge("a", "b1", []BitmapRef{{Name: "b0"}}); err != nil {
		t.Fatal(err)
	}
	if b1, _ := g.LookupBitmap("a", "b1"); b1.Count() != MaxLength {
		t.Fatalf("merged count %d, want %d", b1.Count(), int64(MaxLength))
	}
	if heap := heapInuse() - before; heap > 8<<20 {
		t.Fatalf("heap grew %d bytes, want < 8 MiB", heap)
	}
	runtime.KeepAlive(g)
}

func heapInuse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// qcow2Header writes a qcow2 v2 image of 64 KiB clusters: header, a
// refcount table and block, and an L1 table of l1Size entries at 192 KiB
// (zeros past the end of the file, as QEMU reads them).
func qcow2Header(t *testing.T, size uint64, l1Size uint32) string {
	t.Helper()
	b := make([]byte, 4<<16)
	be := binary.BigEndian
	be.PutUint32(b[0:], 0x514649fb)
	be.PutUint32(b[4:], 2)
	be.PutUint32(b[20:], 16)
	be.PutUint64(b[24:], size)
	be.PutUint32(b[36:], l1Size)
	be.PutUint64(b[40:], 3<<16)
	be.PutUint64(b[48:], 1<<16)
	be.PutUint32(b[56:], 1)
	be.PutUint64(b[1<<16:], 2<<16) // refcount block
	for c := 0; c < 4; c++ {
		be.PutUint16(b[2<<16+2*c:], 1)
	}
	p := filepath.Join(t.TempDir(), "img.qcow2")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func qcow2Options(name, path string) NodeOptions {
	return NodeOptions{Driver: DriverQcow2, NodeName: name,
		File: &NodeRef{Options: &NodeOptions{Driver: DriverFile, Filename: path}}}
}

func TestQcow2HeaderLimits(t *testing.T) {
	for _, c := range []struct {
		size   uint64
		l1Size uint32
		err    string
	}{
		{1 << 20, 1, ""},
		{1 << 63, 1, "Image is too big"},
		{1<<63 - 1<<30, 1, "Image is too big"},
		{1 << 20, 0xFFFFFFFF, "Active L1 table too large"},
		{1 << 63, 0xFFFFFFFF, "Active L1 table too large"}, // the L1 check comes first
		{1 << 20, 4194305, "Active L1 table too large"},
		{1 << 20, 4194304, ""}, // exactly 32 MiB of L1, read past the end of the file
		{1 << 40, 1, "L1 table is too small"},
		{(1<<31 - 1) << 29, 1, "L1 table is too small"}, // L1 index INT_MAX is not too big
		{(1<<31-1)<<29 + 1, 1, "Image is too big"},
	} {
		before := heapInuse()
		g := NewGraph()
		n, err := g.AddNode(qcow2Options("q", qcow2Header(t, c.size, c.l1Size)))
		if c.err != "" {
			mustErr(t, err, "GenericError", c.err)
		} else if err != nil {
			t.Fatalf("size %d l1 %d: %v", c.size, c.l1Size, err)
		} else if n.Size() != int64(c.size) {
			t.Fatalf("size %d: got %d", c.size, n.Size())
		}
		if heap := heapInuse() - before; heap > 40<<20 {
			t.Fatalf("size %d l1 %d: heap grew %d bytes", c.size, c.l1Size, heap)
		}
		runtime.KeepAlive(g)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors without /proc/self/fd: %v", err)
	}
	return len(es)
}

// TestFailedAddClosesFiles: every error path of blockdev-add after a file
// was opened closes it at once, not when the garbage collector runs (the
// qcow2 image file leaked when its backing node was missing).
func TestFailedAddClosesFiles(t *testing.T) {
	img := qcow2Header(t, 1<<20, 1)
	missing := filepath.Join(t.TempDir(), "nosuch")
	for _, c := range []struct {
		backing *NodeRef
		err     string
	}{
		{&NodeRef{Ref: "nosuch"}, "Could not open backing file: Cannot find device='nosuch' nor node-name='nosuch'"},
		{&NodeRef{Options: &NodeOptions{Driver: DriverFile, Filename: missing}},
			"Could not open backing file: Could not open '" + missing + "': No such file or directory"},
		{&NodeRef{Options: &NodeOptions{Driver: DriverRaw, File: &NodeRef{Options: &NodeOptions{Driver: DriverFile, Filename: img}}, NodeName: "bad name"}},
			"Could not open backing file: Invalid node-name: 'bad name'"},
	} {
		g := NewGraph()
		o := qcow2Options("q", img)
		o.Backing = c.backing
		before := openFDs(t)
		_, err := g.AddNode(o)
		mustErr(t, err, "GenericError", c.err)
		if after := openFDs(t); after != before {
			t.Fatalf("%s: %d descriptors open before, %d after", c.err, before, after)
		}
		if len(g.NamedNodes()) != 0 {
			t.Fatalf("%s: nodes left behind", c.err)
		}
	}
}

func TestFileDriverRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	notRegular := func(p string) string { return "'file' driver requires '" + p + "' to be a regular file" }
	for _, c := range []struct {
		path string
		ro   bool
		err  string
	}{
		{"/dev/null", false, notRegular("/dev/null")},
		{"/dev/zero", true, notRegular("/dev/zero")},
		{fifo, false, notRegular(fifo)},
		{fifo, true, notRegular(fifo)}, // QEMU blocks here (D20); jobfsm must not
		{dir, false, "Could not open '" + dir + "': Is a directory"},
		{dir, true, notRegular(dir)},
		{"/proc/self/mem", false, "Could not refresh total sector count: Invalid argument"},
	} {
		if _, err := os.Stat(c.path); err != nil {
			t.Fatalf("%s must exist on Linux: %v", c.path, err)
		}
		g := NewGraph()
		before := openFDs(t)
		_, err := g.AddNode(NodeOptions{Driver: DriverFile, NodeName: "f", Filename: c.path, ReadOnly: &c.ro})
		mustErr(t, err, "GenericError", c.err)
		if after := openFDs(t); after != before {
			t.Fatalf("%s: %d descriptors before, %d after", c.path, before, after)
		}
	}
}

// TestFileLengthInSectors: a 100000-byte file is a 100352-byte node whose
// tail reads as zeros; writing the tail extends the file to 100352, as a
// backup onto such a file does on QEMU 7.2.
func TestFileLengthInSectors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.img")
	data := make([]byte, 100000)
	for i := range data {
		data[i] = 7
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	g := NewGraph()
	n, err := g.AddNode(NodeOptions{Driver: DriverFile, NodeName: "f", Filename: p})
	if err != nil {
		t.Fatal(err)
	}
	if n.Size() != 100352 {
		t.Fatalf("size %d, want 100352", n.Size())
	}
	tail := make([]byte, 512)
	if _, err := n.Read(99840, tail); err != nil {
		t.Fatal(err)
	}
	for i, v := range tail {
		if want := byte(0); i < 160 {
			want = 7
			if v != want {
				t.Fatalf("byte %d of the tail sector: %d", 99840+i, v)
			}
		} else if v != want {
			t.Fatalf("byte %d past the end of the file reads %d", 99840+i, v)
		}
	}
	if _, err := n.Write(99840, tail); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Size() != 100352 {
		t.Fatalf("file size %d after writing the last sector", st.Size())
	}
}

// accessMode returns the O_ACCMODE bits of every descriptor of this
// process open on path (from /proc/self/fdinfo).
func accessModes(t *testing.T, path string) []int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot inspect descriptors without /proc/self/fd: %v", err)
	}
	var modes []int
	for _, e := range es {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err != nil || l != path {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			var flags int
			if _, err := fmt.Sscanf(line, "flags:\t%o", &flags); err == nil {
				modes = append(modes, flags&syscall.O_ACCMODE)
			}
		}
	}
	return modes
}

// TestReadOnlyNodes: read-only: true opens the files read-only (inline
// children inherit it, as query-named-block-nodes shows on 7.2), and such a
// node refuses write permission with QEMU's text.
func TestReadOnlyNodes(t *testing.T) {
	img := qcow2Header(t, 1<<20, 1)
	g := NewGraph()
	o := qcow2Options("q", img)
	o.ReadOnly = yes()
	q, err := g.AddNode(o)
	if err != nil {
		t.Fatal(err)
	}
	modes := accessModes(t, img)
	if len(modes) == 0 {
		t.Fatal("no descriptor open on the image")
	}
	for _, m := range modes {
		if m != syscall.O_RDONLY {
			t.Fatalf("image open with access mode %d, want read-only", m)
		}
	}
	for _, in := range g.NamedNodes() {
		if !in.Ro {
			t.Fatalf("node %s is not read-only", in.NodeName)
		}
	}
	mustErr(t, q.CheckWritable(), "GenericError", "Block node is read-only")
	if _, err := g.AttachBackendPerm("test", q, PermWrite, PermAll); err == nil {
		t.Fatal("write permission granted on a read-only node")
	}
	// A read-write raw over a read-only file is accepted (7.2 does), and
	// refuses writers through it.
	if _, err := g.AddNode(NodeOptions{Driver: DriverRaw, NodeName: "r", File: &NodeRef{Ref: q.file.Child.Name()}}); err != nil {
		t.Fatal(err)
	}
	mustErr(t, g.Node("r").CheckWritable(), "GenericError", "Block node is read-only")
}

// TestAllocationOfHugeChains: allocation status over the largest empty
// qcow2 a 32 MiB L1 table maps (2 PiB at 64 KiB clusters), alone and over
// a null-co backing, is answered in one run, not 2^35 cluster steps (a
// mirror or backup with sync=top asks it for the whole image at once).
func TestAllocationOfHugeChains(t *testing.T) {
	const size = 1 << 51
	g := NewGraph()
	if _, err := g.AddNode(NodeOptions{Driver: DriverNullCo, NodeName: "base", Size: u64(size)}); err != nil {
		t.Fatal(err)
	}
	o := qcow2Options("q", qcow2Header(t, size, 4194304))
	o.ReadOnly = yes() // nothing is written to the crafted image
	q, err := g.AddNode(o)
	if err != nil {
		t.Fatal(err)
	}
	if alloc, n := AllocatedAbove(q, nil, false, 0, size, 65536); alloc || n != size {
		t.Fatalf("empty qcow2 alone: %v %d", alloc, n)
	}
	g.setBacking(q, g.Node("base"), "") // the read-only image keeps its header
	if alloc, n := AllocatedAbove(q, nil, false, 4096, size-4096, 65536); !alloc || n != size-4096 {
		t.Fatalf("over null-co: %v %d", alloc, n)
	}
	if alloc, n := AllocatedAbove(q, g.Node("base"), false, 0, size, 65536); alloc || n != size {
		t.Fatalf("above null-co, base excluded: %v %d", alloc, n)
	}
}
