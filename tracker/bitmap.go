package tracker

import (
	"encoding/json"
	"fmt"
)

// decideBitmap is the bitmap's state after tracked job r got its verdict,
// following QEMU's backup_cleanup_sync_bitmap (reference §6.2): with
// B0 the bitmap at job start and W the writes during the job,
//
//	success, mode on-success or always  → W: reset onto r's target
//	failure, mode always                → W ∪ uncopied: r's target joins the chain
//	failure, mode on-success; any never → B0 ∪ W: the chain is unchanged
//
// The result is ok only if the state before was provable (or r was a full
// backup, which needs no base), QEMU still shows the bitmap recording and
// not held by anyone, and the tracker's marker proves no restart.
func (t *Tracker) decideBitmap(prev BitmapRecord, r JobRecord, nodes map[string]*nodeInfo) BitmapRecord {
	b := prev
	b.Node, b.Name, b.Owner = r.Device, r.Bitmap, ""
	needs := func(reason string) BitmapRecord {
		b.OK, b.Chain, b.Reason = false, nil, reason
		return b
	}
	if r.Verdict == Unknown {
		return needs(fmt.Sprintf("the outcome of backup %s is unknown", r.ID))
	}
	n := nodes[r.Device]
	if n == nil {
		return needs(fmt.Sprintf("node %s is gone", r.Device))
	}
	if !n.hasMarker(t.marker()) {
		return needs("QEMU restarted (the tracker's marker bitmap is gone): the bitmap cannot be proven")
	}
	info := n.bitmap(r.Bitmap)
	if info == nil {
		return needs(fmt.Sprintf("bitmap is gone after backup %s", r.ID))
	}
	b.Seen, b.Count, b.Granularity, b.Persistent, b.Recording = true, info.Count, info.Granularity, info.Persistent, info.Recording
	if reason := unusable(info); reason != "" {
		return needs(reason)
	}
	succeeded := r.Verdict == Succeeded
	mode := r.effectiveMode()
	reset := func(how string) BitmapRecord {
		switch r.Sync {
		case "full", "top":
			b.OK, b.Chain = true, []string{r.Target}
			b.Reason = fmt.Sprintf("%s: reset by full backup %s to %s", how, r.ID, r.Target)
		default:
			if !prev.OK {
				return needs(fmt.Sprintf("%s: backup %s is incremental on a base the tracker cannot prove", how, r.ID))
			}
			b.OK, b.Chain = true, append(append([]string(nil), prev.Chain...), r.Target)
			b.Reason = fmt.Sprintf("%s: incremental backup %s to %s on top of the chain", how, r.ID, r.Target)
		}
		return b
	}
	keep := func(why string) BitmapRecord {
		if !prev.OK {
			return needs(prev.Reason)
		}
		b.OK, b.Chain = true, prev.Chain
		b.Reason = why
		return b
	}
	switch {
	case mode == "never":
		return keep(fmt.Sprintf("backup %s (bitmap-mode never) left the bitmap's bits in place", r.ID))
	case succeeded:
		return reset("succeeded")
	case mode == "always":
		return reset(fmt.Sprintf("backup %s %s (bitmap-mode always): failed target %s is part of the chain", r.ID, r.Verdict, r.Target))
	case t.opts.bug == BugClearOnFailure:
		return reset("failed")
	default:
		return keep(fmt.Sprintf("backup %s %s (bitmap-mode on-success): the bitmap kept its bits", r.ID, r.Verdict))
	}
}

// unusable says why a bitmap QEMU shows cannot be ok, or "".
func unusable(info *dirtyInfo) string {
	switch {
	case info.Inconsistent:
		return "bitmap is inconsistent"
	case info.Busy:
		return "bitmap is in use by a job the tracker did not start"
	case !info.Recording:
		return "bitmap is disabled: it does not record writes"
	}
	return ""
}

// observe checks every tracked bitmap that no undecided tracked job holds
// against what QEMU shows now. Only guest writes may have happened since
// the last observation: a lost marker, a missing bitmap, a count that fell,
// a changed granularity or persistence or a stop of recording cannot be
// explained by writes, and the bitmap is no longer provable. It updates
// bitmaps in place and returns the records it changed.
func (t *Tracker) observe(nodes map[string]*nodeInfo, bitmaps map[string]BitmapRecord, owners map[string]bool) []BitmapRecord {
	var changed []BitmapRecord
	for k, b := range bitmaps {
		old := b
		needs := func(reason string) {
			b.OK, b.Chain, b.Reason = false, nil, reason
		}
		n := nodes[b.Node]
		if b.Owner != "" && (owners == nil || owners[b.Owner]) {
			// a job holds the bitmap and may change it; only the restart
			// evidence applies, and it must be taken before the marker is
			// created anew, or a later decision would build on a state
			// lost in the restart
			if b.OK && (n == nil || !n.hasMarker(t.marker())) {
				needs("QEMU restarted (the tracker's marker bitmap is gone): the bitmap cannot be proven")
				bitmaps[k] = b
				changed = append(changed, b)
			}
			continue
		}
		info := (*dirtyInfo)(nil)
		if n != nil {
			info = n.bitmap(b.Name)
		}
		switch {
		case !b.OK:
		case n == nil:
			needs(fmt.Sprintf("node %s is gone", b.Node))
		case !n.hasMarker(t.marker()):
			needs("QEMU restarted (the tracker's marker bitmap is gone): the bitmap cannot be proven")
		case info == nil:
			needs("bitmap is gone")
		case unusable(info) != "":
			needs(unusable(info))
		case b.Seen && (info.Granularity != b.Granularity || info.Persistent != b.Persistent):
			needs("bitmap was replaced (granularity or persistence changed)")
		case b.Seen && info.Count < b.Count:
			needs(fmt.Sprintf("bitmap count fell from %d to %d: cleared or replaced by another client", b.Count, info.Count))
		}
		if info != nil && b.OK {
			b.Seen, b.Count, b.Granularity, b.Persistent, b.Recording = true, info.Count, info.Granularity, info.Persistent, info.Recording
		}
		if b.Owner != "" {
			b.Owner = ""
		}
		if !equalRecord(old, b) {
			bitmaps[k] = b
			changed = append(changed, b)
		}
	}
	return changed
}

func equalRecord(a, b BitmapRecord) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
