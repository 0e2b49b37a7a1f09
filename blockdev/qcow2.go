package blockdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Qcow2Store reads and writes a qcow2 image file in place (versions 2 and
// 3, 16-bit refcounts, no encryption, compression, internal snapshots,
// external data files or extended L2 entries), so jobfsm can run on the
// same image files as QEMU and leave files qemu-img reads back. Clusters
// are allocated at the end of the file with their L2 tables and refcounts;
// a cluster shared with a snapshot is never overwritten in place.
type Qcow2Store struct {
	f            *os.File
	clusterBits  uint
	cs           int64
	size         int64
	l1           []uint64
	l1Off        int64
	rtOff        int64
	rtEntries    int64
	end          int64 // next free cluster-aligned file offset
	backingOff   int64 // where the backing file name lives in the header
	headerEnd    int64 // end of header and extensions (room for a backing name)
	hdrBackingAt int64 // offset of backing_file_offset/size fields
}

const (
	qcowMagic    = 0x514649fb
	l2OffsetMask = 0x00fffffffffffe00
	qcowCopied   = uint64(1) << 63
	qcowCompr    = uint64(1) << 62
	qcowZero     = uint64(1)
)

// IsQcow2 reports whether the file starts with the qcow2 magic.
func IsQcow2(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return false
	}
	return binary.BigEndian.Uint32(b[:]) == qcowMagic
}

