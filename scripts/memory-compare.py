#!/usr/bin/env python3
"""Memory per key (or per list element) of the compact encodings, Rudis against Redis.

RSS growth of a fresh server while loading, through one pipelined connection:
  hash: 100,000 hashes of 10 short fields      (HSET k:N field0 value0 ... field9 value9)
  set:  100,000 sets of 10 integers            (SADD k:N ...)
  zset: 100,000 sorted sets of 10 members      (ZADD k:N 0 member0 ...)
  list: one list of 1,000,000 short elements   (RPUSH biglist item0 ... in batches of 100)

Usage: scripts/memory-compare.py target/release/rudis-server [/usr/bin/redis-server]
Needs redis-cli. Prints one line per server and scenario.
"""
import subprocess, time, io, sys, socket
def free_port():
    s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]; s.close(); return p
def cmd(*args):
    out=b"*%d\r\n"%len(args)
    for a in args:
        a=a if isinstance(a,bytes) else str(a).encode()
        out+=b"$%d\r\n%s\r\n"%(len(a),a)
    return out
def rss(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"): return int(l.split()[1])*1024
def measure(binary, name, gen, n):
    port=free_port()
    p=subprocess.Popen([binary,"--port",str(port),"--save","","--appendonly","no"],stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    b=rss(p.pid)
    buf=io.BytesIO()
    for c in gen(): buf.write(c)
    r=subprocess.run(["redis-cli","-p",str(port),"--pipe"],input=buf.getvalue(),capture_output=True)
    time.sleep(0.5)
    a=rss(p.pid)
    enc=subprocess.run(["redis-cli","-p",str(port),"object","encoding","k:1" if name!="list" else "biglist"],capture_output=True).stdout.decode().strip()
    p.terminate(); p.wait()
    print(f"{binary.split('/')[-1]:14} {name:6} {(a-b)/n:8.1f} bytes per {'key' if name!='list' else 'item'}  encoding={enc}")
gens={
 "hash": (lambda: (cmd("HSET",f"k:{i}",*sum([[f"field{j}",f"value{j}"] for j in range(10)],[])) for i in range(100000)), 100000),
 "set": (lambda: (cmd("SADD",f"k:{i}",*[i*10+j for j in range(10)]) for i in range(100000)), 100000),
 "zset": (lambda: (cmd("ZADD",f"k:{i}",*sum([[j,f"member{j}"] for j in range(10)],[])) for i in range(100000)), 100000),
 "list": (lambda: (cmd("RPUSH","biglist",*[f"item{i*100+j}" for j in range(100)]) for i in range(10000)), 1000000),
}
for binary in sys.argv[1:] or ['target/release/rudis-server', '/usr/bin/redis-server']:
    for name,(g,n) in gens.items():
        measure(binary, name, g, n)
