package blockjob

import (
	"fmt"
	"runtime"
	"testing"
)

const gib = 1 << 30

func benchSource(b *testing.B) *env {
	e2 := newEnv(b)
	e2.mem("src", gib)
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for off := int64(0); off < gib; off += int64(len(buf)) {
		if _, err := e2.g.Write("src", off, buf); err != nil {
			b.Fatal(err)
		}
	}
	return e2
}

// BenchmarkBackupFull1GiB: a full backup of a 1 GiB in-memory image with
// every cluster written, through the job, from creation to concluded.
func BenchmarkBackupFull1GiB(b *testing.B) {
	e := benchSource(b)
	b.SetBytes(gib)
	i := 0
	for b.Loop() {
		i++
		tgt := fmt.Sprintf("t%d", i)
		e.mem(tgt, gib)
		j, err := Backup(e.m, e.g, BackupArgs{Common: Common{JobID: str("j")}, Device: "src", Target: tgt, Sync: SyncFull})
		if err != nil {
			b.Fatal(err)
		}
		e.settle()
		if !j.Finalized() {
			b.Fatal("backup did not finish")
		}
		b.StopTimer()
		if err := e.g.DelNode(tgt); err != nil {
			b.Fatal(err)
		}
		runtime.GC() // the dropped 1 GiB target is not billed to the next round
		b.StartTimer()
	}
}

// BenchmarkCopy1GiB: the same bytes copied node to node in 1 MiB requests
// without a job, the baseline for the backup's throughput.
func BenchmarkCopy1GiB(b *testing.B) {
	e := benchSource(b)
	src := e.g.Node("src")
	buf := make([]byte, 1<<20)
	b.SetBytes(gib)
	i := 0
	for b.Loop() {
		i++
		tgt := e.mem(fmt.Sprintf("t%d", i), gib)
		for off := int64(0); off < gib; off += int64(len(buf)) {
			if _, err := src.Read(off, buf); err != nil {
				b.Fatal(err)
			}
			if _, err := tgt.Write(off, buf); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := e.g.DelNode(tgt.Name()); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		b.StartTimer()
	}
}
