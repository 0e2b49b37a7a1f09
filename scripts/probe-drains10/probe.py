#!/usr/bin/env python3
"""Probe QEMU's drain pause blips: run QMP steps on a qemu-storage-daemon and
print every message in arrival order, then, per command, the paused/running
pairs each job reported while that command was the last one sent.

  probe.py [--qsd PATH] SCENARIO.json...     # corpus scenarios (no images)
  probe.py [--qsd PATH] --probe NAME         # one of the targeted probes below

A blip is an adjacent (paused, running) or (standby, ready) pair of one job
with no command return between them. Steps are the corpus format
(spec/conformance/README.md) without images: send, and wait_event + match.
Waits also end after --settle seconds of silence once the event came.
"""
import argparse, json, os, select, signal, subprocess, sys, time

QSD = os.path.expanduser("~/.cache/jobfsm/qemu-10.0/bin/qemu-storage-daemon-10.0")


class Daemon:
    def __init__(self, path):
        self.p = subprocess.Popen([path, "--chardev", "stdio,id=m", "--monitor", "m"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        self.buf = b""
        self.log = []  # ("send", cmd) | ("return", cmd, ok) | ("event", name, data)
        self.pending = []
        self.read(10)  # greeting
        self.cmd({"execute": "qmp_capabilities"}, quiet=True)

    def read(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise SystemExit("daemon closed its output")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, obj, quiet=False):
        self.p.stdin.write((json.dumps(obj) + "\n").encode())
        self.p.stdin.flush()
        if not quiet:
            self.log.append(("send", obj["execute"] + " " + json.dumps(obj.get("arguments", {}), sort_keys=True)))
        while True:
            m = self.read(30)
            if m is None:
                raise SystemExit("no answer to %s" % obj)
            if "event" in m:
                self.note(m)
                continue
            if not quiet:
                self.log.append(("return", obj["execute"], "error" not in m,
                                 m.get("error", {}).get("desc", "")))
            return m

    def note(self, m):
        self.log.append(("event", m["event"], m.get("data", {})))
        self.pending.append(m)

    def wait(self, name, match, timeout=30):
        end = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.pending):
                if m["event"] == name and all(m.get("data", {}).get(k) == v for k, v in match.items()):
                    del self.pending[:i + 1]
                    return
            m = self.read(max(0.01, end - time.monotonic()))
            if m is None:
                raise SystemExit("timed out waiting for %s %s" % (name, match))
            if "event" in m:
                self.note(m)

    def settle(self, secs):
        while True:
            m = self.read(secs)
            if m is None:
                return
            if "event" in m:
                self.note(m)

    def close(self):
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()


def run(daemon_path, steps, settle):
    d = Daemon(daemon_path)
    try:
        for st in steps:
            if "send" in st:
                d.cmd(st["send"])
            elif "wait_event" in st:
                d.wait(st["wait_event"], st.get("match", {}))
            elif "sleep" in st:
                d.settle(st["sleep"])
        d.settle(settle)
    finally:
        d.close()
    return d.log


def report(log):
    """Print the arrival order and each command's blips per job."""
    last = {}          # job -> last status seen since the last return
    per = []           # [(command, {job: pairs})]
    cur = None
    for e in log:
        if e[0] == "send":
            cur = (e[1], {})
            per.append(cur)
            print(">", e[1])
        elif e[0] == "return":
            print("<", e[1], "ok" if e[2] else "error: " + e[3])
            last.clear()
        elif e[1] == "JOB_STATUS_CHANGE":
            job, st = e[2]["id"], e[2]["status"]
            print("   ", job, st)
            prev = last.get(job)
            if (prev, st) in (("paused", "running"), ("standby", "ready")) and cur is not None:
                cur[1][job] = cur[1].get(job, 0) + 1
                last[job] = None
            else:
                last[job] = st
        else:
            print("   ", e[1], json.dumps(e[2], sort_keys=True))
    print("blips per command:")
    for c, b in per:
        if b:
            print("  %-60s %s" % (c[:60], " ".join("%s:%d" % kv for kv in sorted(b.items()))))


def null(name):
    return {"send": {"execute": "blockdev-add", "arguments": {"driver": "null-co", "node-name": name, "size": 1 << 30}}}


def send(cmd, **args):
    return {"send": {"execute": cmd, "arguments": args}}


def wait(job, status):
    return {"wait_event": "JOB_STATUS_CHANGE", "match": {"id": job, "status": status}}


def running(kind, job, src, dst, **extra):
    return [send(kind, **dict({"job-id": job, "device": src, "target": dst, "sync": "full", "speed": 1}, **extra)),
            wait(job, "running")]


# Targeted probes: a running mirror m0 (n0->n1) watches what one command does.
BASE = [null("n0"), null("n1"), null("n2"), null("n3")] + running("blockdev-mirror", "m0", "n0", "n1")
PROBES = {
    "add": BASE + [null("n4")],
    "add-child": BASE + [send("blockdev-add", **{"driver": "raw", "node-name": "r2", "file": "n2"})],
    "del": BASE + [send("blockdev-del", **{"node-name": "n3"})],
    "del-child": BASE + [send("blockdev-add", **{"driver": "raw", "node-name": "r2", "file": "n2"}),
                         send("blockdev-del", **{"node-name": "r2"})],
    "del-refused": BASE + [send("blockdev-del", **{"node-name": "n0"})],
    "backup": BASE + running("blockdev-backup", "j0", "n2", "n3"),
    "backup-badid": BASE + [send("blockdev-backup", **{"job-id": "1m", "device": "n2", "target": "n3", "sync": "full"})],
    "backup-nodev": BASE + [send("blockdev-backup", **{"job-id": "j0", "device": "nosuch", "target": "n3", "sync": "full"})],
    "backup-notgt": BASE + [send("blockdev-backup", **{"job-id": "j0", "device": "n2", "target": "nosuch", "sync": "full"})],
    "mirror": BASE + running("blockdev-mirror", "m1", "n2", "n3"),
    "mirror-dupid": BASE + [send("blockdev-mirror", **{"job-id": "m0", "device": "n2", "target": "n3", "sync": "full"})],
    "mirror-nodev": BASE + [send("blockdev-mirror", **{"job-id": "m1", "device": "nosuch", "target": "n3", "sync": "full"})],
    "stream": BASE + [send("blockdev-add", **{"driver": "null-co", "node-name": "b4", "size": 1 << 30}),
                      send("blockdev-add", **{"driver": "qcow2", "node-name": "q", "file": "n2", "backing": "b4"})],
    "txn-empty": BASE + [send("transaction", actions=[])],
    "txn-bitmap": BASE + [send("transaction", actions=[{"type": "block-dirty-bitmap-add", "data": {"node": "n2", "name": "b"}}])],
    "bitmap-add": BASE + [send("block-dirty-bitmap-add", node="n2", name="b")],
    "cancel-backup": BASE + running("blockdev-backup", "j0", "n2", "n3") + [send("job-cancel", id="j0"), wait("j0", "null")],
    "cancel-backup-nodismiss": BASE + running("blockdev-backup", "j0", "n2", "n3", **{"auto-dismiss": False}) +
                               [send("job-cancel", id="j0"), wait("j0", "concluded"), send("job-dismiss", id="j0"), wait("j0", "null")],
    "cancel-mirror": BASE + running("blockdev-mirror", "m1", "n2", "n3") + [send("job-cancel", id="m1"), wait("m1", "null")],
    "cancel-mirror-nodismiss": BASE + running("blockdev-mirror", "m1", "n2", "n3", **{"auto-dismiss": False}) +
                               [send("job-cancel", id="m1"), wait("m1", "concluded"), send("job-dismiss", id="m1"), wait("m1", "null")],
    "cancel-self-backup": [null("n2"), null("n3")] + running("blockdev-backup", "j0", "n2", "n3") + [send("job-cancel", id="j0"), wait("j0", "null")],
    "cancel-self-mirror": [null("n2"), null("n3")] + running("blockdev-mirror", "m1", "n2", "n3") + [send("job-cancel", id="m1"), wait("m1", "null")],
    "pause-other": BASE + running("blockdev-backup", "j0", "n2", "n3") + [send("job-pause", id="j0"), wait("j0", "paused")],
    "backup-done": BASE + [send("blockdev-add", **{"driver": "null-co", "node-name": "s4", "size": 4 << 20}),
                           send("blockdev-add", **{"driver": "null-co", "node-name": "s5", "size": 4 << 20}),
                           send("blockdev-backup", **{"job-id": "j0", "device": "s4", "target": "s5", "sync": "full"}),
                           wait("j0", "null")],
    "mirror-done": BASE + [send("blockdev-add", **{"driver": "null-co", "node-name": "s4", "size": 4 << 20}),
                           send("blockdev-add", **{"driver": "null-co", "node-name": "s5", "size": 4 << 20}),
                           send("blockdev-mirror", **{"job-id": "m1", "device": "s4", "target": "s5", "sync": "full"}),
                           wait("m1", "ready"), send("job-complete", id="m1"), wait("m1", "null")],
    "mirror-ready-other": [null("n2"), null("n3"),
                           send("blockdev-add", **{"driver": "null-co", "node-name": "s4", "size": 4 << 20}),
                           send("blockdev-add", **{"driver": "null-co", "node-name": "s5", "size": 4 << 20}),
                           send("blockdev-mirror", **{"job-id": "m1", "device": "s4", "target": "s5", "sync": "full"}),
                           wait("m1", "ready")] + running("blockdev-backup", "j0", "n2", "n3"),
    "add-child-used": BASE + [send("blockdev-add", **{"driver": "raw", "node-name": "r0", "file": "n0"})],
    "add-inline-child": BASE + [send("blockdev-add", **{"driver": "raw", "node-name": "r4", "file": {"driver": "null-co", "node-name": "x4"}})],
    "del-inline-child": BASE + [send("blockdev-add", **{"driver": "raw", "node-name": "r4", "file": {"driver": "null-co", "node-name": "x4"}}),
                                send("blockdev-del", **{"node-name": "r4"})],
    "query": BASE + [send("query-jobs"), send("query-named-block-nodes")],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qsd", default=QSD)
    ap.add_argument("--probe", action="append", default=[], help="|".join(PROBES))
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    for name in a.probe:
        print("== probe", name)
        report(run(a.qsd, PROBES[name], a.settle))
    for path in a.scenarios:
        print("==", path)
        report(run(a.qsd, json.load(open(path))["steps"], a.settle))


if __name__ == "__main__":
    main()
