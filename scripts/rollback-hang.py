#!/usr/bin/env python3
"""Checks whether a qemu-storage-daemon still has the grouped-transaction rollback hang (reference §12, §13).

  scripts/rollback-hang.py [--timeout S] QEMU-STORAGE-DAEMON

Sends `transaction` with `completion-mode: grouped`: two `blockdev-backup` actions that would succeed (null-co
nodes, `speed: 1`) and a third whose target does not exist. QEMU 7.2.22 and 10.0.13 never answer: they emit
created(a), created(b), aborting(b), concluded(b), null(b) and then sit in poll, ignoring SIGTERM. The script
prints what came, waits --timeout seconds for the answer, sends SIGTERM, then kills the daemon's process group.
Exit status: 0 when the daemon hung as described, 1 when it answered (or anything else differs), 2 on usage.
"""
import argparse, json, os, select, signal, subprocess, sys, time

EXPECTED = [("a", "created"), ("b", "created"), ("b", "aborting"), ("b", "concluded"), ("b", "null")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=10)
    ap.add_argument("daemon")
    args = ap.parse_args()
    p = subprocess.Popen([args.daemon, "--chardev", "stdio,id=m", "--monitor", "m"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    buf = b""

    def read(deadline):
        """The next message, or None once deadline passes or the output ends."""
        nonlocal buf
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
                return None
            chunk = os.read(p.stdout.fileno(), 1 << 16)
            if not chunk:
                return None
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        return json.loads(line)

    def send(cmd):
        p.stdin.write((json.dumps(cmd) + "\n").encode())
        p.stdin.flush()

    try:
        greeting = read(time.monotonic() + 20)
        if not greeting or "QMP" not in greeting:
            print("no QMP greeting")
            return 1
        print("greeting:", json.dumps(greeting["QMP"]["version"]))
        send({"execute": "qmp_capabilities", "id": "cap"})
        for n in ["s0", "t0", "s1", "t1"]:
            send({"execute": "blockdev-add", "id": n,
                  "arguments": {"driver": "null-co", "node-name": n, "size": 1 << 30}})
        setup = {"cap", "s0", "t0", "s1", "t1"}
        while setup:
            m = read(time.monotonic() + 20)
            if m is None or "error" in m:
                print("set-up failed:", m)
                return 1
            setup.discard(m.get("id"))
        backup = lambda job, dev, tgt: {"type": "blockdev-backup", "data": {
            "job-id": job, "device": dev, "target": tgt, "sync": "full", "speed": 1}}
        send({"execute": "transaction", "id": "txn", "arguments": {
            "actions": [backup("a", "s0", "t0"), backup("b", "s1", "t1"), backup("c", "s0", "nosuch")],
            "properties": {"completion-mode": "grouped"}}})
        deadline = time.monotonic() + args.timeout
        seen, answer = [], None
        while answer is None:
            m = read(deadline)
            if m is None:
                break
            if m.get("id") == "txn":
                answer = m
            elif m.get("event") == "JOB_STATUS_CHANGE":
                seen.append((m["data"]["id"], m["data"]["status"]))
            print("  ", json.dumps({k: v for k, v in m.items() if k != "timestamp"}, sort_keys=True))
        if answer is not None:
            print("answered: no hang")
            return 1
        print("no answer within %gs" % args.timeout)
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=2)
            print("exited on SIGTERM")
        except subprocess.TimeoutExpired:
            print("still running 2s after SIGTERM")
        if seen != EXPECTED:
            print("events differ from reference §12/§13:", seen)
            return 1
        print("hang reproduced")
        return 0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


if __name__ == "__main__":
    sys.exit(main())
