#!/usr/bin/env python3
"""Probe QEMU's drain pause blips: run QMP steps on a qemu-storage-daemon and
print every message in arrival order, then, per command, the paused/running
pairs each job reported while that command was the last one sent.

  probe.py [--qsd PATH] SCENARIO.json...

The targeted probes are conformance/testdata/drains/*.json (a running job
watches what one command does); their transcripts on 7.2 and 10.0 are
recorded next to them by `go test ./conformance -run TestDrainProbes -args
-record-drains`. This script runs only scenarios without images (the
commit_* and stream_* probes need qcow2 images: read their recorded
transcripts, whose events list keeps the arrival order). The corpus scenarios of spec/qemu-10.0.md §1 run as well:
  probe.py spec/conformance/job_ids.json
Default daemon: 10.0 from scripts/setup-qemu10.sh; --qsd qemu-storage-daemon
for 7.2.

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qsd", default=QSD)
    ap.add_argument("--settle", type=float, default=0.5)
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    for path in a.scenarios:
        print("==", path)
        report(run(a.qsd, json.load(open(path))["steps"], a.settle))


if __name__ == "__main__":
    main()
