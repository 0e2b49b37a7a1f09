package blockdev

import (
	"encoding/binary"
	"hash"
	"math/bits"
)

// HBitmap is a sparse bitmap of n bits whose memory follows the shape of
// the bits set, never n: a tree of fan-out 64 over leaves of 4096 bits in
// which an all-clear subtree is nil and an all-set subtree is one shared
// marker. Setting every bit of a 2^54-bit bitmap (an 8 EiB node at 512-byte
// granularity) costs one pointer; each run boundary costs at most one leaf
// and one interior node per level. QEMU's hbitmap is dense and aborts on
// such sizes (spec/deviations.md D14); a reference must not.
//
// Subtrees are kept canonical (never an interior node or leaf that is all
// clear or all set), so Equal can compare shapes. Bits at or above n are
// never set, so no subtree reaching past n is ever the all-set marker.
type HBitmap struct {
	n      int64
	height int // the root covers leafBits << (6*height) bits
	root   *hnode
	count  int64
}

const (
	leafWords = 64
	leafBits  = leafWords * 64
	fanBits   = 6 // log2 of an interior node's fan-out
	fanOut    = 1 << fanBits
	// maxHBitmapBits is the largest length NewHBitmap represents: the span
	// of a root of height 8 (2^60 bits), beyond any node's bitmap
	// (2^63 bytes at 512-byte granularity is 2^54 bits).
	maxHBitmapBits = leafBits << (fanBits * 8)
)

// hnode is a leaf (w != nil) or an interior node (kids != nil); n counts
// the bits set below it.
type hnode struct {
	w    *[leafWords]uint64
	kids *[fanOut]*hnode
	n    int64
}

// allSet is the shared marker of an all-set subtree; it is never written.
var allSet = &hnode{}

// span is the number of bits a subtree of height h covers.
func span(h int) int64 { return leafBits << (fanBits * h) }

// childShift is log2 of a child's span under a node of height h >= 1.
func childShift(h int) uint { return uint(12 + fanBits*(h-1)) }

func countOf(nd *hnode, h int) int64 {
	switch nd {
	case nil:
		return 0
	case allSet:
		return span(h)
	}
	return nd.n
}

// NewHBitmap returns an empty bitmap of n bits (n is capped at 2^60).
func NewHBitmap(n int64) *HBitmap {
	n = min(max(n, 0), maxHBitmapBits)
	h := 0
	for span(h) < n {
		h++
	}
	return &HBitmap{n: n, height: h}
}

// Len is the number of bits.
func (h *HBitmap) Len() int64 { return h.n }

// Count is the number of set bits.
func (h *HBitmap) Count() int64 { return h.count }

// Get reports bit i.
func (h *HBitmap) Get(i int64) bool {
	if i < 0 || i >= h.n {
		return false
	}
	nd, base := h.root, int64(0)
	for lv := h.height; ; lv-- {
		switch {
		case nd == nil:
			return false
		case nd == allSet:
			return true
		case lv == 0:
			b := i - base
			return nd.w[b/64]&(1<<(b%64)) != 0
		}
		k := (i - base) >> childShift(lv)
		base += k << childShift(lv)
		nd = nd.kids[k]
	}
}

// Set sets bits [start, end).
func (h *HBitmap) Set(start, end int64) { h.update(start, end, true) }

// Reset clears bits [start, end).
func (h *HBitmap) Reset(start, end int64) { h.update(start, end, false) }

func (h *HBitmap) update(start, end int64, set bool) {
	start, end = max(start, 0), min(end, h.n)
	if start >= end {
		return
	}
	var d int64
	h.root, d = update(h.root, h.height, 0, start, end, set)
	h.count += d
}

// update sets or clears [start, end) in the subtree nd of height lv that
// starts at bit base, and returns the canonical subtree and the change in
// its count.
func update(nd *hnode, lv int, base, start, end int64, set bool) (*hnode, int64) {
	sp := span(lv)
	before := countOf(nd, lv)
	if start <= base && end >= base+sp {
		if set {
			return allSet, sp - before
		}
		return nil, -before
	}
	if set && nd == allSet || !set && nd == nil {
		return nd, 0
	}
	nd = materialize(nd, lv)
	if lv == 0 {
		for b := max(start, base); b < min(end, base+sp); {
			wi := (b - base) / 64
			lo := (b - base) % 64
			hi := min(int64(64), lo+(min(end, base+sp)-b))
			mask := ^uint64(0)
			if hi-lo < 64 {
				mask = ((uint64(1) << (hi - lo)) - 1) << lo
			}
			if set {
				nd.w[wi] |= mask
			} else {
				nd.w[wi] &^= mask
			}
			b += hi - lo
		}
		nd.n = 0
		for _, w := range nd.w {
			nd.n += int64(bits.OnesCount64(w))
		}
	} else {
		cs := childShift(lv)
		k0 := (max(start, base) - base) >> cs
		k1 := (min(end, base+sp) - 1 - base) >> cs
		for k := k0; k <= k1; k++ {
			var d int64
			nd.kids[k], d = update(nd.kids[k], lv-1, base+k<<cs, start, end, set)
			nd.n += d
		}
	}
	return canonical(nd, lv), countOf(nd, lv) - before
}

// materialize turns the nil or all-set marker into a node that can be
// written.
func materialize(nd *hnode, lv int) *hnode {
	fill := nd == allSet
	if nd != nil && !fill {
		return nd
	}
	out := &hnode{}
	if lv == 0 {
		out.w = new([leafWords]uint64)
		if fill {
			for i := range out.w {
				out.w[i] = ^uint64(0)
			}
		}
	} else {
		out.kids = new([fanOut]*hnode)
		if fill {
			for i := range out.kids {
				out.kids[i] = allSet
			}
		}
	}
	if fill {
		out.n = span(lv)
	}
	return out
}

