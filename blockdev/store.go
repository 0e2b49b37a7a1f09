package blockdev

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/jobfsm/jobfsm/internal/qerr"
)

// DefaultClusterSize is the allocation unit of images (qcow2's default).
const DefaultClusterSize = 64 << 10

// Store is the bytes behind a protocol node: a sparse image of fixed virtual
// size. Unallocated ranges read as zeros. Offsets are checked by the node
// layer; a Store may assume 0 <= off, off+len(p) <= Size().
type Store interface {
	Size() int64
	ClusterSize() int64
	ReadAt(p []byte, off int64) error
	WriteAt(p []byte, off int64) error
	// Allocated reports whether the cluster containing off holds data.
	Allocated(off int64) bool
	// Truncate changes the virtual size (growing adds unallocated space).
	Truncate(size int64) error
}

// MemStore is an in-memory sparse image: memory grows with the clusters
// written, not with the virtual size, so a terabyte image costs nothing until
// it is written.
type MemStore struct {
	size     int64
	cluster  int64
	clusters map[int64][]byte // cluster index -> cluster bytes
}

// NewMemStore returns an empty image of size bytes with the given cluster
// size (0 for DefaultClusterSize). The cluster size must be a power of two
// between 512 bytes and 2 MiB.
func NewMemStore(size, cluster int64) (*MemStore, error) {
	if cluster == 0 {
		cluster = DefaultClusterSize
	}
	if cluster < 512 || cluster > 2<<20 || cluster&(cluster-1) != 0 {
		return nil, fmt.Errorf("Cluster size must be a power of two between 512 and 2048k")
	}
	if size < 0 {
		return nil, fmt.Errorf("Image size must be a non-negative number")
	}
	return &MemStore{size: size, cluster: cluster, clusters: map[int64][]byte{}}, nil
}

func (s *MemStore) Size() int64        { return s.size }
func (s *MemStore) ClusterSize() int64 { return s.cluster }

func (s *MemStore) ReadAt(p []byte, off int64) error {
	for len(p) > 0 {
		ci, in := off/s.cluster, off%s.cluster
		n := min(int64(len(p)), s.cluster-in)
		if c := s.clusters[ci]; c != nil {
			copy(p[:n], c[in:in+n])
		} else {
			clear(p[:n])
		}
		p, off = p[n:], off+n
	}
	return nil
}

func (s *MemStore) WriteAt(p []byte, off int64) error {
	for len(p) > 0 {
		ci, in := off/s.cluster, off%s.cluster
		n := min(int64(len(p)), s.cluster-in)
		c := s.clusters[ci]
		if c == nil {
			c = make([]byte, s.cluster)
			s.clusters[ci] = c
		}
		copy(c[in:in+n], p[:n])
		p, off = p[n:], off+n
	}
	return nil
}

func (s *MemStore) Allocated(off int64) bool { return s.clusters[off/s.cluster] != nil }

func (s *MemStore) Truncate(size int64) error {
	if size < 0 {
		return fmt.Errorf("Image size must be a non-negative number")
	}
	if size < s.size {
		for ci, c := range s.clusters {
			start := ci * s.cluster
			switch {
			case start >= size:
				delete(s.clusters, ci)
			case start+s.cluster > size:
				clear(c[size-start:])
			}
		}
	}
	s.size = size
	return nil
}

// FileStore is a raw image file on disk, for running against the same files
// as real QEMU. Every cluster counts as allocated (a raw file has no
// allocation metadata the block layer would report as unallocated).
type FileStore struct {
	f    *os.File
	size int64
}

// openImage opens an image file for reading and writing, or only reading,
// never blocking (see OpenFileStore).
func openImage(path string, readOnly bool) (*os.File, error) {
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	return os.OpenFile(path, flag|syscall.O_NONBLOCK, 0)
}

// OpenFileStore is the file driver's raw_open: path opened read-write (or
// read-only), which must be a regular file, its length taken with
// lseek(SEEK_END) as raw_getlength does. Errors carry QEMU 7.2's texts
// (measured on qemu-storage-daemon): "Could not open '<path>': <errno>",
// "'file' driver requires '<path>' to be a regular file" (/dev/null, a
// FIFO, a directory opened read-only, a block device), and for a file
// whose length cannot be taken (/proc/self/mem) "Could not refresh total
// sector count: Invalid argument".
//
// The open never blocks: O_NONBLOCK keeps a FIFO without a writer from
// hanging the caller (QEMU's read-only open does hang there; see
// spec/deviations.md D20). It changes nothing for a regular file.
func OpenFileStore(path string, readOnly bool) (*FileStore, error) {
	f, err := openImage(path, readOnly)
	if err != nil {
		return nil, qerr.Generic("Could not open '%s': %s", path, errnoText(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, qerr.Generic("Could not open '%s': %s", path, errnoText(err))
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, qerr.Generic("'file' driver requires '%s' to be a regular file", path)
	}
	// The length is kept in sectors: a 100000-byte file is a 100352-byte
	// node whose tail reads as zeros, and a write there extends the file
	// (measured on 7.2: a backup onto a 100000-byte file leaves 100352).
	end, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = refreshTotalSectors(end)
	}
	if err != nil {
		f.Close()
		var qe *qerr.Error
		if errors.As(err, &qe) {
			return nil, qe
		}
		return nil, qerr.Generic("Could not refresh total sector count: %s", errnoText(err))
	}
	size, _ := refreshTotalSectors(end)
	return &FileStore{f: f, size: size}, nil
}

func (s *FileStore) Size() int64        { return s.size }
func (s *FileStore) ClusterSize() int64 { return DefaultClusterSize }

func (s *FileStore) ReadAt(p []byte, off int64) error {
	n, err := s.f.ReadAt(p, off)
	if err == io.EOF {
		clear(p[n:])
		err = nil
	}
	return err
}

func (s *FileStore) WriteAt(p []byte, off int64) error {
	_, err := s.f.WriteAt(p, off)
	return err
}

func (s *FileStore) Allocated(int64) bool { return true }

// Extent reports whether the bytes from off are data or a hole of the
// file, and how many bytes from off (at most max) are the same, with
// lseek's SEEK_DATA and SEEK_HOLE as file-posix does; a file system that
// cannot tell reports data.
func (s *FileStore) Extent(off, max int64) (data bool, n int64) {
	const seekData, seekHole = 3, 4
	d, err := s.f.Seek(off, seekData)
	switch {
	case err != nil && errors.Is(err, syscall.ENXIO):
		return false, max // nothing but a hole up to the end
	case err != nil:
		return true, max
	case d > off:
		return false, min(d-off, max)
	}
	h, err := s.f.Seek(off, seekHole)
	if err != nil || h <= off {
		return true, max
	}
	return true, min(h-off, max)
}

func (s *FileStore) Truncate(size int64) error {
	if err := s.f.Truncate(size); err != nil {
		return err
	}
	s.size = size
	return nil
}

// Close closes the file.
func (s *FileStore) Close() error { return s.f.Close() }
