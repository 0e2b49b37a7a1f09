package blockdev

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"syscall"

	"github.com/jobfsm/jobfsm/internal/qemuid"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

// Driver names. raw, file, null-co, blkdebug and qcow2 are blockdev-add
// drivers; memory is jobfsm's in-memory protocol; the rest are the implicit
// filters block jobs insert.
const (
	DriverRaw       = "raw"
	DriverFile      = "file"
	DriverMemory    = "memory"
	DriverNullCo    = "null-co"
	DriverBlkdebug  = "blkdebug"
	DriverQcow2     = "qcow2"
	DriverCBW       = "copy-before-write"
	DriverMirrorTop = "mirror_top"
	DriverCommitTop = "commit_top"
	DriverCOR       = "copy-on-read"
)

// WriteHook is installed on a filter node by the job that owns it.
// BeforeWrite runs before a write through the filter reaches the filtered
// child (copy-before-write's write notifier); AfterWrite runs after it
// succeeded (mirror's active write path).
type WriteHook interface {
	BeforeWrite(off, n int64) error
	AfterWrite(off int64, p []byte) error
}

// Node is one block node.
type Node struct {
	g            *Graph
	name         string
	driver       string
	implicit     bool
	monitorOwned bool
	readOnly     bool
	deleted      bool

	store      Store // file, memory: the bytes; qcow2 keeps data in file's store
	nullSize   int64
	readZeroes bool
	latency    int64
	filename   string

	file, backing *Edge
	extra         []*Edge // copy-before-write's target
	parents       []*Edge // newest first
	frontOf       *Node   // the node that took over this node's parents
	quiesce       int

	bitmaps  []*DirtyBitmap // newest first
	blockers []*blocker     // newest first
	rules    []*InjectRule

	hook        WriteHook
	backingFile string
}

// Name is the node-name.
func (n *Node) Name() string { return n.name }

// Driver is the node's driver name.
func (n *Node) Driver() string { return n.driver }

// IsFilter reports a filter driver (blkdebug, raw passthrough is not one).
func (n *Node) IsFilter() bool {
	switch n.driver {
	case DriverCBW, DriverMirrorTop, DriverCommitTop, DriverCOR, DriverBlkdebug:
		return true
	}
	return false
}

// Implicit reports an auto-named node a job inserted.
func (n *Node) Implicit() bool { return n.implicit }

// Deleted reports that the node left the graph.
func (n *Node) Deleted() bool { return n.deleted }

// ReadOnly reports the read-only flag.
func (n *Node) ReadOnly() bool { return n.readOnly }

// Backing returns the COW backing node of an overlay, or nil.
func (n *Node) Backing() *Node {
	if n.driver == DriverQcow2 && n.backing != nil {
		return n.backing.Child
	}
	return nil
}

// BackingFile is the image header's backing file string.
func (n *Node) BackingFile() string { return n.backingFile }

// Filtered returns the child a filter passes I/O to, or nil.
func (n *Node) Filtered() *Node {
	switch n.driver {
	case DriverMirrorTop, DriverCommitTop:
		if n.backing != nil {
			return n.backing.Child
		}
	case DriverCBW, DriverCOR, DriverBlkdebug, DriverRaw:
		if n.file != nil {
			return n.file.Child
		}
	}
	return nil
}

// SkipFilters is bdrv_skip_filters: the first non-filter node at or below n.
func (n *Node) SkipFilters() *Node {
	for n != nil && n.IsFilter() {
		n = n.Filtered()
	}
	return n
}

// Front is the node guest I/O addressed to n reaches: the filter a job
// inserted above it, or the node a mirror pivoted it to.
func (n *Node) Front() *Node {
	for i := 0; n.frontOf != nil && i < 64; i++ {
		n = n.frontOf
	}
	return n
}

// SetHook installs a job's write hook on a filter node.
func (n *Node) SetHook(h WriteHook) { n.hook = h }

func (n *Node) children() []*Edge {
	var out []*Edge
	for _, e := range []*Edge{n.file, n.backing} {
		if e != nil {
			out = append(out, e)
		}
	}
	return append(out, n.extra...)
}

