package blockjob

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/errno"
	"github.com/jobfsm/jobfsm/internal/qerr"
	"github.com/jobfsm/jobfsm/sim"
)

// sliceNs is BLOCK_JOB_SLICE_TIME (ratelimit slice and mirror's idle sleep).
const sliceNs = 100_000_000

// retryNs paces a retry after an ignored I/O error. QEMU retries at once
// (a persistent error floods BLOCK_JOB_ERROR), but each retry costs real
// I/O time there; on the virtual clock an immediate retry would spin
// forever without time passing, so jobfsm waits one slice.
const retryNs = sliceNs

// rateLimit is QEMU's RateLimit (include/qemu/ratelimit.h) on the virtual
// clock: a request may go while the current slice's quota is not used up;
// beyond it the job waits in proportion to the excess.
type rateLimit struct {
	sliceStart, sliceEnd, dispatched int64
}

// delay accounts n bytes and returns how long to wait before the next
// request (ratelimit_calculate_delay); speed 0 is unlimited.
func (r *rateLimit) delay(now, speed, n int64) int64 {
	if speed <= 0 {
		return 0
	}
	quota := max(float64(speed)*sliceNs/1e9, 1)
	if r.sliceEnd < now {
		r.sliceStart, r.sliceEnd, r.dispatched = now, now+sliceNs, 0
	}
	r.dispatched += n
	if float64(r.dispatched) < quota {
		return 0
	}
	slices := float64(r.dispatched) / quota
	r.sliceEnd = r.sliceStart + int64(slices*sliceNs)
	return r.sliceEnd - now
}

// chainJob is what block/commit.c's and block/stream.c's jobs share: the
// chain they copy along (device down to base), the filter they insert, their
// error policy, the backing file name base gets, and the chunk loop.
type chainJob struct {
	u       user
	g       *blockdev.Graph
	device  *blockdev.Node
	base    *blockdev.Node
	filter  *blockdev.Node
	onError sim.OnError
	header  string
	chunkLoop
}

// removeFilter takes the job's filter out of the graph unless it is gone.
func (c *chainJob) removeFilter() {
	if c.filter != nil && !c.filter.Deleted() {
		c.g.RemoveFilter(c.filter)
	}
}

// rebase makes base the backing of parent, named header in its image; a
// failure fails the job with EIO.
func (c *chainJob) rebase(parent *blockdev.Node) error {
	if err := c.g.SetBacking(parent, c.base, c.header); err != nil {
		return &sim.JobError{Errno: errno.EIO, Msg: err.Error()}
	}
	return nil
}

// Free lets go of the job's nodes.
func (c *chainJob) Free(j *sim.Job) { c.g.DetachJob(&c.u) }

// chunkLoop is the loop commit_run and stream_run share: a cursor over the
// job's length in COMMIT_BUFFER_SIZE chunks and the rate limit's sleep owed
// after a chunk that was copied (not after one skipped as unallocated).
type chunkLoop struct {
	started        bool
	offset, length int64
	delay          int64
	rl             rateLimit
}

// start sets the length to walk and the job's progress total (once, at the
// job's first run).
func (c *chunkLoop) start(j *sim.Job, length int64) {
	c.started = true
	c.length = length
	j.SetProgressTotal(length)
}

// owed returns the rate limit's sleep owed by the last chunk, once.
func (c *chunkLoop) owed() (sim.Step, bool) {
	if c.delay <= 0 {
		return sim.Step{}, false
	}
	dl := c.delay
	c.delay = 0
	return sim.Sleep(dl), true
}

// done reports whether the loop ends: cancelled, or the length walked.
func (c *chunkLoop) done(j *sim.Job) bool { return j.IsCancelled() || c.offset >= c.length }

// chunk returns the length of the next chunk at most.
func (c *chunkLoop) chunk() int64 { return min(commitBufferSize, c.length-c.offset) }

// advance moves past n bytes (copied or not) and returns the next step: the
// copy's latency lat, if any, before the next chunk.
func (c *chunkLoop) advance(j *sim.Job, n int64, copied bool, lat int64) sim.Step {
	c.offset += n
	j.AddProgress(n)
	if copied {
		c.delay = c.rl.delay(j.Now(), j.Speed(), n)
	}
	if lat > 0 {
		return sim.Sleep(lat)
	}
	return sim.Continue()
}

// user adapts a job to blockdev.JobUser: drained sections pause it.
type user struct {
	m *sim.Manager
	j *sim.Job
	t sim.JobType
}

func (u *user) DrainBegin() {
	if u.j != nil {
		u.m.DrainBegin(u.j)
	}
}