func canonical(nd *hnode, lv int) *hnode {
	switch nd.n {
	case 0:
		return nil
	case span(lv):
		return allSet
	}
	return nd
}

// Clear clears every bit.
func (h *HBitmap) Clear() {
	h.root = nil
	h.count = 0
}

// Next returns the first set bit at or after i, or -1.
func (h *HBitmap) Next(i int64) int64 {
	i = max(i, 0)
	if i >= h.n {
		return -1
	}
	return next(h.root, h.height, 0, i, true)
}

// next returns the first bit at or after i (i within nd's span, which
// starts at base) that is set (want true) or clear (want false), or -1.
// An all-clear (nil) or all-set subtree answers without a walk.
func next(nd *hnode, lv int, base, i int64, want bool) int64 {
	switch {
	case nd == nil && !want, nd == allSet && want:
		return i
	case nd == nil, nd == allSet:
		return -1
	case lv == 0:
		b := i - base
		for wi := b / 64; wi < leafWords; wi++ {
			w := nd.w[wi]
			if !want {
				w = ^w
			}
			if wi == b/64 {
				w &= ^uint64(0) << (b % 64)
			}
			if w != 0 {
				return base + wi*64 + int64(bits.TrailingZeros64(w))
			}
		}
		return -1
	}
	cs := childShift(lv)
	for k := (i - base) >> cs; k < fanOut; k++ {
		kb := base + k<<cs
		if r := next(nd.kids[k], lv-1, kb, max(i, kb), want); r >= 0 {
			return r
		}
	}
	return -1
}

// NextZero returns the first clear bit at or after i, or n.
func (h *HBitmap) NextZero(i int64) int64 {
	i = max(i, 0)
	if i >= h.n {
		return h.n
	}
	r := next(h.root, h.height, 0, i, false)
	if r < 0 || r > h.n {
		return h.n
	}
	return r
}

// Merge ORs src into h (hbitmap_merge); bits of a longer src beyond h's
// length are dropped.
func (h *HBitmap) Merge(src *HBitmap) {
	if src.n != h.n {
		// Different lengths: run by run over src, clipped to h.
		for i := src.Next(0); i >= 0; {
			j := src.NextZero(i)
			h.Set(i, j)
			i = src.Next(j)
		}
		return
	}
	h.root = merge(h.root, src.root, h.height)
	h.count = countOf(h.root, h.height)
}

func merge(a, b *hnode, lv int) *hnode {
	switch {
	case b == nil:
		return a
	case a == allSet || b == allSet:
		return allSet
	case a == nil:
		return clone(b)
	}
	a.n = 0
	if lv == 0 {
		for i := range a.w {
			a.w[i] |= b.w[i]
			a.n += int64(bits.OnesCount64(a.w[i]))
		}
	} else {
		for k := range a.kids {
			a.kids[k] = merge(a.kids[k], b.kids[k], lv-1)
			a.n += countOf(a.kids[k], lv-1)
		}
	}
	return canonical(a, lv)
}

func clone(nd *hnode) *hnode {
	if nd == nil || nd == allSet {
		return nd
	}
	c := &hnode{n: nd.n}
	if nd.w != nil {
		w := *nd.w
		c.w = &w
	} else {
		c.kids = new([fanOut]*hnode)
		for k, kid := range nd.kids {
			c.kids[k] = clone(kid)
		}
	}
	return c
}

// Copy returns an independent copy.
func (h *HBitmap) Copy() *HBitmap {
	c := *h
	c.root = clone(h.root)
	return &c
}

// Equal reports whether both bitmaps have the same length and bits.
func (h *HBitmap) Equal(o *HBitmap) bool {
	return h.n == o.n && h.count == o.count && equal(h.root, o.root)
}

func equal(a, b *hnode) bool {
	switch {
	case a == b:
		return true
	case a == nil || b == nil || a == allSet || b == allSet:
		return false // canonical subtrees: a marker equals only itself
	case a.w != nil:
		return b.w != nil && *a.w == *b.w
	}
	if b.kids == nil {
		return false
	}
	for k := range a.kids {
		if !equal(a.kids[k], b.kids[k]) {
			return false
		}
	}
	return true
}

// WriteWords writes the bitmap as QEMU's hbitmap stores its last level: one
// little-endian 64-bit word per 64 bits, at least one word
// (hbitmap_sha256 hashes exactly these bytes).
func (h *HBitmap) WriteWords(w hash.Hash) {
	nwords := max((h.n+63)/64, 1)
	writeWords(w, h.root, h.height, 0, nwords)
}

var zeroWords, oneWords [leafWords * 8]byte

func init() {
	for i := range oneWords {
		oneWords[i] = 0xff
	}
}

// writeWords writes the words of subtree nd (height lv, first word
// base) that lie below limit.
func writeWords(w hash.Hash, nd *hnode, lv int, base, limit int64) {
	words := min(span(lv)/64, limit-base)
	if words <= 0 {
		return
	}
	switch {
	case nd == nil || nd == allSet:
		fill := zeroWords[:]
		if nd == allSet {
			fill = oneWords[:]
		}
		for ; words > 0; words -= leafWords {
			w.Write(fill[:min(words, leafWords)*8])
		}
	case lv == 0:
		var buf [leafWords * 8]byte
		for k := int64(0); k < words; k++ {
			binary.LittleEndian.PutUint64(buf[k*8:], nd.w[k])
		}
		w.Write(buf[:words*8])
	default:
		per := span(lv-1) / 64
		for k := int64(0); k < fanOut && base+k*per < limit; k++ {
			writeWords(w, nd.kids[k], lv-1, base+k*per, limit)
		}
	}
}
