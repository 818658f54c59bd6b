#!/usr/bin/env python3
"""Reads of keys that exist, Rudis next to Redis (run it on a quiet machine).

The side-by-side benchmark runs GET right after FLUSHALL, so every GET there misses in an
empty keyspace. This one first stores --keys keys (DEBUG POPULATE, renamed to
redis-benchmark's "key:" and 12 digits, values of --value-bytes), then runs redis-benchmark GET
over that key range, so every GET hits. It reports requests per second and the server's CPU
time (user+sys from /proc) per request, alternating the two servers round by round, and the
median ratio Rudis/Redis.

Usage: scripts/read-bench.py --ours target/release/rudis-server [--redis redis-server]
                             [--keys 100000] [--requests 1000000] [--rounds 3]
"""

import argparse
import csv
import io
import os
import socket
import statistics
import subprocess
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, workdir):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=workdir)
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--enable-debug-command", "yes"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while self.cli("PING") != "PONG":
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"{binary} did not start; see {self.dir}/server.log")
            time.sleep(0.1)

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *map(str, args)],
                           capture_output=True, text=True)
        return r.stdout.strip()

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def run(server, requests, keys, pipeline):
    cpu0 = server.cpu_seconds()
    r = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-t", "get", "-n", str(requests),
         "-c", "50", "-P", str(pipeline), "-r", str(keys), "--csv"],
        capture_output=True, text=True, check=True)
    cpu = server.cpu_seconds() - cpu0
    row = [r for r in csv.reader(io.StringIO(r.stdout)) if r and r[0] != "test"][-1]
    return float(row[1]), cpu * 1e6 / requests


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--value-bytes", type=int, default=64)
    ap.add_argument("--requests", type=int, default=1000000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="read-bench-")
    servers = {"A": Server(a.ours, workdir), "B": Server(a.redis, workdir)}
    try:
        for s in servers.values():
            # redis-benchmark's __rand_int__ keys are "key:" and 12 digits.
            s.cli("DEBUG", "POPULATE", a.keys, "key", a.value_bytes)
            s.cli("EVAL", "for i=0,tonumber(ARGV[1])-1 do "
                  "redis.call('RENAME', 'key:' .. i, string.format('key:%012d', i)) end",
                  0, a.keys)
            if s.cli("EXISTS", "key:%012d" % (a.keys - 1)) != "1":
                raise SystemExit("could not prepare the keys")
        print(f"GET of {a.keys} existing keys, {a.requests} requests, 50 clients; "
              f"A = {a.ours}, B = {a.redis}")
        print(f"{'workload':<10}{'A rps':>11}{'B rps':>11}{'A cpu/op':>10}{'B cpu/op':>10}"
              f"{'A/B cpu':>9}")
        for pipeline in (1, 16):
            rows = {"A": [], "B": []}
            ratios = []
            for _ in range(a.rounds):
                for side in ("A", "B"):
                    rows[side].append(run(servers[side], a.requests, a.keys, pipeline))
                ratios.append(rows["A"][-1][1] / rows["B"][-1][1])
            med = lambda side, i: statistics.median(r[i] for r in rows[side])
            print(f"{'GET P' + str(pipeline):<10}{med('A', 0):>11.0f}{med('B', 0):>11.0f}"
                  f"{med('A', 1):>10.2f}{med('B', 1):>10.2f}{statistics.median(ratios):>9.2f}")
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    main()
