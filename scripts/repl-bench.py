#!/usr/bin/env python3
"""Replication benchmark, Rudis next to Redis (run it on a quiet machine).

1. Full sync: a master holding --keys keys (DEBUG POPULATE, values of --value-bytes) gets a
   fresh replica (REPLICAOF); reported is the time from REPLICAOF to `master_link_status:up`
   on the replica, with diskless and with disk-based transfer. Rudis master to Rudis replica
   next to Redis master to Redis replica.
2. Master CPU per request: redis-benchmark (SET, --requests, pipeline 16) against the master
   with no replica, then with two replicas attached; reported is the master's CPU time
   (user+sys from /proc) per request, and how much it rises with the replicas.

Usage: scripts/repl-bench.py --ours target/release/rudis-server [--redis redis-server]
                             [--keys 1000000] [--requests 1000000]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli(port, *args):
    out = subprocess.run(
        ["redis-cli", "-p", str(port), *map(str, args)],
        capture_output=True, text=True, check=True)
    return out.stdout.strip()


def info_field(port, section, name):
    for line in cli(port, "INFO", section).splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


class Server:
    def __init__(self, binary, *extra):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="repl-bench-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile", "server.log",
             "--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if cli(self.port, "PING") == "PONG":
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{binary} did not start")

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir])


def wait_up(port, timeout_s=600):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if info_field(port, "replication", "master_link_status") == "up":
            return
        time.sleep(0.01)
    raise RuntimeError("replica never came up")


def full_sync_secs(binary, keys, value_bytes, diskless):
    master = Server(binary, "--repl-diskless-sync", "yes" if diskless else "no")
    replica = Server(binary)
    try:
        cli(master.port, "DEBUG", "POPULATE", keys, "key", value_bytes)
        started = time.time()
        cli(replica.port, "REPLICAOF", "127.0.0.1", master.port)
        wait_up(replica.port)
        return time.time() - started
    finally:
        replica.stop()
        master.stop()


def cpu_per_request_us(master, requests):
    before = master.cpu_seconds()
    subprocess.run(
        ["redis-benchmark", "-p", str(master.port), "-t", "set", "-n", str(requests),
         "-P", "16", "-r", "100000", "-q"],
        capture_output=True, check=True)
    return (master.cpu_seconds() - before) / requests * 1e6


def replica_cpu_cost(binary, requests):
    master = Server(binary)
    replicas = []
    try:
        alone = cpu_per_request_us(master, requests)
        for _ in range(2):
            r = Server(binary)
            replicas.append(r)
            cli(r.port, "REPLICAOF", "127.0.0.1", master.port)
            wait_up(r.port)
        with_two = cpu_per_request_us(master, requests)
        return alone, with_two
    finally:
        for r in replicas:
            r.stop()
        master.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True, help="rudis-server binary")
    ap.add_argument("--redis", default="redis-server")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value-bytes", type=int, default=16)
    ap.add_argument("--requests", type=int, default=1_000_000)
    args = ap.parse_args()
    servers = [("rudis", args.ours), ("redis", args.redis)]
    print(f"full sync of {args.keys} keys ({args.value_bytes}-byte values), seconds")
    sync = {}
    for name, binary in servers:
        for diskless in (True, False):
            secs = full_sync_secs(binary, args.keys, args.value_bytes, diskless)
            sync[(name, diskless)] = secs
            mode = "diskless" if diskless else "disk"
            print(f"  {name:6} {mode:9} {secs:8.2f}")
    for diskless in (True, False):
        mode = "diskless" if diskless else "disk"
        ratio = sync[("rudis", diskless)] / sync[("redis", diskless)]
        print(f"  rudis/redis {mode}: {ratio:.2f} (goal: <= 1.00)")
    print(f"master CPU per SET request, microseconds ({args.requests} requests, pipeline 16)")
    rise = {}
    for name, binary in servers:
        alone, with_two = replica_cpu_cost(binary, args.requests)
        rise[name] = with_two - alone
        print(f"  {name:6} no replica {alone:6.3f}  two replicas {with_two:6.3f}"
              f"  rise {with_two - alone:+.3f}")
    print(f"  rise rudis - redis: {rise['rudis'] - rise['redis']:+.3f} us (goal: <= 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
