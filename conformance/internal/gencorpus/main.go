// Command gencorpus writes jobfsm's own conformance scenarios into
// spec/conformance (go generate in package conformance). The 19 scenarios
// taken over from ../shared/reference/qemu-transcripts (written by its
// scenarios.py) are kept as they are; this program owns every other
// scenario file. Transcripts are not written here: they are recorded on
// real QEMU (make conformance-record).
//
// How scenarios stay deterministic on QEMU (from the reference README): a
// job that must stay running copies between two 1 GiB null-co nodes at
// speed 1; a write error is blkdebug inject-error once on pwritev; waits
// are on events, never sleeps; the progress of a job cancelled mid-run is
// masked. Time-bound scenarios copy a few MiB under a speed limit and take
// 1–2 s on QEMU.
package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

type M = map[string]any

const (
	MiB = 1 << 20
	GiB = 1 << 30
)

type scenario struct {
	Note      string   `json:"note"`
	Images    []M      `json:"images"`
	Mask      []string `json:"mask"`
	Steps     []M      `json:"steps"`
	Tags      []string `json:"tags,omitempty"`
	Deviation string   `json:"deviation,omitempty"`
}

var corpus = map[string]*scenario{}

func add(name, note string, steps []M, opts ...func(*scenario)) {
	if _, dup := corpus[name]; dup {
		panic("duplicate scenario " + name)
	}
	s := &scenario{Note: note, Images: []M{}, Mask: []string{}, Steps: steps}
	for _, o := range opts {
		o(s)
	}
	corpus[name] = s
}

func imgs(kv ...any) func(*scenario) {
	return func(s *scenario) {
		for i := 0; i < len(kv); i += 2 {
			im := M{"name": kv[i]}
			for k, v := range kv[i+1].(M) {
				im[k] = v
			}
			s.Images = append(s.Images, im)
		}
	}
}

func mask(f ...string) func(*scenario) { return func(s *scenario) { s.Mask = f } }
func tags(t ...string) func(*scenario) { return func(s *scenario) { s.Tags = t } }

func ex(cmd string, args ...M) M {
	if len(args) == 0 {
		return M{"send": M{"execute": cmd}}
	}
	return M{"send": M{"execute": cmd, "arguments": args[0]}}
}

func raw(send M) M { return M{"send": send} }

func wait(ev string, match ...M) M {
	if len(match) == 0 {
		return M{"wait_event": ev}
	}
	return M{"wait_event": ev, "match": match[0]}
}

func st(job, status string) M { return wait("JOB_STATUS_CHANGE", M{"id": job, "status": status}) }

func null(name string, size int64) M {
	return ex("blockdev-add", M{"driver": "null-co", "node-name": name, "size": size})
}

func rawNode(name string) M {
	return ex("blockdev-add", M{"driver": "raw", "node-name": name,
		"file": M{"driver": "file", "filename": "${IMG:" + name + "}"}})
}

func failing(name, image string, errno int) M {
	return ex("blockdev-add", M{"driver": "blkdebug", "node-name": name, "image": image,
		"inject-error": []any{M{"event": "pwritev", "errno": errno, "once": true}}})
}

