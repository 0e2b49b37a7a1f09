package blockdev

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/jobfsm/jobfsm/internal/qerr"
)

// DirtyBitmap is BdrvDirtyBitmap: a bitmap over a node's bytes at some
// granularity, named or anonymous, with QEMU's disabled/busy/readonly/
// inconsistent flags and the successor a backup installs.
type DirtyBitmap struct {
	node       *Node
	name       string
	gran       int64
	size       int64
	bits       *HBitmap
	disabled   bool
	busy       bool
	persistent bool
	readonly   bool
	inconsist  bool
	successor  *DirtyBitmap
	released   bool
}

// MaxBitmapName is BDRV_BITMAP_MAX_NAME_SIZE.
const MaxBitmapName = 1023

// CreateBitmap is bdrv_create_dirty_bitmap: name "" makes an anonymous
// bitmap. The new bitmap is listed first.
func (n *Node) CreateBitmap(gran int64, name string) (*DirtyBitmap, error) {
	if name != "" {
		if n.FindBitmap(name) != nil {
			return nil, qerr.Generic("Bitmap already exists: %s", name)
		}
		if len(name) > MaxBitmapName {
			return nil, qerr.Generic("Bitmap name too long: %s", name)
		}
	}
	size := n.Size()
	bm := &DirtyBitmap{node: n, name: name, gran: gran, size: size, bits: NewHBitmap((size + gran - 1) / gran)}
	n.bitmaps = append([]*DirtyBitmap{bm}, n.bitmaps...)
	return bm, nil
}

// FindBitmap is bdrv_find_dirty_bitmap (named bitmaps only).
func (n *Node) FindBitmap(name string) *DirtyBitmap {
	for _, b := range n.bitmaps {
		if b.name == name && name != "" {
			return b
		}
	}
	return nil
}

// Bitmaps returns the node's bitmaps, newest first.
func (n *Node) Bitmaps() []*DirtyBitmap { return append([]*DirtyBitmap(nil), n.bitmaps...) }

// Release is bdrv_release_dirty_bitmap.
func (b *DirtyBitmap) Release() {
	if b.released {
		return
	}
	b.released = true
	n := b.node
	for i, o := range n.bitmaps {
		if o == b {
			n.bitmaps = append(n.bitmaps[:i:i], n.bitmaps[i+1:]...)
			break
		}
	}
}

func (n *Node) markDirty(off, length int64) {
	for _, b := range n.bitmaps {
		if !b.disabled {
			b.SetRange(off, length)
		}
	}
}

// Name is the bitmap's name ("" for anonymous).
func (b *DirtyBitmap) Name() string { return b.name }

// Node is the node the bitmap belongs to.
func (b *DirtyBitmap) Node() *Node { return b.node }

// Granularity in bytes.
func (b *DirtyBitmap) Granularity() int64 { return b.gran }

// Size is the byte size the bitmap covers.
func (b *DirtyBitmap) Size() int64 { return b.size }

// Count is bdrv_get_dirty_count: dirty bits times granularity.
func (b *DirtyBitmap) Count() int64 { return b.bits.Count() * b.gran }

// Bits exposes the underlying bitmap (one bit per granule).
func (b *DirtyBitmap) Bits() *HBitmap { return b.bits }

// Disabled, Busy, Persistent, Readonly, Inconsistent report the flags.
func (b *DirtyBitmap) Disabled() bool     { return b.disabled }
func (b *DirtyBitmap) Busy() bool         { return b.busy }
func (b *DirtyBitmap) Persistent() bool   { return b.persistent }
func (b *DirtyBitmap) Readonly() bool     { return b.readonly }
func (b *DirtyBitmap) Inconsistent() bool { return b.inconsist }

// Successor returns the successor installed by CreateSuccessor.
func (b *DirtyBitmap) Successor() *DirtyBitmap { return b.successor }

// Recording is bdrv_dirty_bitmap_recording.
func (b *DirtyBitmap) Recording() bool {
	return !b.disabled || b.successor != nil && !b.successor.disabled
}

// SetDisabled enables or disables recording (internal callers).
func (b *DirtyBitmap) SetDisabled(d bool) { b.disabled = d }

// SetBusy marks the bitmap in use by an operation.
func (b *DirtyBitmap) SetBusy(v bool) { b.busy = v }

