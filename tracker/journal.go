package tracker

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FormatVersion is the journal format this code writes. A journal with a
// higher version is refused (an older tracker must not misread it).
const FormatVersion = 1

var (
	bucketMeta    = []byte("meta")
	bucketJobs    = []byte("jobs")
	bucketBitmaps = []byte("bitmaps")
	keyFormat     = []byte("format")
	keyID         = []byte("journal-id")
	keySeq        = []byte("seq")
)

// Phase is how far the tracker got with a job, as journaled.
type Phase string

const (
	// PhaseIntent: journaled, the command may or may not have reached QEMU.
	PhaseIntent Phase = "intent"
	// PhaseStarted: QEMU accepted the command.
	PhaseStarted Phase = "started"
	// PhaseRefused: QEMU refused the command; Error holds its text.
	PhaseRefused Phase = "refused"
	// PhaseDecided: the verdict is final and durable.
	PhaseDecided Phase = "decided"
)

// JobRecord is what the journal holds about one tracked job.
type JobRecord struct {
	Seq        uint64 `json:"seq"`
	ID         string `json:"id"`
	Group      string `json:"group,omitempty"`
	Device     string `json:"device"`
	Target     string `json:"target"`
	Sync       string `json:"sync"`
	Bitmap     string `json:"bitmap,omitempty"`
	BitmapMode string `json:"bitmap-mode,omitempty"`
	Speed      int64  `json:"speed,omitempty"`
	Phase      Phase  `json:"phase"`
	Verdict    string `json:"verdict,omitempty"`
	Error      string `json:"error,omitempty"`
	// Gone: after the verdict, the job was dismissed or seen absent. Its
	// id may then be reused by another client, whose job the tracker must
	// not touch.
	Gone bool `json:"gone,omitempty"`
}

// BitmapRecord is the tracker's proof state of one (node, bitmap).
type BitmapRecord struct {
	Node string `json:"node"`
	Name string `json:"name"`
	// OK: an incremental backup from the bitmap now, on top of Chain,
	// reproduces the disk.
	OK     bool     `json:"ok"`
	Reason string   `json:"reason"`
	Chain  []string `json:"chain,omitempty"`
	// Owner is the tracked job that holds the bitmap (busy) until decided.
	Owner string `json:"owner,omitempty"`
	// What QEMU showed at the last observation: a count that falls, a
	// changed granularity or persistence, or a stop of recording cannot be
	// explained by guest writes, so the bitmap is no longer provably ours.
	Seen        bool  `json:"seen"`
	Count       int64 `json:"count"`
	Granularity int64 `json:"granularity"`
	Persistent  bool  `json:"persistent"`
	Recording   bool  `json:"recording"`
}

// Key is the bitmap's name in status output: NODE/NAME.
func (b *BitmapRecord) Key() string { return b.Node + "/" + b.Name }

// Journal is the tracker's durable store (bbolt): every write is one
// committed, fsynced transaction, so a tracker killed at any instant finds
// either the state before a write or after it.
type Journal struct {
	db   *bolt.DB
	path string
	id   string
}

// OpenJournal opens or creates the journal at path. A file that is not a
// journal, or one from a newer format, is refused and left untouched.
func OpenJournal(path string) (*Journal, error) {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return nil, &JournalError{Path: path, Reason: "is a directory"}
	case err == nil && st.Size() > 0:
		// validate read-only first: a refused file is never written
		if err := validate(path); err != nil {
			return nil, err
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, &JournalError{Path: path, Reason: err.Error()}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, &JournalError{Path: path, Reason: boltReason(err)}
	}
	j := &Journal{db: db, path: path}
	// an existing journal is only read here: opening one changes nothing
	_ = db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil && tx.Bucket(bucketJobs) != nil && tx.Bucket(bucketBitmaps) != nil {
			j.id = string(meta.Get(keyID))
		}
		return nil
	})
	if j.id != "" {
		return j, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if meta.Get(keyFormat) == nil {
			var b [4]byte
			_, _ = rand.Read(b[:])
			meta.Put(keyFormat, []byte(strconv.Itoa(FormatVersion)))
			meta.Put(keyID, []byte(hex.EncodeToString(b[:])))
		}
		if _, err := tx.CreateBucketIfNotExists(bucketJobs); err != nil {
			return err
		}
		_, err = tx.CreateBucketIfNotExists(bucketBitmaps)
		j.id = string(meta.Get(keyID))
		return err
	})
	if err != nil {
		db.Close()
		return nil, &JournalError{Path: path, Reason: err.Error()}
	}
	return j, nil
}

