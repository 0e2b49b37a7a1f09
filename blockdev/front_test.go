package blockdev

import "testing"

// filterJob stands for the backup job that holds its filter (as
// block_job_add_bdrv does), so removing one filter does not free the other.
type filterJob struct{ id string }

func (filterJob) DrainBegin()    {}
func (filterJob) DrainEnd()      {}
func (j filterJob) Desc() string { return "backup job '" + j.id + "'" }

// TestFrontTwoFilters: two copy-before-write filters over one node, as two
// backups of one source insert them. QEMU's bdrv_replace_node moves only
// the node's parents, so the second filter goes below the first (the
// guest's BlockBackend already sits on the first) and guest writes pass
// both. Whichever filter goes first, the guest ends at the node again.
// Found by the tracker's property test (TestRegressTwoBackupsOfOneSource).
func TestFrontTwoFilters(t *testing.T) {
	for _, firstOut := range []int{1, 2} {
		g := NewGraph()
		n := memNode(t, g, "src", 1<<20)
		f1, err := g.InsertFilter(DriverCBW, "", n)
		if err != nil {
			t.Fatal(err)
		}
		f2, err := g.InsertFilter(DriverCBW, "", n)
		if err != nil {
			t.Fatal(err)
		}
		j1, j2 := filterJob{"j1"}, filterJob{"j2"}
		g.AttachJob(j1, "main node", f1, "")
		g.AttachJob(j2, "main node", f2, "")
		if got := n.Front(); got != f1 {
			t.Fatalf("front after two filters = %s, want the first filter %s", got.Name(), f1.Name())
		}
		if got := f1.Filtered(); got != f2 {
			t.Fatalf("the first filter's child = %v, want the second filter %s", got, f2.Name())
		}
		a, b, ja, jb := f1, f2, j1, j2
		if firstOut == 2 {
			a, b, ja, jb = f2, f1, j2, j1
		}
		g.DetachJob(ja)
		g.RemoveFilter(a)
		if got := n.Front(); got != b {
			t.Fatalf("front after removing %s = %s, want %s", a.Name(), got.Name(), b.Name())
		}
		g.DetachJob(jb)
		g.RemoveFilter(b)
		if got := n.Front(); got != n {
			t.Fatalf("removing filter %d first: front after removing both = %s, want the node itself", firstOut, got.Name())
		}
	}
}