// SetReadonly and SetInconsistent set flags QEMU takes from persistent
// storage; tests use them to reach those error paths.
func (b *DirtyBitmap) SetReadonly(v bool)     { b.readonly = v }
func (b *DirtyBitmap) SetInconsistent(v bool) { b.inconsist = v }

// SetRange marks bytes [off, off+n) dirty.
func (b *DirtyBitmap) SetRange(off, n int64) {
	if n <= 0 {
		return
	}
	b.bits.Set(off/b.gran, (off+n+b.gran-1)/b.gran)
}

// ResetRange clears bytes [off, off+n) (granules fully or partly inside).
func (b *DirtyBitmap) ResetRange(off, n int64) {
	if n <= 0 {
		return
	}
	b.bits.Reset(off/b.gran, (off+n+b.gran-1)/b.gran)
}

// Get reports whether the granule holding byte off is dirty.
func (b *DirtyBitmap) Get(off int64) bool { return b.bits.Get(off / b.gran) }

// NextDirtyArea returns the first dirty run at or after off, at most max
// bytes long, clipped to the bitmap size; ok false when none.
func (b *DirtyBitmap) NextDirtyArea(off, max int64) (start, n int64, ok bool) {
	i := b.bits.Next(off / b.gran)
	if i < 0 {
		return 0, 0, false
	}
	j := b.bits.NextZero(i)
	start = i * b.gran
	end := min(j*b.gran, b.size, start+max)
	return start, end - start, true
}

// Clear clears every bit.
func (b *DirtyBitmap) Clear() { b.bits.Clear() }

// MergeFrom ORs src into b, converting granularity (hbitmap_merge and
// bdrv_dirty_bitmap_merge_internal).
func (b *DirtyBitmap) MergeFrom(src *DirtyBitmap) {
	if src.gran == b.gran && src.bits.Len() == b.bits.Len() {
		b.bits.Merge(src.bits)
		return
	}
	for i := src.bits.Next(0); i >= 0; {
		j := src.bits.NextZero(i)
		off := i * src.gran
		b.SetRange(off, min(j*src.gran, src.size)-off)
		i = src.bits.Next(j)
	}
}

// SHA256 is hbitmap_sha256 as x-debug-block-dirty-bitmap-sha256 returns it:
// the hex SHA-256 of the bitmap's words.
func (b *DirtyBitmap) SHA256() string {
	h := sha256.New()
	b.bits.WriteWords(h)
	return hex.EncodeToString(h.Sum(nil))
}

// --- check flags (bdrv_dirty_bitmap_check) -------------------------------------

// BitmapCheck is a set of bdrv_dirty_bitmap_check flags.
type BitmapCheck uint8

const (
	CheckBusy BitmapCheck = 1 << iota
	CheckRO
	CheckInconsistent
	// CheckDefault is BDRV_BITMAP_DEFAULT, CheckAllowRO BDRV_BITMAP_ALLOW_RO.
	CheckDefault = CheckBusy | CheckRO | CheckInconsistent
	CheckAllowRO = CheckBusy | CheckInconsistent
)

// Check is bdrv_dirty_bitmap_check.
func (b *DirtyBitmap) Check(flags BitmapCheck) error {
	if flags&CheckBusy != 0 && b.busy {
		return qerr.Generic("Bitmap '%s' is currently in use by another operation and cannot be used", b.name)
	}
	if flags&CheckRO != 0 && b.readonly {
		return qerr.Generic("Bitmap '%s' is readonly and cannot be modified", b.name)
	}
	if flags&CheckInconsistent != 0 && b.inconsist {
		return qerr.Generic("Bitmap '%s' is inconsistent and cannot be used", b.name)
	}
	return nil
}

// --- successor (backup) ---------------------------------------------------------

// CreateSuccessor is bdrv_dirty_bitmap_create_successor: writes from now on
// go to an anonymous successor (if b was enabled); b is frozen and busy.
func (b *DirtyBitmap) CreateSuccessor() (*DirtyBitmap, error) {
	if err := b.Check(CheckBusy); err != nil {
		return nil, err
	}
	if b.successor != nil {
		return nil, qerr.Generic("Cannot create a successor for a bitmap that already has one")
	}
	s, err := b.node.CreateBitmap(b.gran, "")
	if err != nil {
		return nil, err
	}
	s.disabled = b.disabled
	b.disabled = true
	b.successor = s
	b.busy = true
	return s, nil
}

