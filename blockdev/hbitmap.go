package blockdev

import (
	"encoding/binary"
	"hash"
	"math/bits"
)

// HBitmap is a sparse two-level bitmap of n bits: pages of 4096 bits are
// allocated when first set and freed when cleared, and a summary bitmap with
// one bit per non-empty page makes finding the next set bit skip empty
// regions 4096 bits at a time (and 256 Ki bits per summary word). A 1 TiB
// image at 64 KiB granularity is 16 Mi bits: 4096 pages, a 32 KiB page table
// and a 512-byte summary when empty.
type HBitmap struct {
	n       int64
	pages   []*hpage
	summary []uint64 // bit p set iff pages[p] != nil (and non-empty)
	count   int64
}

const (
	pageWords = 64
	pageBits  = pageWords * 64
)

type hpage struct {
	w [pageWords]uint64
	n int // bits set in this page
}

// NewHBitmap returns an empty bitmap of n bits.
func NewHBitmap(n int64) *HBitmap {
	np := (n + pageBits - 1) / pageBits
	return &HBitmap{n: n, pages: make([]*hpage, np), summary: make([]uint64, (np+63)/64)}
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
	p := h.pages[i/pageBits]
	if p == nil {
		return false
	}
	b := i % pageBits
	return p.w[b/64]&(1<<(b%64)) != 0
}

// Set sets bits [start, end).
func (h *HBitmap) Set(start, end int64) { h.update(start, end, true) }

// Reset clears bits [start, end).
func (h *HBitmap) Reset(start, end int64) { h.update(start, end, false) }

func (h *HBitmap) update(start, end int64, set bool) {
	start, end = max(start, 0), min(end, h.n)
	for start < end {
		pi := start / pageBits
		pEnd := min(end, (pi+1)*pageBits)
		p := h.pages[pi]
		if p == nil {
			if !set {
				start = pEnd
				continue
			}
			p = &hpage{}
			h.pages[pi] = p
			h.summary[pi/64] |= 1 << (pi % 64)
		}
		for b := start; b < pEnd; {
			wi := (b % pageBits) / 64
			lo := b % 64
			hi := min(int64(64), lo+(pEnd-b))
			mask := ^uint64(0)
			if hi-lo < 64 {
				mask = ((uint64(1) << (hi - lo)) - 1) << lo
			}
			old := p.w[wi]
			if set {
				p.w[wi] |= mask
			} else {
				p.w[wi] &^= mask
			}
			d := bits.OnesCount64(p.w[wi]) - bits.OnesCount64(old)
			p.n += d
			h.count += int64(d)
			b += hi - lo
		}
		if p.n == 0 {
			h.pages[pi] = nil
			h.summary[pi/64] &^= 1 << (pi % 64)
		}
		start = pEnd
	}
}

// SetAll sets every bit.
func (h *HBitmap) SetAll() { h.Set(0, h.n) }

// Clear clears every bit.
func (h *HBitmap) Clear() {
	clear(h.pages)
	clear(h.summary)
	h.count = 0
}

// Next returns the first set bit at or after i, or -1.
func (h *HBitmap) Next(i int64) int64 {
	if i < 0 {
		i = 0
	}
	for i < h.n {
		pi := i / pageBits
		if p := h.pages[pi]; p != nil {
			b := i % pageBits
			for wi := b / 64; wi < pageWords; wi++ {
				w := p.w[wi]
				if wi == b/64 {
					w &= ^uint64(0) << (b % 64)
				}
				if w != 0 {
					r := pi*pageBits + wi*64 + int64(bits.TrailingZeros64(w))
					if r >= h.n {
						return -1
					}
					return r
				}
			}
			pi++
		} else {
			pi++
		}
		// Skip to the next non-empty page through the summary.
		si := pi / 64
		if si >= int64(len(h.summary)) {
			return -1
		}
		w := h.summary[si] & (^uint64(0) << (pi % 64))
		for w == 0 {
			si++
			if si >= int64(len(h.summary)) {
				return -1
			}
			w = h.summary[si]
		}
		i = (si*64 + int64(bits.TrailingZeros64(w))) * pageBits
	}
	return -1
}

// NextZero returns the first clear bit at or after i, or n.
func (h *HBitmap) NextZero(i int64) int64 {
	if i < 0 {
		i = 0
	}
	for i < h.n {
		pi := i / pageBits
		p := h.pages[pi]
		if p == nil {
			return i
		}
		b := i % pageBits
		for wi := b / 64; wi < pageWords; wi++ {
			w := ^p.w[wi]
			if wi == b/64 {
				w &= ^uint64(0) << (b % 64)
			}
			if w != 0 {
				return min(h.n, pi*pageBits+wi*64+int64(bits.TrailingZeros64(w)))
			}
		}
		i = (pi + 1) * pageBits
	}
	return h.n
}

// Merge ORs src into h (hbitmap_merge); both must have the same length.
func (h *HBitmap) Merge(src *HBitmap) {
	for pi, sp := range src.pages {
		if sp == nil {
			continue
		}
		p := h.pages[pi]
		if p == nil {
			cp := *sp
			h.pages[pi] = &cp
			h.summary[pi/64] |= 1 << (pi % 64)
			h.count += int64(sp.n)
			continue
		}
		n := 0
		for wi := range p.w {
			p.w[wi] |= sp.w[wi]
			n += bits.OnesCount64(p.w[wi])
		}
		h.count += int64(n - p.n)
		p.n = n
	}
}

// Copy returns an independent copy.
func (h *HBitmap) Copy() *HBitmap {
	c := NewHBitmap(h.n)
	c.Merge(h)
	return c
}

// Equal reports whether both bitmaps have the same length and bits.
func (h *HBitmap) Equal(o *HBitmap) bool {
	if h.n != o.n || h.count != o.count {
		return false
	}
	for pi, p := range h.pages {
		q := o.pages[pi]
		if (p == nil) != (q == nil) || p != nil && p.w != q.w {
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
	var zero [pageWords * 8]byte
	var buf [pageWords * 8]byte
	for wi := int64(0); wi < nwords; {
		pi := wi / pageWords
		chunk := min(int64(pageWords), nwords-wi)
		var p *hpage
		if pi < int64(len(h.pages)) {
			p = h.pages[pi]
		}
		if p == nil {
			w.Write(zero[:chunk*8])
		} else {
			for k := int64(0); k < chunk; k++ {
				binary.LittleEndian.PutUint64(buf[k*8:], p.w[k])
			}
			w.Write(buf[:chunk*8])
		}
		wi += chunk
	}
}