func (u *user) DrainEnd() {
	if u.j != nil && u.j.PauseCount() > 0 {
		u.m.DrainEnd(u.j)
	}
}

func (u *user) Desc() string {
	id := ""
	if u.j != nil {
		id = u.j.ID()
	}
	return fmt.Sprintf("%s job '%s'", u.t, id)
}

func blockerText(t sim.JobType) string { return "block device is in use by block job: " + string(t) }

// Common are the arguments every job-creating command shares.
type Common struct {
	JobID        *string `json:"job-id,omitempty"`
	Speed        *int64  `json:"speed,omitempty"`
	AutoFinalize *bool   `json:"auto-finalize,omitempty"`
	AutoDismiss  *bool   `json:"auto-dismiss,omitempty"`
}

func (c Common) spec(defaultID string, d sim.Driver, txn *sim.Txn) sim.JobSpec {
	id := defaultID
	if c.JobID != nil {
		id = *c.JobID
	}
	s := sim.JobSpec{ID: id, Driver: d, Txn: txn}
	if c.Speed != nil {
		s.Speed = *c.Speed
	}
	s.ManualFinalize = c.AutoFinalize != nil && !*c.AutoFinalize
	s.ManualDismiss = c.AutoDismiss != nil && !*c.AutoDismiss
	return s
}

func parsePolicy(arg, v string) (sim.OnError, error) {
	if v == "" {
		return sim.OnErrorReport, nil
	}
	p, ok := sim.ParseOnError(v)
	if !ok {
		return "", qerr.Generic("Parameter '%s' does not accept value '%s'", arg, v)
	}
	return p, nil
}

// ioErrno extracts the errno of a block-layer error.
func ioErrno(err error) errno.Errno {
	var e *blockdev.IOError
	if errors.As(err, &e) {
		return e.Errno
	}
	return errno.EIO
}

// copyRange reads [off, off+n) from src and writes it to dst, returning the
// latency, and whether a failure was on the read side. The bytes pass
// through a buffer lent for this one request (see copyBuffers).
func copyRange(src, dst *blockdev.Node, off, n int64) (lat int64, isRead bool, err error) {
	buf := lendBuffer(n)
	defer returnBuffer(buf)
	l, err := src.Read(off, buf)
	if err != nil {
		return l, true, err
	}
	l2, err := dst.Write(off, buf)
	return l + l2, false, err
}

// writeZeroes writes n zero bytes at off (COPY_WRITE_ZEROES), with a
// buffer lent for the request only.
func writeZeroes(dst *blockdev.Node, off, n int64) (lat int64, err error) {
	buf := lendBuffer(n)
	defer returnBuffer(buf)
	clear(buf)
	return dst.Write(off, buf)
}

// copyBuffers are the copy buffers every job shares, one pool per power of
// two from 4 KiB to 64 MiB. A request borrows one for as long as its read
// and write take (they are synchronous on the simulator's goroutine), so
// the memory follows the requests in flight, not the number of jobs: a
// thousand paused or speed-limited backups hold no buffer at all, where a
// private 1 MiB buffer per job cost about 1 MB each (issue 16).
var copyBuffers [maxBufferShift - minBufferShift + 1]sync.Pool

const (
	minBufferShift = 12
	maxBufferShift = 26
)

// lendBuffer returns a buffer of exactly n bytes; requests beyond the
// largest class get a buffer of their own.
func lendBuffer(n int64) []byte {
	shift := max(bits.Len64(uint64(max(n, 1)-1)), minBufferShift)
	if shift > maxBufferShift {
		return make([]byte, n)
	}
	if p, ok := copyBuffers[shift-minBufferShift].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<shift)
}

// returnBuffer gives a lent buffer back to its pool.
func returnBuffer(b []byte) {
	c := cap(b)
	shift := bits.Len64(uint64(c) - 1)
	if c&(c-1) != 0 || shift < minBufferShift || shift > maxBufferShift {
		return
	}
	b = b[:c]
	copyBuffers[shift-minBufferShift].Put(&b)
}

// Sync modes (MirrorSyncMode).
const (
	SyncTop         = "top"
	SyncFull        = "full"
	SyncNone        = "none"
	SyncIncremental = "incremental"
	SyncBitmap      = "bitmap"
)

// Bitmap sync modes (BitmapSyncMode).
const (
	BitmapOnSuccess = "on-success"
	BitmapNever     = "never"
	BitmapAlways    = "always"
)

func checkSync(v string) error {
	switch v {
	case SyncTop, SyncFull, SyncNone, SyncIncremental, SyncBitmap:
		return nil
	case "":
		return qerr.Generic("Parameter 'sync' is missing")
	}
	return qerr.Generic("Parameter 'sync' does not accept value '%s'", v)
}