// Size is the node's virtual size (bdrv_getlength).
func (n *Node) Size() int64 {
	switch n.driver {
	case DriverFile, DriverMemory:
		return n.store.Size()
	case DriverNullCo:
		return n.nullSize
	case DriverQcow2:
		if n.store != nil {
			return n.store.Size()
		}
		return n.file.Child.Size()
	}
	if c := n.Filtered(); c != nil {
		return c.Size()
	}
	return 0
}

// ClusterSize is the node's allocation unit (bdrv_get_info cluster_size), 0
// when the driver reports none.
func (n *Node) ClusterSize() int64 {
	if n.driver == DriverQcow2 {
		return n.dataStore().ClusterSize()
	}
	return 0
}

func (n *Node) dataStore() Store {
	if n.store != nil {
		return n.store
	}
	if n.file != nil {
		return n.file.Child.dataStore()
	}
	return nil
}

// Truncate resizes a node (active commit grows its base).
func (n *Node) Truncate(size int64) error {
	switch n.driver {
	case DriverFile, DriverMemory:
		return n.store.Truncate(size)
	case DriverNullCo:
		n.nullSize = size
		return nil
	case DriverQcow2, DriverRaw, DriverBlkdebug:
		if n.store != nil {
			return n.store.Truncate(size)
		}
		return n.file.Child.Truncate(size)
	}
	return errors.New("Image format driver does not support resize")
}

// --- blockdev-add -------------------------------------------------------------

// NodeOptions are blockdev-add's arguments (BlockdevOptions) for the drivers
// jobfsm simulates; JSON names are QMP's.
type NodeOptions struct {
	Driver      string               `json:"driver"`
	NodeName    string               `json:"node-name,omitempty"`
	ReadOnly    *bool                `json:"read-only,omitempty"`
	File        *NodeRef             `json:"file,omitempty"`
	Backing     *NodeRef             `json:"backing,omitempty"`
	Image       *NodeRef             `json:"image,omitempty"`
	Filename    string               `json:"filename,omitempty"`
	Size        *int64               `json:"size,omitempty"`
	ReadZeroes  *bool                `json:"read-zeroes,omitempty"`
	LatencyNs   *int64               `json:"latency-ns,omitempty"`
	ClusterSize int64                `json:"cluster-size,omitempty"`
	InjectError []InjectErrorOptions `json:"inject-error,omitempty"`
}

// NodeRef is BlockdevRef / BlockdevRefOrNull: the name of an existing node,
// inline options for a new one, or (backing only) null for "no backing".
type NodeRef struct {
	Ref     string
	Options *NodeOptions
	Null    bool
}

func (r *NodeRef) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = NodeRef{Null: true}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*r = NodeRef{Ref: s}
		return nil
	}
	var o NodeOptions
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*r = NodeRef{Options: &o}
	return nil
}

func (r NodeRef) MarshalJSON() ([]byte, error) {
	switch {
	case r.Null:
		return []byte("null"), nil
	case r.Options != nil:
		return json.Marshal(r.Options)
	}
	return json.Marshal(r.Ref)
}

const defaultNullSize = 1 << 30

// MaxLength is BDRV_MAX_LENGTH, the largest node length QEMU 7.2 accepts:
// INT64_MAX aligned down to BDRV_MAX_ALIGNMENT (1 GiB), 2^63 - 2^30.
// Larger nodes fail blockdev-add with ErrTooLarge's text.
const MaxLength int64 = (1<<63 - 1) &^ (1<<30 - 1)

// sectorSize is BDRV_SECTOR_SIZE: QEMU keeps a node's length in sectors
// (bdrv_refresh_total_sectors), so a length is rounded up to it.
const sectorSize = 512

// refreshTotalSectors is bdrv_refresh_total_sectors: the length rounded
// up to whole sectors, or QEMU's error for one beyond MaxLength
// (measured on qemu-storage-daemon 7.2: null-co of size 2^63-2^30 is
// accepted, one byte more is not).
func refreshTotalSectors(length int64) (int64, error) {
	if length > MaxLength {
		return 0, qerr.Generic("Could not refresh total sector count: File too large")
	}
	return (length + sectorSize - 1) &^ (sectorSize - 1), nil
}