// Abdicate is bdrv_dirty_bitmap_abdicate: the successor takes b's name and
// persistence and b is released; the result is the successor.
func (b *DirtyBitmap) Abdicate() (*DirtyBitmap, error) {
	s := b.successor
	if s == nil {
		return nil, qerr.Generic("Cannot relinquish control if there's no successor present")
	}
	s.name, b.name = b.name, ""
	s.persistent, b.persistent = b.persistent, false
	b.busy = false
	b.successor = nil
	b.Release()
	return s, nil
}

// Reclaim is bdrv_reclaim_dirty_bitmap: b |= successor, b takes the
// successor's enabled state, the successor is released; the result is b.
func (b *DirtyBitmap) Reclaim() (*DirtyBitmap, error) {
	s := b.successor
	if s == nil {
		return nil, qerr.Generic("Cannot reclaim a successor when none is present")
	}
	b.MergeFrom(s)
	b.disabled = s.disabled
	b.busy = false
	b.successor = nil
	s.Release()
	return b, nil
}

// --- QMP bitmap commands (block/monitor/bitmap-qmp-cmds.c) ----------------------

// BitmapAddArgs are block-dirty-bitmap-add's arguments.
type BitmapAddArgs struct {
	Node        string `json:"node"`
	Name        string `json:"name"`
	Granularity *int64 `json:"granularity,omitempty"`
	Persistent  *bool  `json:"persistent,omitempty"`
	Disabled    *bool  `json:"disabled,omitempty"`
}

// DefaultBitmapGranularity is bdrv_get_default_bitmap_granularity: the
// node's cluster size clamped to [4 KiB, 64 KiB], 64 KiB without one.
func (n *Node) DefaultBitmapGranularity() int64 {
	if cs := n.SkipFilters().ClusterSize(); cs > 0 {
		return min(max(cs, 4096), 65536)
	}
	return 65536
}

// BitmapAdd is block-dirty-bitmap-add.
func (g *Graph) BitmapAdd(a BitmapAddArgs) error {
	if a.Name == "" {
		return qerr.Generic("Bitmap name cannot be empty")
	}
	n, err := g.Lookup(a.Node)
	if err != nil {
		return err
	}
	var gran int64
	if a.Granularity != nil {
		gran = *a.Granularity
		if gran < 0 || gran > 0xffffffff {
			return qerr.Generic("Parameter 'granularity' expects uint32_t")
		}
		if gran < 512 || gran&(gran-1) != 0 {
			return qerr.Generic("Granularity must be power of 2 and at least 512")
		}
	} else {
		gran = n.DefaultBitmapGranularity()
	}
	if a.Persistent != nil && *a.Persistent && n.SkipFilters().driver != DriverQcow2 {
		return qerr.Generic("Can't store persistent bitmaps to %s: Operation not supported", n.Name())
	}
	bm, err := n.CreateBitmap(gran, a.Name)
	if err != nil {
		return err
	}
	bm.disabled = a.Disabled != nil && *a.Disabled
	bm.persistent = a.Persistent != nil && *a.Persistent
	return nil
}

// LookupBitmap is block_dirty_bitmap_lookup.
func (g *Graph) LookupBitmap(node, name string) (*DirtyBitmap, error) {
	n := g.nodes[node]
	if n == nil {
		return nil, qerr.Generic("Node '%s' not found", node)
	}
	bm := n.FindBitmap(name)
	if bm == nil {
		return nil, qerr.Generic("Dirty bitmap '%s' not found", name)
	}
	return bm, nil
}

// BitmapRemove is block-dirty-bitmap-remove.
func (g *Graph) BitmapRemove(node, name string) error {
	return g.onBitmap(node, name, CheckBusy|CheckRO, (*DirtyBitmap).Release)
}

// BitmapClear is block-dirty-bitmap-clear.
func (g *Graph) BitmapClear(node, name string) error {
	return g.onBitmap(node, name, CheckDefault, (*DirtyBitmap).Clear)
}

// BitmapEnable is block-dirty-bitmap-enable.
func (g *Graph) BitmapEnable(node, name string) error {
	return g.onBitmap(node, name, CheckAllowRO, func(bm *DirtyBitmap) { bm.disabled = false })
}