// OpenQcow2 opens a qcow2 image for reading and writing, or only reading.
func OpenQcow2(path string, readOnly bool) (*Qcow2Store, error) {
	f, err := openImage(path, readOnly)
	if err != nil {
		return nil, err
	}
	s, err := openQcow2(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func openQcow2(f *os.File) (*Qcow2Store, error) {
	h := make([]byte, 112)
	if _, err := f.ReadAt(h[:72], 0); err != nil {
		return nil, errors.New("Image is not in qcow2 format")
	}
	be := binary.BigEndian
	if be.Uint32(h) != qcowMagic {
		return nil, errors.New("Image is not in qcow2 format")
	}
	version := be.Uint32(h[4:])
	if version != 2 && version != 3 {
		return nil, fmt.Errorf("Unsupported qcow2 version %d", version)
	}
	s := &Qcow2Store{f: f, hdrBackingAt: 8}
	s.backingOff = int64(be.Uint64(h[8:]))
	s.clusterBits = uint(be.Uint32(h[20:]))
	if s.clusterBits < 9 || s.clusterBits > 21 {
		return nil, fmt.Errorf("Unsupported cluster size: 2^%d", s.clusterBits)
	}
	s.cs = 1 << s.clusterBits
	s.size = int64(be.Uint64(h[24:]))
	if be.Uint32(h[32:]) != 0 {
		return nil, errors.New("qcow2: encrypted images are not supported")
	}
	l1Size := int64(be.Uint32(h[36:]))
	s.l1Off = int64(be.Uint64(h[40:]))
	if err := s.checkL1(l1Size); err != nil {
		return nil, err
	}
	s.rtOff = int64(be.Uint64(h[48:]))
	s.rtEntries = int64(be.Uint32(h[56:])) * s.cs / 8
	if be.Uint32(h[60:]) != 0 {
		return nil, errors.New("qcow2: internal snapshots are not supported")
	}
	s.headerEnd = 72
	if version == 3 {
		if _, err := f.ReadAt(h[72:104], 72); err != nil {
			return nil, err
		}
		if inc := be.Uint64(h[72:]); inc&^1 != 0 { // only the dirty bit is tolerated
			return nil, fmt.Errorf("Unsupported qcow2 feature(s): incompatible 0x%x", inc)
		}
		if be.Uint32(h[96:]) != 4 {
			return nil, errors.New("qcow2: only 16-bit refcounts are supported")
		}
		s.headerEnd = int64(be.Uint32(h[100:]))
	}
	// Header extensions end with a zero type; the backing name may follow.
	for off := s.headerEnd; off+8 <= s.cs; {
		var e [8]byte
		if _, err := f.ReadAt(e[:], off); err != nil {
			return nil, err
		}
		typ, n := be.Uint32(e[:]), int64(be.Uint32(e[4:]))
		off += 8
		if typ == 0 {
			s.headerEnd = off
			break
		}
		off += (n + 7) &^ 7
	}
	s.l1 = make([]uint64, l1Size)
	if l1Size > 0 {
		// Past the end of the file the table reads as zeros, as
		// file-posix reads there.
		b := make([]byte, l1Size*8)
		if _, err := f.ReadAt(b, s.l1Off); err != nil && err != io.EOF {
			return nil, err
		}
		for i := range s.l1 {
			s.l1[i] = be.Uint64(b[i*8:])
		}
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	s.end = (st.Size() + s.cs - 1) &^ (s.cs - 1)
	return s, nil
}

// Limits of qcow2_do_open: the active L1 table is at most
// QCOW_MAX_L1_SIZE (32 MiB) and its index of the last byte fits an int.
const (
	maxL1Bytes = 32 << 20
	maxL1Index = 1<<31 - 1
)

// checkL1 is qcow2_do_open's checks of the L1 table against the header's
// size, in QEMU's order and with its texts (each measured on 7.2 with a
// patched header): an L1 table over 32 MiB, a size whose L1 index exceeds
// INT_MAX (2^63 bytes, or 2^63-2^30), an L1 table too short for the size.
// They come before anything is allocated, so a hostile header costs at
// most the 32 MiB table QEMU would also read.
func (s *Qcow2Store) checkL1(l1Size int64) error {
	if l1Size > maxL1Bytes/8 {
		return errors.New("Active L1 table too large")
	}
	shift := s.clusterBits + s.clusterBits - 3 // bytes one L1 entry maps
	// size_to_l1 on the unsigned header size, without overflowing.
	u := uint64(s.size)
	need := u >> shift
	if u&(1<<shift-1) != 0 {
		need++
	}
	if need > maxL1Index {
		return errors.New("Image is too big")
	}
	if uint64(l1Size) < need {
		return errors.New("L1 table is too small")
	}
	return nil
}

func (s *Qcow2Store) Size() int64        { return s.size }
func (s *Qcow2Store) ClusterSize() int64 { return s.cs }

// Close closes the image file.
func (s *Qcow2Store) Close() error { return s.f.Close() }

func (s *Qcow2Store) l2Entries() int64 { return s.cs / 8 }

// entry returns the L2 entry of the cluster holding off and where it lives
// (0 when there is no L2 table).
func (s *Qcow2Store) entry(off int64) (uint64, int64, error) {
	ci := off >> s.clusterBits
	l1i := ci / s.l2Entries()
	if l1i >= int64(len(s.l1)) {
		return 0, 0, nil
	}
	l2 := int64(s.l1[l1i] & l2OffsetMask)
	if l2 == 0 {
		return 0, 0, nil
	}
	at := l2 + (ci%s.l2Entries())*8
	var b [8]byte
	if _, err := s.f.ReadAt(b[:], at); err != nil {
		return 0, 0, err
	}
	return binary.BigEndian.Uint64(b[:]), at, nil
}

// unmappedUntil returns the end of the L2 span holding off when its L1
// entry is empty (no cluster there is allocated), else off.
func (s *Qcow2Store) unmappedUntil(off int64) int64 {
	spanBits := 2*s.clusterBits - 3 // bytes one L1 entry maps
	l1i := off >> spanBits
	if l1i >= int64(len(s.l1)) {
		return math.MaxInt64
	}
	if s.l1[l1i]&l2OffsetMask != 0 {
		return off
	}
	return (l1i + 1) << spanBits
}

func (s *Qcow2Store) Allocated(off int64) bool {
	e, _, err := s.entry(off)
	return err == nil && (e&l2OffsetMask != 0 || e&qcowZero != 0)
}

func (s *Qcow2Store) ReadAt(p []byte, off int64) error {
	for len(p) > 0 {
		in := off & (s.cs - 1)
		k := min(int64(len(p)), s.cs-in)
		e, _, err := s.entry(off)
		if err != nil {
			return err
		}
		switch {
		case e&qcowCompr != 0:
			return errors.New("qcow2: compressed clusters are not supported")
		case e&l2OffsetMask != 0 && e&qcowZero == 0:
			if _, err := s.f.ReadAt(p[:k], int64(e&l2OffsetMask)+in); err != nil {
				return err
			}
		default:
			clear(p[:k])
		}
		p, off = p[k:], off+k
	}
	return nil
}

// alloc takes a new zeroed cluster at the end of the file with refcount 1.
func (s *Qcow2Store) alloc() (int64, error) {
	at := s.end
	s.end += s.cs
	if err := s.f.Truncate(s.end); err != nil {
		return 0, err
	}
	if err := s.setRefcount(at); err != nil {
		return 0, err
	}
	return at, nil
}

func (s *Qcow2Store) setRefcount(at int64) error {
	be := binary.BigEndian
	ci := at >> s.clusterBits
	per := s.cs / 2
	bi := ci / per
	if bi >= s.rtEntries {
		return errors.New("qcow2: refcount table full")
	}
	var b [8]byte
	if _, err := s.f.ReadAt(b[:], s.rtOff+bi*8); err != nil {
		return err
	}
	blk := int64(be.Uint64(b[:]) & l2OffsetMask)
	if blk == 0 {
		// A new refcount block, placed after the cluster being counted;
		// it counts itself if it covers its own offset.
		blk = s.end
		s.end += s.cs
		if err := s.f.Truncate(s.end); err != nil {
			return err
		}
		be.PutUint64(b[:], uint64(blk))
		if _, err := s.f.WriteAt(b[:], s.rtOff+bi*8); err != nil {
			return err
		}
		if err := s.setRefcount(blk); err != nil {
			return err
		}
	}
	var r [2]byte
	be.PutUint16(r[:], 1)
	_, err := s.f.WriteAt(r[:], blk+(ci%per)*2)
	return err
}

func (s *Qcow2Store) WriteAt(p []byte, off int64) error {
	be := binary.BigEndian
	for len(p) > 0 {
		in := off & (s.cs - 1)
		k := min(int64(len(p)), s.cs-in)
		e, at, err := s.entry(off)
		if err != nil {
			return err
		}
		data := int64(e & l2OffsetMask)
		if data == 0 || e&qcowCopied == 0 || e&qcowZero != 0 || e&qcowCompr != 0 {
			// Allocate: copy what the cluster read as, then point at it.
			old := make([]byte, s.cs)
			if e&qcowCompr == 0 && e&qcowZero == 0 && data != 0 {
				if _, err := s.f.ReadAt(old, data); err != nil {
					return err
				}
			}
			if data, err = s.alloc(); err != nil {
				return err
			}
			if _, err := s.f.WriteAt(old, data); err != nil {
				return err
			}
			if at == 0 {
				if at, err = s.newL2(off); err != nil {
					return err
				}
			}
			var b [8]byte
			be.PutUint64(b[:], uint64(data)|qcowCopied)
			if _, err := s.f.WriteAt(b[:], at); err != nil {
				return err
			}
		}
		if _, err := s.f.WriteAt(p[:k], data+in); err != nil {
			return err
		}
		p, off = p[k:], off+k
	}
	return nil
}

// newL2 allocates the L2 table for off and returns where its entry lives.
func (s *Qcow2Store) newL2(off int64) (int64, error) {
	ci := off >> s.clusterBits
	l1i := ci / s.l2Entries()
	if l1i >= int64(len(s.l1)) {
		return 0, errors.New("qcow2: L1 table too small")
	}
	l2, err := s.alloc()
	if err != nil {
		return 0, err
	}
	s.l1[l1i] = uint64(l2) | qcowCopied
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], s.l1[l1i])
	if _, err := s.f.WriteAt(b[:], s.l1Off+l1i*8); err != nil {
		return 0, err
	}
	return l2 + (ci%s.l2Entries())*8, nil
}

// Truncate grows the virtual size while the L1 table covers it.
func (s *Qcow2Store) Truncate(size int64) error {
	if size < s.size {
		return errors.New("qcow2: shrinking is not supported")
	}
	if (size+s.cs-1)>>s.clusterBits > int64(len(s.l1))*s.l2Entries() {
		return errors.New("qcow2: growing the L1 table is not supported")
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(size))
	if _, err := s.f.WriteAt(b[:], 24); err != nil {
		return err
	}
	s.size = size
	return nil
}

// SetBackingFile rewrites the header's backing file name ("" for none), as
// commit and stream do when they change an overlay's backing.
func (s *Qcow2Store) SetBackingFile(name string) error {
	be := binary.BigEndian
	var f [12]byte
	if name != "" {
		at := s.backingOff
		if at == 0 {
			at = s.headerEnd
		}
		if at+int64(len(name)) > s.cs {
			return errors.New("qcow2: backing file name does not fit in the header")
		}
		if _, err := s.f.WriteAt([]byte(name), at); err != nil {
			return err
		}
		s.backingOff = at
		be.PutUint64(f[:], uint64(at))
		be.PutUint32(f[8:], uint32(len(name)))
	}
	_, err := s.f.WriteAt(f[:], s.hdrBackingAt)
	return err
}

// BackingFile reads the backing file name from the header.
func (s *Qcow2Store) BackingFile() string {
	var f [12]byte
	if _, err := s.f.ReadAt(f[:], s.hdrBackingAt); err != nil {
		return ""
	}
	off, n := int64(binary.BigEndian.Uint64(f[:])), int64(binary.BigEndian.Uint32(f[8:]))
	if off == 0 || n == 0 || n > 1023 {
		return ""
	}
	b := make([]byte, n)
	if _, err := s.f.ReadAt(b, off); err != nil {
		return ""
	}
	return string(b)
}
