#!/usr/bin/env python3
"""CPU per request for each data type's commands (issue 16), ferrokv beside redis-server
7.0.15, and optionally an older ferrokv binary, in the same run.

`redis-benchmark -P 16 -c 50` runs each test once per round against every server, the
order rotating per round; CPU per request is the server's CPU time over the run
(/proc/<pid>/task/*/schedstat) divided by the requests. Medians over rounds.

Tests: the built-in LPUSH RPOP SADD SPOP ZADD ZPOPMIN HSET LRANGE_100 LRANGE_600, and
ZRANGEBYSCORE -inf +inf on 1000 preloaded 10-member sorted sets (random key per request),
LPUSH / RPOP on 10k small lists (lpush_small, rpop_small: one node each), HGET on 1000
preloaded 10-field hashes (hget_small10), ZADD / ZRANK on one sorted set of up to 100k
members (zadd_big, zrank_big), HSET / HGET on one hash of up to 100k fields (hset_big,
hget_big).

    python3 perf/types.py [--ferrokv target/release/ferrokv] [--before OLD_BINARY]
                          [--redis /usr/bin/redis-server] [--rounds 3] [--requests 400000]
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory import Conn, resp, start  # noqa: E402

BUILTIN = ["lpush", "rpop", "sadd", "spop", "zadd", "zpopmin", "hset", "lrange_100", "lrange_600"]


def cpu_seconds(pid):
    total = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def preload(port):
    c = Conn(port)
    cmds = []
    for k in range(1000):
        parts = [b"ZADD", b"zs10:%012d" % k]
        for i in range(10):
            parts += [b"%d" % i, b"member:%d" % i]
        cmds.append(resp(*parts))
        parts = [b"HSET", b"hs10:%012d" % k]
        for i in range(10):
            parts += [b"f%d" % i, b"%d" % (k * 10 + i)]
        cmds.append(resp(*parts))
    c.pipeline(cmds)


def run(port, test, n):
    base = ["redis-benchmark", "-p", str(port), "-c", "50", "-P", "16", "-n", str(n), "-q"]
    if test == "zrangebyscore10":
        args = base + ["-r", "1000", "ZRANGEBYSCORE", "zs10:__rand_int__", "-inf", "+inf"]
    elif test == "lpush_small":
        # 10k small lists (one node each: ~40 elements by the end of a run).
        args = base + ["-r", "10000", "LPUSH", "ls:__rand_int__", "e0000000"]
    elif test == "rpop_small":
        args = base + ["-r", "10000", "RPOP", "ls:__rand_int__"]
    elif test == "hget_small10":
        args = base + ["-r", "1000", "HGET", "hs10:__rand_int__", "f5"]
    elif test == "zadd_big":
        # One sorted set of up to 100k members (a skip list): insert or re-score.
        args = base + ["-r", "100000", "ZADD", "zbig", "__rand_int__", "member:__rand_int__"]
    elif test == "zrank_big":
        args = base + ["-r", "100000", "ZRANK", "zbig", "member:__rand_int__"]
    elif test == "hset_big":
        # One hash of up to 100k fields (a hash table).
        args = base + ["-r", "100000", "HSET", "hbig", "field:__rand_int__", "__rand_int__"]
    elif test == "hget_big":
        args = base + ["-r", "100000", "HGET", "hbig", "field:__rand_int__"]
    else:
        args = base + ["-t", test]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferrokv", default=os.path.join(ROOT, "target/release/ferrokv"))
    ap.add_argument("--before", default="", help="an older ferrokv binary to compare too")
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=400000)
    ap.add_argument("--tests", default=",".join(BUILTIN + ["zrangebyscore10", "lpush_small", "rpop_small", "hget_small10",
                                                          "zadd_big", "zrank_big", "hset_big", "hget_big"]))
    ap.add_argument("--port", type=int, default=7870)
    ap.add_argument("--out", default=os.path.join(ROOT, "perf/results/types.md"))
    args = ap.parse_args()
    servers = [("ferrokv", args.ferrokv)]
    if args.before:
        servers.append(("before", args.before))
    servers.append(("redis", args.redis))
    tests = args.tests.split(",")
    cpu = {(s, t): [] for s, _ in servers for t in tests}
    with tempfile.TemporaryDirectory() as d:
        procs = {}
        for i, (name, binary) in enumerate(servers):
            sub = os.path.join(d, name)
            os.mkdir(sub)
            procs[name] = (start(binary, args.port + i, sub), args.port + i)
        try:
            for name, (p, port) in procs.items():
                preload(port)
            for r in range(args.rounds):
                order = servers[r % len(servers):] + servers[:r % len(servers)]
                for t in tests:
                    n = args.requests if not t.startswith("lrange") else args.requests // 4
                    for name, _ in order:
                        p, port = procs[name]
                        c0 = cpu_seconds(p.pid)
                        run(port, t, n)
                        cpu[(name, t)].append((cpu_seconds(p.pid) - c0) / n * 1e6)
                print(f"round {r + 1} done", flush=True)
        finally:
            for p, _ in procs.values():
                p.terminate()
                p.wait(10)
    names = [s for s, _ in servers]
    head = "| test | " + " | ".join(f"{n} µs/req" for n in names) + " | ferrokv/redis |"
    if args.before:
        head += " before/redis |"
    lines = [f"# CPU per request by type ({time.strftime('%Y-%m-%d %H:%M')}, -P 16 -c 50, "
             f"medians of {args.rounds})", "", head,
             "|" + "---|" * (len(names) + (3 if args.before else 2))]
    for t in tests:
        med = {n: statistics.median(cpu[(n, t)]) for n in names}
        row = f"| {t} | " + " | ".join(f"{med[n]:.2f}" for n in names)
        row += f" | {med['ferrokv'] / med['redis']:.2f}"
        if args.before:
            row += f" | {med['before'] / med['redis']:.2f}"
        lines.append(row + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