// BitmapDisable is block-dirty-bitmap-disable.
func (g *Graph) BitmapDisable(node, name string) error {
	return g.onBitmap(node, name, CheckAllowRO, func(bm *DirtyBitmap) { bm.disabled = true })
}

// onBitmap is the shape of the bitmap commands that change one bitmap: the
// lookup, the command's checks, then the change.
func (g *Graph) onBitmap(node, name string, checks BitmapCheck, change func(*DirtyBitmap)) error {
	bm, err := g.LookupBitmap(node, name)
	if err != nil {
		return err
	}
	if err := bm.Check(checks); err != nil {
		return err
	}
	change(bm)
	return nil
}

// BitmapRef is BlockDirtyBitmapOrStr: a bitmap on the target's node by name,
// or {node, name} anywhere.
type BitmapRef struct {
	Node string `json:"node,omitempty"`
	Name string `json:"name"`
	// External is true for the {node, name} form.
	External bool `json:"-"`
}

// BitmapMerge is block-dirty-bitmap-merge: sources are merged into a
// temporary bitmap first, so the target is unchanged if any source fails.
func (g *Graph) BitmapMerge(node, target string, srcs []BitmapRef) error {
	dst, err := g.LookupBitmap(node, target)
	if err != nil {
		return err
	}
	anon := &DirtyBitmap{node: dst.node, gran: dst.gran, size: dst.node.Size()}
	anon.bits = NewHBitmap((anon.size + anon.gran - 1) / anon.gran)
	for _, r := range srcs {
		var src *DirtyBitmap
		if r.External {
			if src, err = g.LookupBitmap(r.Node, r.Name); err != nil {
				return err
			}
		} else if src = dst.node.FindBitmap(r.Name); src == nil {
			return qerr.Generic("Dirty bitmap '%s' not found", r.Name)
		}
		if err := mergeChecked(anon, src); err != nil {
			return err
		}
	}
	return mergeChecked(dst, anon)
}

// mergeChecked is bdrv_merge_dirty_bitmap.
func mergeChecked(dst, src *DirtyBitmap) error {
	if err := dst.Check(CheckDefault); err != nil {
		return err
	}
	if err := src.Check(CheckAllowRO); err != nil {
		return err
	}
	if src.size != dst.size {
		return qerr.Generic("Bitmaps are of different sizes (destination size is %d, source size is %d) and can't be merged", dst.size, src.size)
	}
	dst.MergeFrom(src)
	return nil
}

// MaxQEMUBitmapBits is 2^HBITMAP_LOG_MAX_SIZE (41 on 64-bit hosts): QEMU
// 7.2 aborts creating a larger bitmap; jobfsm's sparse ones can be larger
// (spec/deviations.md D14).
const MaxQEMUBitmapBits = 1 << 41

// BitmapSHA256 is x-debug-block-dirty-bitmap-sha256. A bitmap QEMU could
// not have is not hashed: hashing its words would take hours (2^46 bits
// for a 2^62-byte node at 64 KiB granularity is 8 TiB of input).
func (g *Graph) BitmapSHA256(node, name string) (string, error) {
	bm, err := g.LookupBitmap(node, name)
	if err != nil {
		return "", err
	}
	if bits := bm.bits.Len(); bits > MaxQEMUBitmapBits {
		return "", qerr.Generic("jobsim does not hash bitmap '%s': its %d bits exceed QEMU's limit of 2^41", name, bits)
	}
	return bm.SHA256(), nil
}

// --- query-named-block-nodes ------------------------------------------------------

// BitmapInfo is BlockDirtyInfo.
type BitmapInfo struct {
	Name         string `json:"name,omitempty"`
	Count        int64  `json:"count"`
	Granularity  int64  `json:"granularity"`
	Recording    bool   `json:"recording"`
	Busy         bool   `json:"busy"`
	Persistent   bool   `json:"persistent"`
	Inconsistent bool   `json:"inconsistent,omitempty"`
}

// BitmapInfos is bdrv_query_dirty_bitmaps: newest first, anonymous ones
// included.
func (n *Node) BitmapInfos() []BitmapInfo {
	out := make([]BitmapInfo, 0, len(n.bitmaps))
	for _, b := range n.bitmaps {
		out = append(out, BitmapInfo{Name: b.name, Count: b.Count(), Granularity: b.gran,
			Recording: b.Recording(), Busy: b.busy, Persistent: b.persistent, Inconsistent: b.inconsist})
	}
	return out
}
