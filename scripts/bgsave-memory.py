#!/usr/bin/env python3
"""Memory and write latency during BGSAVE, Rudis next to Redis.

For each server: load N keys (DEBUG POPULATE, values of --value-bytes), start writer clients
that keep overwriting random existing keys with values of the same size, run BGSAVE, and sample
memory every 10 ms until the save ends. Reported per server:

  rss_before      RSS just before BGSAVE (writers already running)
  peak_total      highest memory in use during the save: the server's RSS, plus for Redis the
                  forked child's private pages (what the fork really costs; shared pages are
                  counted once)
  peak/before     the ratio the issue bounds at 1.10 for Rudis
  save_secs       BGSAVE duration
  write_ms        writer round trips before / during the save (p50, p99, max): a write must
                  never wait on the disk

Usage: scripts/bgsave-memory.py --ours target/release/rudis-server [--keys 1000000]
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return rest.decode()
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors="replace")
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise ValueError(line)

    def cmd(self, *args):
        self.sock.sendall(encode(*args))
        return self.read()


def proc_kb(pid, field, path="status"):
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:  # the process (a finished child) is gone
        return 0
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def total_kb(pid):
    """The server's RSS plus its children's private pages (a forked child's real cost)."""
    total = proc_kb(pid, "VmRSS")
    for child in children(pid):
        total += proc_kb(child, "Private_Clean", "smaps_rollup")
        total += proc_kb(child, "Private_Dirty", "smaps_rollup")
    return total


def writer(port, keys, value, stop, latencies, saving):
    c = Conn(port)
    pipeline = 16
    while not stop.is_set():
        batch = b"".join(encode("SET", f"key:{random.randrange(keys)}", value) for _ in range(pipeline))
        t0 = time.perf_counter()
        c.sock.sendall(batch)
        for _ in range(pipeline):
            c.read()
        latencies.append((saving.is_set(), (time.perf_counter() - t0) * 1000))


def measure(binary, keys, value_bytes, writers):
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bgsave-mem-")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", workdir,
         "--enable-debug-command", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                c = Conn(port)
                c.cmd("PING")
                break
            except OSError:
                time.sleep(0.05)
        c.cmd("DEBUG", "POPULATE", keys, "key", value_bytes)
        value = b"x" * value_bytes
        stop, saving = threading.Event(), threading.Event()
        latencies = []
        threads = [threading.Thread(target=writer, args=(port, keys, value, stop, latencies, saving))
                   for _ in range(writers)]
        for t in threads:
            t.start()
        time.sleep(2)
        before = proc_kb(server.pid, "VmRSS")
        saving.set()
        started = time.time()
        assert c.cmd("BGSAVE").startswith("Background saving")
        peak = before
        while True:
            peak = max(peak, total_kb(server.pid))
            info = c.cmd("INFO", "persistence")
            if "rdb_bgsave_in_progress:0" in info:
                break
            time.sleep(0.01)
        save_secs = time.time() - started
        saving.clear()
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
        status = [l for l in c.cmd("INFO", "persistence").split("\r\n") if l.startswith("rdb_last_bgsave_status")]
        return {
            "rss_before_mb": before / 1024,
            "peak_total_mb": peak / 1024,
            "ratio": peak / before,
            "save_secs": save_secs,
            "status": status[0] if status else "?",
            "write_ms_before": summary([ms for s, ms in latencies if not s]),
            "write_ms_during": summary([ms for s, ms in latencies if s]),
        }
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["rm", "-rf", workdir])


def summary(values):
    if not values:
        return "n/a"
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return f"p50 {statistics.median(values):.2f} p99 {p(0.99):.2f} max {values[-1]:.2f} (n={len(values)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--writers", type=int, default=2)
    args = ap.parse_args()
    for name, binary in (("rudis", args.ours), ("redis", args.redis)):
        r = measure(binary, args.keys, args.value_bytes, args.writers)
        print(f"{name:6} rss_before {r['rss_before_mb']:.1f} MB  peak_total {r['peak_total_mb']:.1f} MB  "
              f"peak/before {r['ratio']:.3f}  save {r['save_secs']:.2f} s  {r['status']}")
        print(f"       write round trip (16 SETs) before: {r['write_ms_before']}")
        print(f"       write round trip (16 SETs) during: {r['write_ms_during']}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