// AddNode is blockdev-add: the root must have a node-name; children given
// inline are created as implicit nodes. On error nothing is added.
func (g *Graph) AddNode(o NodeOptions) (*Node, error) {
	if o.NodeName == "" {
		return nil, qerr.Generic("'node-name' must be specified for the root node")
	}
	var created []*Node
	n, err := g.open(o, &created, "", false)
	if err != nil {
		for i := len(created) - 1; i >= 0; i-- {
			g.unadd(created[i])
		}
		return nil, err
	}
	n.monitorOwned = true
	// Attaching an existing node as a child drains it twice (observed on
	// qemu-storage-daemon 7.2: two paused/running blips of a job using the
	// child, none for a node no job uses).
	for _, e := range n.children() {
		if c := e.Child; c != nil && c.monitorOwned {
			for i := 0; i < 2; i++ {
				g.DrainBegin(c)
				g.DrainEnd(c)
			}
		}
	}
	return n, nil
}

// unadd takes back a node a failed blockdev-add created.
func (g *Graph) unadd(c *Node) {
	for _, e := range c.children() {
		if e.Role == "backing" && e.Child != nil {
			e.Child.unblock(c)
		}
		g.detach(e)
	}
	g.forget(c)
	closeStore(c.store)
}

func (g *Graph) checkNewName(name string) error {
	if !qemuid.WellFormed(name) {
		return qerr.Generic("Invalid node-name: '%s'", name)
	}
	if g.nodes[name] != nil {
		return qerr.Generic("Duplicate nodes with node-name='%s'", name)
	}
	if len(name) >= 32 {
		return qerr.Generic("Node name too long")
	}
	return nil
}

// open opens one node and the children given inline (which inherit the
// parent's read-only flag unless they set their own, as in QEMU). A node
// that fails to open closes the files it opened itself; the children it
// created are in *created, which AddNode takes back.
func (g *Graph) open(o NodeOptions, created *[]*Node, path string, parentRO bool) (_ *Node, err error) {
	n := &Node{g: g, driver: o.Driver, readOnly: parentRO}
	if o.ReadOnly != nil {
		n.readOnly = *o.ReadOnly
	}
	defer func() {
		if err != nil && n.name == "" {
			// not added yet, so not in *created: nobody else closes it
			closeStore(n.store)
		}
	}()
	switch o.Driver {
	case DriverRaw, DriverFile, DriverMemory, DriverNullCo, DriverBlkdebug, DriverQcow2:
	case "":
		return nil, qerr.Generic("Parameter '%sdriver' is missing", path)
	default:
		return nil, qerr.Generic("Parameter '%sdriver' does not accept value '%s'", path, o.Driver)
	}
	if o.Backing != nil && o.Driver != DriverQcow2 {
		// QAPI: only formats with backing files have the member.
		return nil, qerr.Generic("Parameter '%sbacking' is unexpected", path)
	}
	if o.NodeName != "" {
		if err := g.checkNewName(o.NodeName); err != nil {
			return nil, err
		}
	}
	// Children are opened before the node itself gets its name, as
	// bdrv_open_inherit does; their auto names come first.
	switch o.Driver {
	case DriverFile:
		if o.Filename == "" {
			return nil, qerr.Generic("Parameter '%sfilename' is missing", path)
		}
		fs, err := OpenFileStore(o.Filename, n.readOnly)
		if err != nil {
			return nil, err
		}
		n.store, n.filename = fs, o.Filename
	case DriverMemory:
		if o.Size == nil {
			return nil, qerr.Generic("Parameter '%ssize' is missing", path)
		}
		ms, err := NewMemStore(*o.Size, o.ClusterSize)
		if err != nil {
			return nil, qerr.Generic("%s", err.Error())
		}
		// jobfsm's stand-in for a file: its length is kept in sectors too.
		size, err := refreshTotalSectors(ms.Size())
		if err != nil {
			return nil, err
		}
		if size != ms.Size() {
			ms.Truncate(size)
		}
		n.store = ms
	case DriverNullCo:
		n.nullSize = defaultNullSize
		if o.Size != nil {
			if *o.Size < 0 {
				// QEMU 7.2 aborts here (parse_option_size with
				// &error_abort); jobfsm reports the text instead.
				return nil, qerr.Generic("Parameter 'size' expects a non-negative number below 2^64")
			}
			size, err := refreshTotalSectors(*o.Size)
			if err != nil {
				return nil, err
			}
			n.nullSize = size
		}
		n.readZeroes = o.ReadZeroes != nil && *o.ReadZeroes
		if o.LatencyNs != nil {
			if *o.LatencyNs < 0 {
				return nil, qerr.Generic("latency-ns is invalid")
			}
			n.latency = *o.LatencyNs
		}
	case DriverRaw, DriverQcow2:
		if o.File == nil {
			return nil, qerr.Generic("Parameter '%sfile' is missing", path)
		}
		c, err := g.child(*o.File, created, path+"file.", n.readOnly)
		if err != nil {
			return nil, err
		}
		if o.Driver == DriverQcow2 && c.driver == DriverFile && IsQcow2(c.filename) {
			qs, err := OpenQcow2(c.filename, n.readOnly)
			if err != nil {
				return nil, qerr.Generic("%s", err.Error())
			}
			n.store = qs
			n.backingFile = qs.BackingFile()
		}
		if o.Driver == DriverQcow2 && c.dataStore() == nil {
			// jobfsm's qcow2 keeps its clusters in the file child's
			// store; a file child without one (null-co) is not an image.
			return nil, qerr.Generic("Image is not in qcow2 format")
		}
		n.file = &Edge{Kind: ParentNode, Role: "file", Child: c, Shared: PermAll}
	case DriverBlkdebug:
		if o.Image == nil {
			return nil, qerr.Generic("Parameter '%simage' is missing", path)
		}
		c, err := g.child(*o.Image, created, path+"image.", n.readOnly)
		if err != nil {
			return nil, err
		}
		n.file = &Edge{Kind: ParentNode, Role: "image", Child: c, Shared: PermAll}
		for _, ie := range o.InjectError {
			r, err := ie.rule()
			if err != nil {
				return nil, err
			}
			n.rules = append(n.rules, r)
		}
	}
	var backing *Node
	if o.Backing != nil && !o.Backing.Null {
		// QEMU opens an inline backing chain read-only and reopens it
		// read-write for commit; jobfsm has no reopen, so it stays
		// read-write unless the options say otherwise.
		b, err := g.child(*o.Backing, created, path+"backing.", false)
		if err != nil {
			// bdrv_open_backing_file's prefix (measured on 7.2 for a
			// missing node name and a missing file alike).
			return nil, qerr.Generic("Could not open backing file: %s", err.Error())
		}
		backing = b
	}
	if o.NodeName != "" {
		n.name = o.NodeName
	} else {
		n.name = g.autoName()
		n.implicit = true
	}
	g.add(n)
	*created = append(*created, n)
	if n.file != nil {
		c := n.file.Child
		n.file.Parent = n
		n.file.Child = nil
		g.attach(n.file, c)
	}
	if backing != nil {
		header := n.backingFile
		if _, disk := n.store.(*Qcow2Store); !disk {
			header = backing.imageFilename()
		}
		g.setBacking(n, backing, header)
	}
	return n, nil
}