func merge(base M, kv ...any) M {
	out := M{}
	maps.Copy(out, base)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func backup(job, src, tgt string, kv ...any) M {
	return ex("blockdev-backup", merge(M{"job-id": job, "device": src, "target": tgt, "sync": "full"}, kv...))
}

func mirror(job, src, tgt string, kv ...any) M {
	return ex("blockdev-mirror", merge(M{"job-id": job, "device": src, "target": tgt, "sync": "full"}, kv...))
}

func bm(node, name string, kv ...any) M {
	return ex("block-dirty-bitmap-add", merge(M{"node": node, "name": name}, kv...))
}

func digest(node, name string) M {
	return ex("x-debug-block-dirty-bitmap-sha256", M{"node": node, "name": name})
}

func tx(actions []any, mode string) M {
	args := M{"actions": actions}
	if mode != "" {
		args["properties"] = M{"completion-mode": mode}
	}
	return ex("transaction", args)
}

func tb(job, src, tgt string, kv ...any) M {
	return M{"type": "blockdev-backup", "data": merge(M{"job-id": job, "device": src, "target": tgt, "sync": "full"}, kv...)}
}

func cat(parts ...[]M) []M {
	var out []M
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func s(steps ...M) []M { return steps }

var (
	data   = M{"size": 4 * MiB, "fill": [][3]int64{{0, 128 * 1024, 0x5A}, {2 * MiB, 192 * 1024, 0xC3}}}
	empty  = M{"size": 4 * MiB}
	q      = s(ex("query-jobs"), ex("query-block-jobs"))
	manual = []any{"auto-finalize", false, "auto-dismiss", false}
	midrun = mask("offset", "current-progress")
)

// slow is a backup between two 1 GiB null-co nodes at speed 1: it copies
// one chunk, then waits for a very long time, so it stays running.
func slow(job, a, b string, kv ...any) []M {
	return s(null(a, GiB), null(b, GiB), backup(job, a, b, append([]any{"speed", 1}, kv...)...), st(job, "running"))
}

func slowMirror(job, a, b string, kv ...any) []M {
	return s(null(a, GiB), null(b, GiB), mirror(job, a, b, append([]any{"speed", 1}, kv...)...), st(job, "running"))
}

func protocol() {
	add("protocol_errors", "QMP request checks: shape, unknown command, negotiation twice, members missing, mistyped, unexpected, bad enum values, nested and list member names",
		s(raw(M{"execute": "qmp_capabilities"}),
			raw(M{"execute": "no-such-command"}),
			raw(M{"execute": "block-job-change", "arguments": M{"id": "j0"}}),
			raw(M{"execute": "query-jobs", "arguments": []any{}}),
			raw(M{"execute": "query-jobs", "arguments": M{"a": 1}}),
			raw(M{"execute": "query-jobs", "control": M{}}),
			raw(M{"execute": 1}),
			raw(M{"execute": "job-pause"}),
			raw(M{"execute": "job-pause", "arguments": M{"id": 1}}),
			raw(M{"execute": "job-pause", "arguments": M{"id": "x", "foo": 1}}),
			raw(M{"execute": "block-job-cancel", "arguments": M{"device": "x", "force": "yes"}}),
			raw(M{"execute": "block-job-set-speed", "arguments": M{"device": "x", "speed": 1.5}}),
			raw(M{"execute": "block-job-set-speed", "arguments": M{"device": "x", "speed": "fast"}}),
			raw(M{"execute": "block-job-set-speed", "arguments": M{"device": "x"}}),
			raw(M{"execute": "blockdev-backup", "arguments": M{"device": "a", "target": "b"}}),
			raw(M{"execute": "blockdev-backup", "arguments": M{"device": "a", "target": "b", "sync": "sometimes"}}),
			raw(M{"execute": "blockdev-add", "arguments": M{"node-name": "x"}}),
			raw(M{"execute": "blockdev-add", "arguments": M{"driver": "nope", "node-name": "x"}}),
			raw(M{"execute": "blockdev-add", "arguments": M{"driver": "raw", "node-name": "x"}}),
			raw(M{"execute": "blockdev-add", "arguments": M{"driver": "raw", "node-name": "x", "file": M{"driver": "file"}}}),
			raw(M{"execute": "blockdev-add", "arguments": M{"driver": "raw", "node-name": "x", "file": 5}}),
			raw(M{"execute": "blockdev-add", "arguments": M{"driver": "null-co", "node-name": "x", "size": "1"}}),
			raw(M{"execute": "blockdev-add", "arguments": M{"driver": "null-co", "node-name": "x", "bogus": true}}),
			raw(M{"execute": "transaction", "arguments": M{"actions": M{}}}),
			raw(M{"execute": "transaction", "arguments": M{"actions": []any{1}}}),
			raw(M{"execute": "transaction", "arguments": M{"actions": []any{M{"type": "nope", "data": M{}}}}}),
			raw(M{"execute": "transaction", "arguments": M{"actions": []any{M{"type": "abort"}}}}),
			raw(M{"execute": "block-dirty-bitmap-merge", "arguments": M{"node": "x", "target": "b", "bitmaps": []any{1}}}),
			raw(M{"execute": "block-dirty-bitmap-merge", "arguments": M{"node": "x", "target": "b", "bitmaps": []any{M{"node": "x"}}}}),
			raw(M{"execute": "query-named-block-nodes", "arguments": M{"flat": 1}}),
			ex("query-jobs"), ex("query-block-jobs")))
}

func lifecycle() {
	add("auto_flags_matrix", "the four auto-finalize × auto-dismiss combinations on one source: BLOCK_JOB_PENDING only without auto-finalize, concluded jobs stay listed only without auto-dismiss",
		s(rawNode("src"), rawNode("t0"), rawNode("t1"), rawNode("t2"), rawNode("t3"),
			backup("tt", "src", "t0"), st("tt", "null"),
			backup("ft", "src", "t1", "auto-finalize", false), wait("BLOCK_JOB_PENDING", M{"id": "ft"}), ex("query-jobs"),
			ex("job-finalize", M{"id": "ft"}), st("ft", "null"),
			backup("tf", "src", "t2", "auto-dismiss", false), st("tf", "concluded"), ex("query-jobs"), ex("query-block-jobs"),
			ex("job-dismiss", M{"id": "tf"}), st("tf", "null"),
			backup("ff", "src", "t3", manual...), wait("BLOCK_JOB_PENDING", M{"id": "ff"}),
			ex("block-job-finalize", M{"id": "ff"}), st("ff", "concluded"), ex("query-jobs"),
			ex("block-job-dismiss", M{"id": "ff"}), st("ff", "null"), ex("query-jobs"),
			M{"sha256": "t0"}, M{"sha256": "t3"}),
		imgs("src", data, "t0", empty, "t1", empty, "t2", empty, "t3", empty))
	add("verbs_running", "every verb on a running backup: pause/resume accepted once, complete/finalize/dismiss refused, set-speed checked, then cancelled",
		cat(slow("j0", "n0", "n1"), s(
			ex("job-complete", M{"id": "j0"}), ex("job-finalize", M{"id": "j0"}), ex("job-dismiss", M{"id": "j0"}),
			ex("block-job-complete", M{"device": "j0"}), ex("block-job-finalize", M{"id": "j0"}), ex("block-job-dismiss", M{"id": "j0"}),
			ex("job-resume", M{"id": "j0"}),
			ex("block-job-set-speed", M{"device": "j0", "speed": -1}),
			ex("block-job-set-speed", M{"device": "j0", "speed": 2}),
			ex("job-pause", M{"id": "j0"}), st("j0", "paused"), ex("job-pause", M{"id": "j0"}), ex("block-job-pause", M{"device": "j0"}),
			ex("query-block-jobs"),
			ex("job-resume", M{"id": "j0"}), st("j0", "running"), ex("block-job-resume", M{"device": "j0"}),
			ex("job-cancel", M{"id": "j0"}), wait("BLOCK_JOB_CANCELLED"), st("j0", "null"),
			ex("job-cancel", M{"id": "j0"}), ex("query-jobs"))), midrun)
	add("verbs_pending", "a job waiting in pending refuses every verb but finalize and cancel; cancel there aborts it",
		s(rawNode("src"), rawNode("tgt"), backup("j0", "src", "tgt", manual...), wait("BLOCK_JOB_PENDING", M{"id": "j0"}),
			ex("job-pause", M{"id": "j0"}), ex("job-resume", M{"id": "j0"}), ex("job-complete", M{"id": "j0"}),
			ex("job-dismiss", M{"id": "j0"}), ex("block-job-set-speed", M{"device": "j0", "speed": 1}),
			ex("block-job-pause", M{"device": "j0"}), ex("query-jobs"), ex("query-block-jobs"),
			ex("job-cancel", M{"id": "j0"}), st("j0", "concluded"), ex("query-jobs"), ex("query-block-jobs"),
			ex("job-dismiss", M{"id": "j0"}), st("j0", "null")),
		imgs("src", data, "tgt", empty))
	add("verbs_concluded", "a concluded job refuses every verb but dismiss, keeps its id reserved, and is gone after dismiss",
		s(rawNode("src"), rawNode("tgt"), rawNode("t2"), backup("j0", "src", "tgt", "auto-dismiss", false), st("j0", "concluded"),
			ex("job-pause", M{"id": "j0"}), ex("job-resume", M{"id": "j0"}), ex("job-cancel", M{"id": "j0"}),
			ex("block-job-cancel", M{"device": "j0"}), ex("block-job-cancel", M{"device": "j0", "force": true}),
			ex("job-complete", M{"id": "j0"}), ex("job-finalize", M{"id": "j0"}),
			ex("block-job-set-speed", M{"device": "j0", "speed": 1}),
			backup("j0", "src", "t2"), ex("query-jobs"),
			ex("job-dismiss", M{"id": "j0"}), st("j0", "null"), ex("job-dismiss", M{"id": "j0"}),
			ex("block-job-dismiss", M{"id": "j0"}), ex("query-block-jobs")),
		imgs("src", data, "tgt", empty, "t2", empty))
	add("job_ids", "job id checks run after the command's own checks: malformed, empty (no job-id and no device name), duplicate across job types, reusable after dismiss",
		cat(slow("j0", "n0", "n1"), s(null("n2", GiB), null("n3", GiB),
			backup("1m", "n2", "n3"), backup("", "n2", "n3"), ex("blockdev-backup", M{"device": "n2", "target": "n3", "sync": "full"}),
			backup("a b", "n2", "n3"), backup("j0", "n2", "n3"), mirror("j0", "n2", "n3"),
			backup("ok-1.x_y", "n2", "n3", "speed", 1), st("ok-1.x_y", "running"),
			ex("job-cancel", M{"id": "j0"}), st("j0", "null"),
			mirror("j0", "n0", "n1", "speed", 1), st("j0", "running"), ex("query-jobs"),
			ex("job-cancel", M{"id": "j0"}), st("j0", "null"),
			ex("job-cancel", M{"id": "ok-1.x_y"}), st("ok-1.x_y", "null"))), midrun)
	add("negative_speed", "a negative speed is refused at creation after the job was created: created then null, and the id is free again",
		s(rawNode("src"), rawNode("tgt"), null("n0", GiB), null("n1", GiB),
			backup("j0", "src", "tgt", "speed", -1), mirror("m0", "n0", "n1", "speed", -1), ex("query-jobs"),
			backup("j0", "src", "tgt"), st("j0", "null")),
		imgs("src", data, "tgt", empty))
	add("cancel_paused", "block-job-cancel of a user-paused job needs force; job-cancel of a paused job resumes it on the way out",
		cat(slowMirror("m0", "n0", "n1"), slow("j0", "n2", "n3"), s(
			ex("job-pause", M{"id": "m0"}), st("m0", "paused"),
			ex("block-job-cancel", M{"device": "m0"}), ex("block-job-cancel", M{"device": "m0", "force": true}),
			wait("BLOCK_JOB_CANCELLED", M{"device": "m0"}), st("m0", "null"),
			ex("block-job-pause", M{"device": "j0"}), st("j0", "paused"),
			ex("job-cancel", M{"id": "j0"}), wait("BLOCK_JOB_CANCELLED", M{"device": "j0"}), st("j0", "null"), ex("query-jobs"))),
		midrun)
	add("blockdev_del_in_use", "nodes a job uses cannot be deleted: the backup target is op-blocked, the source is referenced, the mirror target has a BlockBackend",
		cat(slow("j0", "n0", "n1"), slowMirror("m0", "n2", "n3"), s(
			ex("blockdev-del", M{"node-name": "n1"}), ex("blockdev-del", M{"node-name": "n0"}),
			ex("blockdev-del", M{"node-name": "n3"}), ex("blockdev-del", M{"node-name": "n2"}),
			ex("blockdev-del", M{"node-name": "nothere"}),
			ex("job-cancel", M{"id": "j0"}), st("j0", "null"), ex("job-cancel", M{"id": "m0"}), st("m0", "null"),
			ex("blockdev-del", M{"node-name": "n1"}), ex("blockdev-del", M{"node-name": "n0"}),
			ex("blockdev-del", M{"node-name": "n3"}), ex("blockdev-del", M{"node-name": "n2"}))), midrun)
	add("concluded_releases_nodes", "a concluded job that waits for job-dismiss no longer holds its nodes: new jobs may use them, the nodes may be deleted (backup_clean, mirror_exit_common drop the job's children)",
		cat(slow("j0", "n0", "n1", "auto-dismiss", false), slowMirror("m0", "n2", "n3", "auto-dismiss", false), s(
			ex("job-cancel", M{"id": "j0"}), st("j0", "concluded"), ex("job-cancel", M{"id": "m0"}), st("m0", "concluded"),
			mirror("m1", "n0", "n1", "speed", 1), backup("j1", "n2", "n3", "speed", 1), ex("query-jobs"),
			ex("job-cancel", M{"id": "m1"}), st("m1", "null"), ex("job-cancel", M{"id": "j1"}), st("j1", "null"),
			ex("blockdev-del", M{"node-name": "n1"}), ex("blockdev-del", M{"node-name": "n3"}),
			ex("job-dismiss", M{"id": "j0"}), ex("job-dismiss", M{"id": "m0"}))), midrun)
	add("blockdev_errors", "blockdev-add and backup argument errors: duplicate and invalid node names, missing files and nodes, same source and target",
		s(null("x", 1024*1024),
			null("x", 1024*1024), ex("blockdev-add", M{"driver": "null-co", "size": 1024}),
			ex("blockdev-add", M{"driver": "null-co", "node-name": "1x", "size": 1024}),
			ex("blockdev-add", M{"driver": "raw", "node-name": "r", "file": M{"driver": "file", "filename": "${IMG:src}.missing"}}),
			ex("blockdev-add", M{"driver": "raw", "node-name": "r", "file": "nothere"}),
			ex("blockdev-add", M{"driver": "blkdebug", "node-name": "z", "image": "nothere"}),
			backup("j0", "nothere", "x"), backup("j0", "x", "nothere"), backup("j0", "x", "x"),
			mirror("m0", "nothere", "x"), mirror("m0", "x", "nothere"),
			ex("blockdev-del", M{"node-name": "x"}), ex("blockdev-del", M{"node-name": "x"}), ex("query-jobs")),
		imgs("src", empty))
}

func mirrors() {
	add("mirror_standby_complete", "pause in READY gives standby; complete there is accepted and takes effect after resume",
		s(rawNode("src"), rawNode("tgt"), mirror("m0", "src", "tgt"), wait("BLOCK_JOB_READY"),
			ex("job-pause", M{"id": "m0"}), st("m0", "standby"), ex("query-block-jobs"),
			ex("job-complete", M{"id": "m0"}), ex("query-jobs"),
			ex("job-resume", M{"id": "m0"}), st("m0", "ready"), wait("BLOCK_JOB_COMPLETED"), st("m0", "null"),
			M{"sha256": "tgt"}),
		imgs("src", data, "tgt", empty))
	add("mirror_soft_cancel_ready", "block-job-cancel without force after READY completes without pivot: COMPLETED, no error",
		s(rawNode("src"), rawNode("tgt"), mirror("m0", "src", "tgt", "auto-dismiss", false), wait("BLOCK_JOB_READY"),
			ex("block-job-cancel", M{"device": "m0"}), st("m0", "concluded"), ex("query-jobs"), ex("query-block-jobs"),
			ex("job-dismiss", M{"id": "m0"}), M{"graph": []any{"src", "tgt"}}, M{"sha256": "tgt"}),
		imgs("src", data, "tgt", empty))
	add("mirror_force_cancel_ready", "block-job-cancel force=true after READY is a real cancel: CANCELLED, error Operation canceled",
		s(rawNode("src"), rawNode("tgt"), mirror("m0", "src", "tgt", "auto-dismiss", false), wait("BLOCK_JOB_READY"),
			ex("block-job-cancel", M{"device": "m0", "force": true}), st("m0", "concluded"), ex("query-jobs"), ex("query-block-jobs"),
			ex("job-dismiss", M{"id": "m0"})),
		imgs("src", data, "tgt", empty))
	add("mirror_errors", "blockdev-mirror argument errors: sync missing or bitmap, granularity, a second mirror of the same device",
		cat(slowMirror("m0", "n0", "n1"), s(null("n2", GiB),
			ex("blockdev-mirror", M{"job-id": "m1", "device": "n0", "target": "n2"}),
			mirror("m1", "n2", "n1", "sync", "bitmap"),
			mirror("m1", "n2", "n1", "granularity", 100), mirror("m1", "n2", "n1", "granularity", 65537),
			mirror("m1", "n0", "n2"), mirror("m1", "n2", "n2"),
			ex("job-cancel", M{"id": "m0"}), st("m0", "null"))), midrun)
	add("mirror_size_mismatch", "different sizes are not a creation error: the running mirror fails",
		s(null("n0", 4*MiB), null("n1", 2*MiB), mirror("m0", "n0", "n1"), wait("BLOCK_JOB_COMPLETED"), st("m0", "null"), ex("query-jobs")))
	add("txn_empty_drain_blip", "any transaction drains all nodes: a running job blips paused/running; a user-paused job shows nothing",
		cat(slowMirror("m0", "n0", "n1"), slow("j0", "n2", "n3"), s(
			ex("job-pause", M{"id": "j0"}), st("j0", "paused"),
			tx([]any{}, ""), st("m0", "paused"), st("m0", "running"), ex("query-jobs"),
			ex("job-cancel", M{"id": "m0"}), st("m0", "null"), ex("job-cancel", M{"id": "j0"}), st("j0", "null"))), midrun)
}

func errorsPolicies() {
	add("error_stop_resume", "on-target-error stop: paused with io-status failed; job-resume resets io-status and the backup completes",
		s(rawNode("src"), rawNode("tgt"), failing("bad", "tgt", 5),
			backup("j0", "src", "bad", "on-target-error", "stop", "x-perf", M{"max-workers": 1}),
			wait("BLOCK_JOB_ERROR"), st("j0", "paused"), ex("query-block-jobs"),
			ex("block-job-cancel", M{"device": "j0"}),
			ex("job-resume", M{"id": "j0"}), wait("BLOCK_JOB_COMPLETED"), st("j0", "null"), ex("query-jobs"), M{"sha256": "tgt"}),
		imgs("src", data, "tgt", empty))
	add("error_ignore", "on-target-error ignore: BLOCK_JOB_ERROR with action ignore, the write is retried and the backup succeeds",
		s(rawNode("src"), rawNode("tgt"), failing("bad", "tgt", 5),
			backup("j0", "src", "bad", "on-target-error", "ignore", "x-perf", M{"max-workers": 1}),
			wait("BLOCK_JOB_COMPLETED"), st("j0", "null"), M{"sha256": "tgt"}),
		imgs("src", data, "tgt", empty))
	add("error_enospc_policy", "on-target-error enospc: ENOSPC stops the mirror (io-status nospace), EIO is reported and fails it",
		s(rawNode("src"), rawNode("t0"), rawNode("t1"), failing("full", "t0", 28), failing("bad", "t1", 5),
			mirror("m0", "src", "full", "on-target-error", "enospc"), wait("BLOCK_JOB_ERROR", M{"device": "m0"}),
			st("m0", "paused"), ex("query-block-jobs"), ex("job-cancel", M{"id": "m0"}), st("m0", "null"),
			mirror("m1", "src", "bad", "on-target-error", "enospc", "auto-dismiss", false), wait("BLOCK_JOB_COMPLETED", M{"device": "m1"}),
			st("m1", "concluded"), ex("query-jobs"), ex("query-block-jobs"), ex("job-dismiss", M{"id": "m1"})),
		imgs("src", data, "t0", empty, "t1", empty), midrun)
}

func transactions() {
	add("txn_abort_action", "an abort action rolls back a backup that was never started: created, aborting, concluded, null; no BLOCK_JOB events",
		s(rawNode("src"), rawNode("tgt"),
			tx([]any{tb("j0", "src", "tgt"), M{"type": "abort", "data": M{}}}, ""), ex("query-jobs"),
			tx([]any{tb("j1", "src", "tgt"), M{"type": "abort", "data": M{}}}, "grouped"), ex("query-jobs"),
			M{"sha256": "tgt"}),
		imgs("src", data, "tgt", empty))
	add("txn_grouped_cancel", "cancelling one member of a grouped transaction cancels the other, finalized first",
		cat(slow("j0", "n0", "n1"), s(null("n2", GiB), null("n3", GiB), null("n4", GiB), null("n5", GiB),
			tx([]any{tb("a", "n2", "n3", "speed", 1), tb("b", "n4", "n5", "speed", 1)}, "grouped"),
			st("a", "running"), st("b", "running"),
			ex("job-cancel", M{"id": "a"}), st("a", "null"), st("b", "null"), ex("query-jobs"),
			ex("job-cancel", M{"id": "j0"}), st("j0", "null"))), midrun)
	add("txn_bitmap_actions", "bitmap actions in a transaction: applied together; a failing action rolls back the ones before it; grouped mode refused",
		s(rawNode("src"),
			tx([]any{M{"type": "block-dirty-bitmap-add", "data": M{"node": "src", "name": "a"}},
				M{"type": "block-dirty-bitmap-add", "data": M{"node": "src", "name": "b", "disabled": true}}}, ""),
			M{"bitmaps": "src"},
			tx([]any{M{"type": "block-dirty-bitmap-add", "data": M{"node": "src", "name": "c"}},
				M{"type": "block-dirty-bitmap-remove", "data": M{"node": "src", "name": "b"}},
				M{"type": "block-dirty-bitmap-add", "data": M{"node": "src", "name": "a"}}}, ""),
			M{"bitmaps": "src"},
			tx([]any{M{"type": "block-dirty-bitmap-clear", "data": M{"node": "src", "name": "a"}}}, "grouped"),
			tx([]any{M{"type": "block-dirty-bitmap-disable", "data": M{"node": "src", "name": "a"}},
				M{"type": "block-dirty-bitmap-enable", "data": M{"node": "src", "name": "b"}},
				M{"type": "block-dirty-bitmap-merge", "data": M{"node": "src", "target": "a", "bitmaps": []any{"b"}}},
				M{"type": "block-dirty-bitmap-remove", "data": M{"node": "src", "name": "b"}}}, ""),
			M{"bitmaps": "src"}),
		imgs("src", data))
	add("txn_grouped_failure_first", "grouped backups where the first action's target fails: the others are cancelled, the failing one completes with its error",
		s(rawNode("src"), rawNode("t0"), null("n0", GiB), null("n1", GiB), null("n2", GiB), null("n3", GiB), failing("bad", "t0", 5),
			tx([]any{tb("a", "src", "bad"), tb("b", "n0", "n1", "speed", 1), tb("c", "n2", "n3", "speed", 1)}, "grouped"),
			st("a", "null"), st("b", "null"), st("c", "null"), ex("query-jobs")),
		imgs("src", data, "t0", empty), midrun)
}

func bitmaps() {
	bmPrefix := s(rawNode("src"), rawNode("mid"), rawNode("dst"), bm("mid", "b0", "granularity", 65536),
		backup("f0", "src", "mid"), st("f0", "null"))
	three := imgs("src", data, "mid", empty, "dst", empty)
	perf := M{"max-workers": 1}
	add("bitmap_sync_bitmap_on_success", "sync bitmap, bitmap-mode on-success, success: the bitmap is cleared and only the dirty clusters are copied",
		cat(bmPrefix, s(backup("i0", "mid", "dst", "sync", "bitmap", "bitmap", "b0", "bitmap-mode", "on-success", "x-perf", perf),
			st("i0", "null"), M{"bitmaps": "mid"}, digest("mid", "b0"), M{"sha256": "dst"})), three)
	add("bitmap_sync_bitmap_never_success", "sync bitmap, bitmap-mode never, success: the bitmap is unchanged",
		cat(bmPrefix, s(backup("i0", "mid", "dst", "sync", "bitmap", "bitmap", "b0", "bitmap-mode", "never", "x-perf", perf),
			st("i0", "null"), M{"bitmaps": "mid"}, digest("mid", "b0"))), three)
	add("bitmap_sync_bitmap_always_failure", "sync bitmap, bitmap-mode always, failure: the bitmap keeps what was not copied",
		cat(bmPrefix, s(failing("bad", "dst", 5),
			backup("i0", "mid", "bad", "sync", "bitmap", "bitmap", "b0", "bitmap-mode", "always", "x-perf", perf),
			st("i0", "null"), M{"bitmaps": "mid"}, digest("mid", "b0"))), three)
	add("bitmap_sync_bitmap_on_success_failure", "sync bitmap, bitmap-mode on-success, failure: the bitmap is restored",
		cat(bmPrefix, s(failing("bad", "dst", 5),
			backup("i0", "mid", "bad", "sync", "bitmap", "bitmap", "b0", "bitmap-mode", "on-success", "x-perf", perf),
			st("i0", "null"), M{"bitmaps": "mid"}, digest("mid", "b0"))), three)
	add("bitmap_full_always_failure", "sync full, bitmap-mode always, failure: the bitmap becomes the uncopied part of the whole disk",
		cat(bmPrefix, s(failing("bad", "dst", 5),
			backup("i0", "mid", "bad", "bitmap", "b0", "bitmap-mode", "always", "x-perf", perf),
			st("i0", "null"), M{"bitmaps": "mid"})), three)
	add("bitmap_incremental", "sync incremental is sync bitmap with on-success; another bitmap-mode is refused",
		cat(bmPrefix, s(backup("i0", "mid", "dst", "sync", "incremental", "bitmap", "b0", "bitmap-mode", "always"),
			backup("i0", "mid", "dst", "sync", "incremental", "bitmap", "b0", "x-perf", perf),
			st("i0", "null"), M{"bitmaps": "mid"}, M{"sha256": "dst"})), three)
	add("bitmap_cancel_on_success", "a cancelled backup with bitmap-mode on-success gives the bitmap back unchanged",
		s(rawNode("src"), rawNode("mid"), null("n0", GiB), null("n1", GiB), bm("mid", "b0", "granularity", 65536),
			backup("f0", "src", "mid"), st("f0", "null"), bm("n0", "nb"),
			backup("i0", "n0", "n1", "speed", 1, "sync", "full", "bitmap", "nb", "bitmap-mode", "on-success"), st("i0", "running"),
			M{"bitmaps": "n0"}, ex("job-cancel", M{"id": "i0"}), st("i0", "null"), M{"bitmaps": "n0"}),
		imgs("src", data, "mid", empty), midrun)
	add("bitmap_validation", "backup bitmap argument checks, in QEMU's order",
		cat(bmPrefix, s(
			backup("i0", "mid", "dst", "sync", "bitmap"),
			backup("i0", "mid", "dst", "sync", "incremental"),
			backup("i0", "mid", "dst", "sync", "bitmap", "bitmap", "nope", "bitmap-mode", "always"),
			backup("i0", "mid", "dst", "sync", "bitmap", "bitmap", "b0"),
			backup("i0", "mid", "dst", "sync", "none", "bitmap", "b0", "bitmap-mode", "always"),
			backup("i0", "mid", "dst", "sync", "full", "bitmap", "b0", "bitmap-mode", "never"),
			backup("i0", "mid", "dst", "sync", "top", "bitmap", "b0", "bitmap-mode", "never"),
			backup("i0", "mid", "dst", "bitmap-mode", "always"),
			backup("i0", "src", "dst", "sync", "bitmap", "bitmap", "b0", "bitmap-mode", "always"),
			ex("query-jobs"), M{"bitmaps": "mid"})), three)
	add("bitmap_busy", "a bitmap held by a running backup is busy: remove, clear, enable, disable, merge both ways and another backup are refused",
		s(null("n0", GiB), null("n1", GiB), null("n2", GiB), bm("n0", "b0"), bm("n0", "b1"),
			backup("j0", "n0", "n1", "speed", 1, "bitmap", "b0", "bitmap-mode", "on-success"), st("j0", "running"),
			ex("block-dirty-bitmap-remove", M{"node": "n0", "name": "b0"}),
			ex("block-dirty-bitmap-clear", M{"node": "n0", "name": "b0"}),
			ex("block-dirty-bitmap-enable", M{"node": "n0", "name": "b0"}),
			ex("block-dirty-bitmap-disable", M{"node": "n0", "name": "b0"}),
			ex("block-dirty-bitmap-merge", M{"node": "n0", "target": "b0", "bitmaps": []any{"b1"}}),
			ex("block-dirty-bitmap-merge", M{"node": "n0", "target": "b1", "bitmaps": []any{"b0"}}),
			bm("n0", "b0"),
			backup("j1", "n0", "n2", "speed", 1, "sync", "bitmap", "bitmap", "b0", "bitmap-mode", "never"),
			M{"bitmaps": "n0"},
			ex("job-cancel", M{"id": "j0"}), st("j0", "null"), M{"bitmaps": "n0"}), midrun)
	add("bitmap_command_errors", "bitmap command lookup and argument errors",
		s(null("n0", 4*MiB), null("n1", 8*MiB), bm("n0", "a"), bm("n1", "z"),
			bm("n0", ""), bm("nothere", "a"), bm("n0", "g", "granularity", 1000), bm("n0", "g", "granularity", 256),
			ex("block-dirty-bitmap-remove", M{"node": "nothere", "name": "a"}),
			ex("block-dirty-bitmap-remove", M{"node": "n0", "name": "nope"}),
			ex("block-dirty-bitmap-clear", M{"node": "n0", "name": "nope"}),
			ex("block-dirty-bitmap-merge", M{"node": "n0", "target": "a", "bitmaps": []any{"nope"}}),
			ex("block-dirty-bitmap-merge", M{"node": "n0", "target": "a", "bitmaps": []any{M{"node": "n1", "name": "z"}}}),
			ex("block-dirty-bitmap-merge", M{"node": "n0", "target": "a", "bitmaps": []any{M{"node": "n9", "name": "z"}}}),
			digest("n0", "nope"), digest("n0", "a"), M{"bitmaps": "n0"}))
}

// timeBound scenarios run jobs to completion under a speed limit: 1–2 s
// each on QEMU, and what `jobsim qmp --clock virtual` must finish ≥ 100×
// faster with the same transcript.
func timeBound() {
	tb := tags("time-bound")
	// 1 MiB images: the duration comes from bytes/speed, and small images
	// keep the fixed costs (files, digests) of both servers low.
	small := M{"size": 1 * MiB, "fill": [][3]int64{{0, 64 * 1024, 0x5A}, {512 * 1024, 128 * 1024, 0xC3}}}
	smallEmpty := M{"size": 1 * MiB}
	add("speed_backup", "a 1 MiB backup at 320 KiB/s runs to completion under the limit",
		s(rawNode("src"), rawNode("tgt"), backup("j0", "src", "tgt", "speed", 320*1024), st("j0", "null"), M{"sha256": "tgt"}),
		imgs("src", small, "tgt", smallEmpty), tb)
	add("speed_backup_manual", "a rate-limited backup with auto-finalize and auto-dismiss off",
		s(rawNode("src"), rawNode("tgt"), backup("j0", "src", "tgt", append([]any{"speed", 384 * 1024}, manual...)...),
			wait("BLOCK_JOB_PENDING"), ex("query-block-jobs"), ex("job-finalize", M{"id": "j0"}), st("j0", "concluded"),
			ex("job-dismiss", M{"id": "j0"}), st("j0", "null"), M{"sha256": "tgt"}),
		imgs("src", small, "tgt", smallEmpty), tb)
	add("speed_mirror_complete", "a 1 MiB mirror at 512 KiB/s becomes READY, then completes",
		s(null("n0", 1*MiB), null("n1", 1*MiB), mirror("m0", "n0", "n1", "speed", 512*1024), wait("BLOCK_JOB_READY"),
			ex("job-complete", M{"id": "m0"}), st("m0", "null")), tb)
	add("speed_set_midway", "a job started at speed 1 is sped up with block-job-set-speed and finishes",
		s(rawNode("src"), rawNode("tgt"), backup("j0", "src", "tgt", "speed", 1), st("j0", "running"),
			ex("block-job-set-speed", M{"device": "j0", "speed": 384 * 1024}), st("j0", "null"), M{"sha256": "tgt"}),
		imgs("src", small, "tgt", smallEmpty), tb)
	add("speed_mirror_soft_cancel", "a rate-limited mirror soft-cancelled after READY completes without pivot",
		s(rawNode("src"), rawNode("tgt"), mirror("m0", "src", "tgt", "speed", 448*1024), wait("BLOCK_JOB_READY"),
			ex("block-job-cancel", M{"device": "m0"}), st("m0", "null"), M{"sha256": "tgt"}),
		imgs("src", small, "tgt", smallEmpty), tb)
	add("speed_txn_grouped", "two grouped rate-limited backups finish together",
		s(rawNode("src"), rawNode("t0"), rawNode("t1"),
			tx([]any{tb2("a", "src", "t0", "speed", 384*1024), tb2("b", "src", "t1", "speed", 448*1024)}, "grouped"),
			st("a", "null"), st("b", "null"), M{"sha256": "t0"}, M{"sha256": "t1"}),
		imgs("src", small, "t0", smallEmpty, "t1", smallEmpty), tb)
}

func tb2(job, src, tgt string, kv ...any) M { return tb(job, src, tgt, kv...) }

// ordered records which events arrive before the command's return.
func ordered(step M) M {
	out := merge(step)
	out["order"] = true
	return out
}

// orders pins every row of reference §3.2's event-versus-return table, and
// the mirror's: a command that ends a job's run without I/O (a force cancel
// of a job sleeping under its speed limit or paused, a cancel or finalize in
// pending) delivers the job's whole ending before its return; a mirror,
// which drains its source before its run returns, ends after the return.
func orders() {
	add("order_cancel_sleeping", "job-cancel and block-job-cancel of a backup sleeping under its speed limit: aborting, BLOCK_JOB_CANCELLED, concluded, null, then the return",
		cat(slow("j0", "n0", "n1"), s(ordered(ex("job-cancel", M{"id": "j0"})),
			backup("j1", "n0", "n1", "speed", 1), st("j1", "running"),
			ordered(ex("block-job-cancel", M{"device": "j1"})))),
		midrun)
	add("order_cancel_sleeping_manual_dismiss", "force cancel of a sleeping backup with auto-dismiss off ends in concluded before the return; job-dismiss emits null before its return",
		cat(slow("j0", "n0", "n1", "auto-dismiss", false), s(ordered(ex("job-cancel", M{"id": "j0"})),
			ordered(ex("job-dismiss", M{"id": "j0"})))),
		midrun)
	add("order_pause_resume_cancel", "job-pause of a sleeping backup: paused before the return; job-resume: running before the return; job-cancel of the paused backup: running, aborting, BLOCK_JOB_CANCELLED, concluded, null, then the return",
		cat(slow("j0", "n0", "n1"), s(ordered(ex("job-pause", M{"id": "j0"})),
			ordered(ex("job-resume", M{"id": "j0"})),
			ordered(ex("job-pause", M{"id": "j0"})),
			ordered(ex("job-cancel", M{"id": "j0"})))),
		midrun)
	add("order_pending", "job-cancel of a backup in pending: its ending before the return; job-finalize: BLOCK_JOB_COMPLETED, concluded, null before the return",
		s(null("n0", MiB), null("n1", MiB),
			backup("j0", "n0", "n1", "auto-finalize", false), wait("BLOCK_JOB_PENDING", M{"id": "j0"}),
			ordered(ex("job-cancel", M{"id": "j0"})),
			backup("j1", "n0", "n1", "auto-finalize", false), wait("BLOCK_JOB_PENDING", M{"id": "j1"}),
			ordered(ex("job-finalize", M{"id": "j1"}))))
	add("order_job_start", "a job on small null-co nodes runs inside the command that starts it on QEMU (null-co completes I/O without yielding): a 1 MiB backup's whole ending and a 1 MiB mirror's ready come before the return; jobsim yields after each copy operation and returns first (D24). A rate-limited backup: created, running, paused, running before the return on both",
		s(null("s0", MiB), null("s1", MiB),
			ordered(backup("b", "s0", "s1")), st("b", "null"),
			ordered(mirror("m", "s0", "s1")), wait("BLOCK_JOB_READY", M{"device": "m"}),
			ex("job-cancel", M{"id": "m"}), st("m", "null"),
			null("n0", GiB), null("n1", GiB),
			ordered(backup("j", "n0", "n1", "speed", 1)), ordered(ex("job-cancel", M{"id": "j"}))),
		func(s *scenario) { s.Deviation = "D24" })
	add("order_mirror_ready", "job-complete and soft block-job-cancel of a ready mirror return before waiting, pending, BLOCK_JOB_COMPLETED, concluded, null",
		s(null("n0", MiB), null("n1", MiB),
			mirror("m0", "n0", "n1"), wait("BLOCK_JOB_READY", M{"device": "m0"}),
			ordered(ex("job-complete", M{"id": "m0"})), st("m0", "null"),
			mirror("m1", "n0", "n1"), wait("BLOCK_JOB_READY", M{"device": "m1"}),
			ordered(ex("block-job-cancel", M{"device": "m1"})), st("m1", "null")))
	add("order_mirror_cancel", "a force-cancelled mirror drains its source before its run returns, so it ends after the return whether it slept, was paused or was ready; in pending its ending comes before the return, and query-block-jobs reports it paused (the drain)",
		cat(slowMirror("m0", "n0", "n1"), s(ordered(ex("job-cancel", M{"id": "m0"})), st("m0", "null"),
			mirror("m1", "n0", "n1", "speed", 1), st("m1", "running"),
			ordered(ex("job-pause", M{"id": "m1"})),
			ordered(ex("job-cancel", M{"id": "m1"})), st("m1", "null"),
			null("s0", MiB), null("s1", MiB),
			mirror("m2", "s0", "s1"), wait("BLOCK_JOB_READY", M{"device": "m2"}),
			ordered(ex("job-cancel", M{"id": "m2"})), st("m2", "null"),
			mirror("m3", "s0", "s1", "auto-finalize", false), wait("BLOCK_JOB_READY", M{"device": "m3"}),
			ex("job-complete", M{"id": "m3"}), wait("BLOCK_JOB_PENDING", M{"id": "m3"}),
			ex("query-block-jobs"),
			ordered(ex("job-cancel", M{"id": "m3"})))),
		midrun)
}

// deviations are scenarios that show where jobsim differs on purpose (the
// spec/deviations.md entry they name); jobsim's own transcript is recorded
// next to QEMU's.
func deviations() {
	add("query_commands", "query-commands lists only the commands jobsim implements (D10)",
		s(ex("query-commands")), func(s *scenario) { s.Deviation = "D10" })
	add("query_named_block_nodes", "query-named-block-nodes answers only the fields the simulation can state (D12)",
		s(null("n0", 4*MiB), rawNode("src"), bm("src", "b0"), ex("query-named-block-nodes", M{"flat": true})),
		// QEMU numbers implicit nodes (#blockNNN) differently in every run
		imgs("src", data), mask("node-name"), func(s *scenario) { s.Deviation = "D12" })
	// reference §12 (scripts/rollback-hang.py): QEMU never answers, and a
	// hung monitor answers nothing more, so the hang is the last step
	hang := tx([]any{tb("a", "s0", "t0", "speed", 1), tb("b", "s1", "t1", "speed", 1), tb("c", "s0", "nosuch")}, "grouped")
	hang["hang"] = "2s"
	add("txn_grouped_rollback_hang", "a grouped transaction of two backups and a third whose target does not exist: QEMU rolls b back (aborting, concluded, null), then polls forever for a, which was never started, and never answers the transaction (reference §12); jobsim completes a directly and answers the error (D1)",
		s(null("s0", GiB), null("t0", GiB), null("s1", GiB), null("t1", GiB), hang),
		func(s *scenario) { s.Deviation = "D1" })
}

func main() {
	out := "../spec/conformance"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	protocol()
	lifecycle()
	mirrors()
	errorsPolicies()
	transactions()
	bitmaps()
	timeBound()
	deviations()
	orders()
	firstMoves()
	changes()
	names := slices.Sorted(maps.Keys(corpus))
	for _, n := range names {
		b, err := json.MarshalIndent(corpus[n], "", " ")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(out, n+".json"), append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

func qcowNode(name string) M {
	return ex("blockdev-add", M{"driver": "qcow2", "node-name": name,
		"file": M{"driver": "file", "filename": "${IMG:" + name + "}"}})
}

// cancelled force-cancels a job and waits for its end; the offset of its
// BLOCK_JOB_CANCELLED is what the job moved before its first sleep (the
// offset of a query right after the start is racy on QEMU for file
// nodes, whose I/O completes in a thread pool; the cancel waits for it).
func cancelled(job string) []M {
	return s(ex("job-cancel", M{"id": job}), st(job, "null"))
}

// firstMoves pin what a rate-limited job moves before its first sleep
// (speed 1: everything after it waits for ages). A backup's first
// block-copy task is one extent of the source's block status, in whole
// clusters (at least one), at most 1 MiB; a mirror's first iteration is a
// whole buffer (16 MiB, or buf-size rounded up to the granularity).
func firstMoves() {
	sparse := M{"size": 64 * MiB, "fill": [][3]int64{{0, 128 * 1024, 0x5A}, {2 * MiB, 192 * 1024, 0xC3}, {40 * MiB, 3 * MiB, 0x11}}}
	tiny := M{"size": 64 * MiB, "fill": [][3]int64{{0, 4096, 0x01}}}
	hole := M{"size": 64 * MiB, "fill": [][3]int64{{3 * MiB, 64 * 1024, 0x02}}}
	blank := M{"size": 64 * MiB}
	qsparse := merge(sparse, "format", "qcow2")
	qblank := merge(blank, "format", "qcow2")
	add("first_move_backup", "a backup at speed 1 moves one block-copy task before it sleeps: the source's first extent of one status in whole clusters (128 KiB of data on a raw file or qcow2, one 64 KiB cluster for 4 KiB of data, 1 MiB of a hole or of null-co), as BLOCK_JOB_CANCELLED's offset shows",
		cat(s(rawNode("src"), rawNode("tgt"), backup("d", "src", "tgt", "speed", 1), st("d", "running")), cancelled("d"),
			s(qcowNode("qsrc"), qcowNode("qtgt"), backup("q", "qsrc", "qtgt", "speed", 1), st("q", "running")), cancelled("q"),
			s(rawNode("tiny"), backup("t", "tiny", "tgt", "speed", 1), st("t", "running")), cancelled("t"),
			s(rawNode("hole"), backup("h", "hole", "tgt", "speed", 1), st("h", "running")), cancelled("h"),
			s(null("n0", 64*MiB), null("n1", 64*MiB), backup("n", "n0", "n1", "speed", 1), st("n", "running")), cancelled("n"),
			s(ex("blockdev-add", M{"driver": "null-co", "node-name": "z0", "size": 64 * MiB, "read-zeroes": true}),
				backup("z", "z0", "n1", "speed", 1), st("z", "running")), cancelled("z")),
		imgs("src", sparse, "tgt", blank, "qsrc", qsparse, "qtgt", qblank, "tiny", tiny, "hole", hole))
	add("first_move_mirror", "a mirror at speed 1 moves a whole buffer before it sleeps: 16 MiB by default from null-co, a raw file or qcow2, buf-size when given, rounded up to the granularity",
		cat(s(rawNode("src"), rawNode("tgt"), mirror("d", "src", "tgt", "speed", 1), st("d", "running")), cancelled("d"),
			s(qcowNode("qsrc"), qcowNode("qtgt"), mirror("q", "qsrc", "qtgt", "speed", 1), st("q", "running")), cancelled("q"),
			s(null("n0", 64*MiB), null("n1", 64*MiB), mirror("n", "n0", "n1", "speed", 1), st("n", "running")), cancelled("n"),
			s(mirror("b", "n0", "n1", "speed", 1, "buf-size", 4*MiB), st("b", "running")), cancelled("b"),
			s(mirror("g", "n0", "n1", "speed", 1, "buf-size", 3*MiB-4096, "granularity", MiB), st("g", "running")), cancelled("g")),
		imgs("src", sparse, "tgt", blank, "qsrc", qsparse, "qtgt", qblank))
	qnode := func(name, backing string) M {
		args := M{"driver": "qcow2", "node-name": name, "file": M{"driver": "file", "filename": "${IMG:" + name + "}"}}
		if backing != "" {
			args["backing"] = backing
		}
		return ex("blockdev-add", args)
	}
	// one chain per job, so every job starts on its own untouched images
	var chains []any
	var nodes []M
	for _, p := range []string{"s", "t", "c"} {
		chains = append(chains,
			p+"base", M{"size": 64 * MiB, "format": "qcow2", "fill": [][3]int64{{0, 3 * MiB, 0xAA}}},
			p+"mid", M{"size": 64 * MiB, "format": "qcow2", "backing": p + "base", "fill": [][3]int64{{0, 64 * 1024, 0x55}, {8 * MiB, 2 * MiB, 0x66}}},
			p+"top", M{"size": 64 * MiB, "format": "qcow2", "backing": p + "mid", "fill": [][3]int64{{5 * MiB, 128 * 1024, 0x11}}})
		nodes = append(nodes, qnode(p+"base", ""), qnode(p+"mid", p+"base"), qnode(p+"top", p+"mid"))
	}
	add("first_move_stream_commit", "block-stream and block-commit at speed 1 move one extent before they sleep, at most 512 KiB, as bdrv_is_allocated_above counts it (the first layer that holds the offset ends the extent): 64 KiB of mid under an empty top, for a full stream, a stream to base and a commit of mid into base (data at offset 0 in every case: after a skipped extent QEMU's stream and commit yield with a zero delay, and a cancel then races the next copy)",
		cat(nodes,
			s(ex("block-stream", M{"job-id": "s", "device": "stop", "speed": 1}), st("s", "running")), cancelled("s"),
			s(ex("block-stream", M{"job-id": "t", "device": "ttop", "base-node": "tbase", "speed": 1}), st("t", "running")), cancelled("t"),
			s(ex("block-commit", M{"job-id": "c", "device": "ctop", "top-node": "cmid", "base-node": "cbase", "speed": 1}), st("c", "running")), cancelled("c")),
		imgs(chains...))
	add("mirror_null_target_bitmap", "a mirror from null-co discards what it cannot read as data or zeroes, which the target ignores: the target's dirty bitmap stays clean; from null-co with read-zeroes it writes zeroes, which dirty it (the minimized TestDifferential disagreement)",
		cat(s(null("n0", GiB), null("n1", GiB), bm("n1", "b0"), mirror("m", "n0", "n1", "speed", 1), st("m", "running")),
			cancelled("m"), s(M{"bitmaps": "n1"}),
			s(ex("blockdev-add", M{"driver": "null-co", "node-name": "z0", "size": GiB, "read-zeroes": true}),
				null("z1", GiB), bm("z1", "b0"), mirror("z", "z0", "z1", "speed", 1), st("z", "running")),
			cancelled("z"), s(M{"bitmaps": "z1"})))
}

// change is block-job-change of a mirror to write-blocking; kv overrides
// arguments, and a nil value leaves that argument out.
func change(id string, kv ...any) M {
	args := merge(M{"id": id, "type": "mirror", "copy-mode": "write-blocking"}, kv...)
	for k, v := range args {
		if v == nil {
			delete(args, k)
		}
	}
	return ex("block-job-change", args)
}

// changes show block-job-change (QEMU 8.2+; spec/qemu-10.0.md §5): QEMU
// 7.2 answers CommandNotFound to every one of them, and both recordings
// are the truth. QEMU does not check type against the job's type: a
// mirror named as another type sees an empty mirror branch, copy mode
// background.
func changes() {
	add("mirror_change_copy_mode", "block-job-change on a running rate-limited mirror: to write-blocking and again to the same mode returns {} (actively-synced stays false while it copies), back to background is not implemented, type commit asks for background, copy-mode missing or unknown, a backup does not support change, unknown ids, a paused mirror accepts it (QEMU 7.2: CommandNotFound every time)",
		cat(slowMirror("m0", "n0", "n1"), s(ex("query-block-jobs"),
			change("m0", "type", "commit", "copy-mode", nil), change("m0"), ex("query-block-jobs"),
			change("m0"), change("m0", "copy-mode", "background"), change("m0", "type", "commit", "copy-mode", nil),
			change("m0", "copy-mode", nil), change("m0", "copy-mode", "sometimes"), change("m0", "type", "nope"),
			change("nosuch")),
			slow("j0", "n2", "n3"), s(change("j0"), change("j0", "type", "backup", "copy-mode", nil),
				ex("job-pause", M{"id": "m0"}), st("m0", "paused"), change("m0"), ex("query-block-jobs"),
				ex("job-resume", M{"id": "m0"}), st("m0", "running"),
				ex("job-cancel", M{"id": "j0"}), st("j0", "null"), ex("job-cancel", M{"id": "m0"}), st("m0", "null"),
				change("m0"))), midrun)
	add("mirror_change_ready", "block-job-change on a ready mirror: write-blocking returns {}, also in standby; actively-synced becomes true once the mirror went round its loop (after a pause and resume); pending and concluded refuse the verb change (QEMU 7.2: CommandNotFound every time)",
		s(null("s0", 4*MiB), null("s1", 4*MiB), mirror("r0", "s0", "s1", manual...), wait("BLOCK_JOB_READY", M{"device": "r0"}),
			ex("query-block-jobs"), change("r0"),
			ex("job-pause", M{"id": "r0"}), st("r0", "standby"), change("r0"), change("r0", "copy-mode", "background"),
			ex("job-resume", M{"id": "r0"}), st("r0", "ready"), ex("query-block-jobs"),
			ex("job-complete", M{"id": "r0"}), wait("BLOCK_JOB_PENDING", M{"id": "r0"}),
			change("r0"), ex("query-block-jobs"),
			ex("job-finalize", M{"id": "r0"}), st("r0", "concluded"), change("r0"), ex("query-block-jobs"),
			ex("job-dismiss", M{"id": "r0"}), st("r0", "null")))
	// an active commit runs on mirror's code, but its driver
	// (commit_active_job_driver) has no change callback
	add("commit_active_change", "block-job-change on a ready active commit, which runs on mirror's code: its driver has no change, so every type answers that the job type does not support change (QEMU 7.2: CommandNotFound)",
		s(qcowNode("base"), ex("blockdev-add", M{"driver": "qcow2", "node-name": "top", "backing": "base",
			"file": M{"driver": "file", "filename": "${IMG:top}"}}),
			ex("block-commit", M{"job-id": "c0", "device": "top"}), wait("BLOCK_JOB_READY", M{"device": "c0"}),
			change("c0"), change("c0", "type", "commit", "copy-mode", nil), ex("query-block-jobs"),
			ex("job-cancel", M{"id": "c0"}), st("c0", "null")),
		imgs("base", M{"size": 4 * MiB, "format": "qcow2", "fill": [][3]int64{{0, 256 * 1024, 0xAA}}},
			"top", M{"size": 4 * MiB, "format": "qcow2", "backing": "base", "fill": [][3]int64{{MiB, 64 * 1024, 0x55}}}))
}
