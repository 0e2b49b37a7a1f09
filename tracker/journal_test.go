package tracker

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestJournalRefusesNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := OpenJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.write([]JobRecord{{ID: "b1", Phase: PhaseDecided, Verdict: Succeeded}}, nil); err != nil {
		t.Fatal(err)
	}
	j.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("2")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)
	_, err = OpenJournal(path)
	var je *JournalError
	if !errors.As(err, &je) || !strings.Contains(err.Error(), "format 2 is newer than this tracker's 1") {
		t.Fatalf("OpenJournal of a newer format: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused journal was changed")
	}
}

func TestJournalRefusesOtherFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"text":  bytes.Repeat([]byte("not a journal\n"), 1000),
		"short": []byte("x"),
	}
	// a bbolt file of someone else's: valid bbolt, no tracker meta
	other := filepath.Join(dir, "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	db.Close()
	b, _ := os.ReadFile(other)
	cases["other-bbolt"] = b
	for name, content := range cases {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenJournal(path)
		var je *JournalError
		if !errors.As(err, &je) || !strings.Contains(err.Error(), "not a tracker journal") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: OpenJournal = %v, want a one-line 'not a tracker journal'", name, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, content) {
			t.Errorf("%s: the file was changed", name)
		}
	}
}