// imageFilename is the name a backing header records for n.
func (n *Node) imageFilename() string {
	for c := n; c != nil; {
		if c.filename != "" {
			return c.filename
		}
		if c.file == nil {
			break
		}
		c = c.file.Child
	}
	return n.name
}

func (g *Graph) child(r NodeRef, created *[]*Node, path string, parentRO bool) (*Node, error) {
	if r.Options == nil {
		n := g.nodes[r.Ref]
		if n == nil {
			return nil, qerr.Generic("Cannot find device='%s' nor node-name='%s'", r.Ref, r.Ref)
		}
		return n, nil
	}
	return g.open(*r.Options, created, path, parentRO)
}

func errnoText(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		t := en.Error()
		return strings.ToUpper(t[:1]) + t[1:]
	}
	if errors.Is(err, os.ErrNotExist) {
		return "No such file or directory"
	}
	return err.Error()
}

// --- blockdev-del ---------------------------------------------------------------

// DelNode is blockdev-del with its checks in QEMU's order (reference §9.2).
func (g *Graph) DelNode(name string) error {
	n := g.nodes[name]
	if n == nil {
		return qerr.Generic("Failed to find node with node-name='%s'", name)
	}
	if n.HasBackend() {
		return qerr.Generic("Node %s is in use", name)
	}
	if err := n.OpBlocked(OpDriveDel); err != nil {
		return err
	}
	if !n.monitorOwned {
		return qerr.Generic("Node %s is not owned by the monitor", name)
	}
	if len(n.parents) > 0 {
		return qerr.Generic("Block device %s is in use", name)
	}
	g.destroy(n)
	return nil
}