func boltReason(err error) string {
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return "in use by another tracker"
	case errors.Is(err, bolt.ErrInvalid), errors.Is(err, bolt.ErrChecksum), errors.Is(err, bolt.ErrVersionMismatch):
		return "not a tracker journal"
	}
	return err.Error()
}

func validate(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return &JournalError{Path: path, Reason: boltReason(err)}
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || meta.Get(keyFormat) == nil {
			return &JournalError{Path: path, Reason: "not a tracker journal"}
		}
		v, err := strconv.Atoi(string(meta.Get(keyFormat)))
		if err != nil {
			return &JournalError{Path: path, Reason: "not a tracker journal (bad format version)"}
		}
		if v > FormatVersion {
			return &JournalError{Path: path, Reason: fmt.Sprintf("format %d is newer than this tracker's %d", v, FormatVersion)}
		}
		return nil
	})
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.db.Close() }

// ID is the journal's random identity (it names the tracker's marker
// bitmaps, so two trackers on one QEMU never share one).
func (j *Journal) ID() string { return j.id }

// Job returns the record of a tracked job.
func (j *Journal) Job(id string) (JobRecord, bool) {
	var r JobRecord
	var ok bool
	_ = j.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketJobs).Get([]byte(id)); v != nil {
			ok = json.Unmarshal(v, &r) == nil
		}
		return nil
	})
	return r, ok
}

// Jobs returns every tracked job in the order it was journaled.
func (j *Journal) Jobs() []JobRecord {
	out := readAll[JobRecord](j, bucketJobs)
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out
}

// Bitmaps returns every tracked bitmap, by key.
func (j *Journal) Bitmaps() []BitmapRecord { return readAll[BitmapRecord](j, bucketBitmaps) }

// readAll decodes every record of a bucket, in key order; one that does not
// decode is passed over.
func readAll[R any](j *Journal, bucket []byte) []R {
	var out []R
	_ = j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var r R
			if json.Unmarshal(v, &r) == nil {
				out = append(out, r)
			}
			return nil
		})
	})
	return out
}

// write is one durable transaction putting jobs and bitmaps together, so a
// verdict and the bitmap state it implies are never apart.
func (j *Journal) write(jobs []JobRecord, bitmaps []BitmapRecord) error {
	if len(jobs) == 0 && len(bitmaps) == 0 {
		return nil
	}
	return j.db.Update(func(tx *bolt.Tx) error {
		jb, bb, meta := tx.Bucket(bucketJobs), tx.Bucket(bucketBitmaps), tx.Bucket(bucketMeta)
		seq0, _ := strconv.ParseUint(string(meta.Get(keySeq)), 10, 64)
		seq := seq0
		for _, r := range jobs {
			if r.Seq == 0 {
				seq++
				r.Seq = seq
			}
			v, _ := json.Marshal(r)
			if old := jb.Get([]byte(r.ID)); bytes.Equal(old, v) {
				continue
			}
			if err := jb.Put([]byte(r.ID), v); err != nil {
				return err
			}
		}
		if seq != seq0 {
			if err := meta.Put(keySeq, []byte(strconv.FormatUint(seq, 10))); err != nil {
				return err
			}
		}
		for _, r := range bitmaps {
			v, _ := json.Marshal(r)
			if old := bb.Get([]byte(r.Key())); bytes.Equal(old, v) {
				continue
			}
			if err := bb.Put([]byte(r.Key()), v); err != nil {
				return err
			}
		}
		return nil
	})
}
