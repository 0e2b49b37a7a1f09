package blockjob

import (
	"fmt"
	"slices"
	"testing"

	"github.com/jobfsm/jobfsm/blockdev"
	"github.com/jobfsm/jobfsm/internal/qerr"
)

func clusters(list ...int) []int { return list }

func span(a, b int) []int {
	var out []int
	for i := a; i < b; i++ {
		out = append(out, i)
	}
	return out
}

// TestBitmapTable is reference §6.2 cell by cell. The source has 64
// clusters of 64 KiB; B0 = {0, 1, 40} is dirty at start; the guest writes
// cluster 56 while the job runs (W = {56}); "failure" is an always-failing
// target write on cluster 40, "cancel" a job-cancel after the first task.
// Speed 1 MiB/s makes the job sleep between its 1 MiB tasks so the guest
// write lands mid-job. Expected sets are worked out from the table by hand:
// full copies [0,1M) before the write, then [1M,2M), then fails in [2M,3M);
// cluster 56 is copied by copy-before-write when the guest writes it.
func TestBitmapTable(t *testing.T) {
	B0 := clusters(0, 1, 40)
	W := clusters(56)
	union := clusters(0, 1, 40, 56)
	cases := []struct {
		sync, mode, outcome string
		want                []int
		err                 string
	}{
		{SyncFull, BitmapOnSuccess, "success", W, ""},
		{SyncFull, BitmapOnSuccess, "failure", union, ""},
		{SyncFull, BitmapOnSuccess, "cancel", union, ""},
		{SyncFull, BitmapAlways, "success", W, ""},
		{SyncFull, BitmapAlways, "failure", span(32, 64), ""},
		{SyncFull, BitmapAlways, "cancel", span(16, 64), ""},
		{SyncFull, BitmapNever, "success", nil, "Bitmap sync mode 'never' has no meaningful effect when combined with sync mode 'full'"},
		{SyncTop, BitmapOnSuccess, "success", W, ""},
		{SyncTop, BitmapOnSuccess, "failure", union, ""},
		{SyncTop, BitmapAlways, "failure", span(32, 64), ""},
		{SyncTop, BitmapAlways, "cancel", span(16, 64), ""},
		{SyncTop, BitmapNever, "success", nil, "Bitmap sync mode 'never' has no meaningful effect when combined with sync mode 'top'"},
		{SyncNone, BitmapOnSuccess, "success", nil, "sync mode 'none' does not produce meaningful bitmap outputs"},
		{SyncBitmap, BitmapOnSuccess, "success", W, ""},
		{SyncBitmap, BitmapOnSuccess, "failure", union, ""},
		{SyncBitmap, BitmapOnSuccess, "cancel", union, ""},
		{SyncBitmap, BitmapAlways, "success", W, ""},
		{SyncBitmap, BitmapAlways, "failure", clusters(40, 56), ""},
		{SyncBitmap, BitmapAlways, "cancel", clusters(40, 56), ""},
		{SyncBitmap, BitmapNever, "success", union, ""},
		{SyncBitmap, BitmapNever, "failure", union, ""},
		{SyncBitmap, BitmapNever, "cancel", union, ""},
		{SyncIncremental, "", "success", W, ""},
		{SyncIncremental, "", "failure", union, ""},
		{SyncIncremental, BitmapAlways, "success", nil, "Bitmap sync mode must be 'on-success' when using sync mode 'incremental'"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s", c.sync, c.mode, c.outcome), func(t *testing.T) {
			e := newEnv(t)
			e.mem("src", 4<<20)
			e.mem("tgt", 4<<20)
			if err := e.g.BitmapAdd(blockdev.BitmapAddArgs{Node: "src", Name: "bm"}); err != nil {
				t.Fatal(err)
			}
			for _, cl := range B0 {
				e.fill("src", int64(cl)<<16, 4096, 1)
			}
			if c.outcome == "failure" {
				e.g.InjectError("tgt", blockdev.InjectRule{Write: true, Start: 40 << 16, End: 41 << 16})
			}
			args := BackupArgs{Common: Common{JobID: str("j"), Speed: i64(1 << 20)}, Device: "src", Target: "tgt",
				Sync: c.sync, Bitmap: str("bm")}
			if c.mode != "" {
				args.BitmapMode = str(c.mode)
			}
			j, err := Backup(e.m, e.g, args)
			if c.err != "" {
				wantErr(t, err, qerr.GenericError, c.err)
				bm, _ := e.g.LookupBitmap("src", "bm")
				if bm.Busy() || bm.Count() != int64(len(B0))<<16 {
					t.Fatal("refused backup changed the bitmap")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, e.g.BitmapClear("src", "bm"), qerr.GenericError, "Bitmap 'bm' is currently in use by another operation and cannot be used")
			e.fill("src", 56<<16, 4096, 2)
			if c.outcome == "cancel" {
				e.m.Cancel(j, true)
			}
			e.settle()
			ret, _, _ := j.Result()
			if (ret == 0) != (c.outcome == "success") {
				t.Fatalf("outcome: ret %v", ret)
			}
			bm, err := e.g.LookupBitmap("src", "bm")
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := bm.Bits().Next(0); i >= 0; i = bm.Bits().Next(i + 1) {
				got = append(got, int(i))
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("bitmap %v, want %v", got, c.want)
			}
			if bm.Busy() || bm.Disabled() || bm.Successor() != nil {
				t.Fatal("flags not restored")
			}
			if infos := e.g.Node("src").BitmapInfos(); len(infos) != 1 {
				t.Fatalf("left-over bitmaps %+v", infos)
			}
			if c.outcome == "success" && c.sync == SyncFull && e.digest("tgt") == e.digest("src") {
				t.Fatal("target has the guest write made after the start")
			}
		})
	}
}
