#!/usr/bin/env python3
"""Side-by-side benchmark of ferrokv and redis-server (see perf/compare.sh for usage).

Both servers run with the same options and test certificates on loopback. For every case
redis-benchmark runs against each server in alternating rounds (A B, B A, A B, ...); each
run reports rps and latency percentiles (--csv) and the server's CPU time over the run
(utime+stime from /proc/<pid>/stat), from which CPU seconds per request follow. Medians
over rounds are tabulated with ferrokv/Redis ratios and checked against issue #6's targets.
"""
import argparse
import csv
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")
TESTS = ["set", "get", "incr", "lpush", "lrange_100"]


def stat_cpu_seconds(pid):
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat);
    counted in clock ticks (10 ms)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def user_sys_seconds(pid):
    """(utime, stime) of a process in seconds, from /proc/<pid>/stat (10 ms ticks: only
    meaningful over runs of a second or more)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid):
    """CPU time of a process, all threads. The scheduler's own account
    (/proc/<pid>/task/*/schedstat, nanoseconds) is the same quantity as /proc/<pid>/stat's
    utime+stime without its 10 ms granularity; /proc/<pid>/stat is the fallback."""
    try:
        total = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        return stat_cpu_seconds(pid)


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Srv:
    """A server process (ferrokv or redis-server) on a plain and a TLS port."""

    def __init__(self, name, binary, port, tls_port, certs, logdir):
        self.name, self.port, self.tls_port = name, port, tls_port
        for p in (port, tls_port):
            # Never benchmark somebody else's server that happens to hold the port.
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", p)) == 0:
                    sys.exit(f"port {p} is already in use: pick others with --port-base")
        args = [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--tls-port", str(tls_port),
            "--tls-cert-file", f"{certs}/redis.crt",
            "--tls-key-file", f"{certs}/redis.key",
            "--tls-ca-cert-file", f"{certs}/ca.crt",
            "--tls-auth-clients", "no",
            "--loglevel", "warning",
            "--dir", logdir,
        ]
        self.log = open(os.path.join(logdir, f"{name}.log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        sys.exit(f"{name} did not start; see {self.log.name}")

    @property
    def pid(self):
        return self.proc.pid

    def cmd(self, *words):
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), *words],
            capture_output=True, text=True, timeout=60,
        )
        return out.stdout.strip()

    def info_field(self, section, field):
        for line in self.cmd("INFO", section).splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


USE_PERF_STAT = False


class PerfStat:
    """`perf stat` attached to a server for one run: instructions (user + kernel) are far
    less disturbed by other load on a shared machine than CPU time is."""

    def __init__(self, pid):
        import tempfile
        self.out = tempfile.NamedTemporaryFile(prefix="ferrokv-perfstat-", suffix=".csv", delete=False).name
        self.proc = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e", "instructions,cycles", "-p", str(pid), "-o", self.out],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.15)  # let it attach before the load starts

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        vals = {}
        try:
            with open(self.out) as f:
                for line in f:
                    parts = line.strip().split(",")
                    if len(parts) > 2 and parts[0].replace(".", "").isdigit():
                        vals[parts[2].split(":")[0]] = float(parts[0])
            os.unlink(self.out)
        except OSError:
            pass
        return vals


def perf_counts_instructions():
    """Whether `perf stat` can count instructions here (not in most VMs)."""
    if not shutil.which("perf"):
        return False
    r = subprocess.run(["perf", "stat", "-x", ",", "-e", "instructions", "--", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0 and "not supported" not in r.stderr and "instructions" in r.stderr


def bench(srv, case, test, n, clients, certs):
    """One redis-benchmark run of one test; returns a result dict."""
    args = ["redis-benchmark", "-h", "127.0.0.1", "-c", str(case.get("clients", clients)),
            "-n", str(n), "-P", str(case["pipeline"]), "-k", str(case.get("keepalive", 1)),
            "-t", test, "--csv", "-r", "100000"]
    if case.get("datasize"):
        args += ["-d", str(case["datasize"])]
    if case["tls"]:
        args += ["-p", str(srv.tls_port), "--tls", "--cacert", f"{certs}/ca.crt"]
        if case.get("mtls"):
            args += ["--cert", f"{certs}/client.crt", "--key", f"{certs}/client.key"]
    else:
        args += ["-p", str(srv.port)]
    stat = PerfStat(srv.pid) if USE_PERF_STAT else None
    before, before_ticks = cpu_seconds(srv.pid), stat_cpu_seconds(srv.pid)
    t0 = time.time()
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    wall = time.time() - t0
    cpu = cpu_seconds(srv.pid) - before
    cpu_ticks = stat_cpu_seconds(srv.pid) - before_ticks
    counters = stat.stop() if stat else {}
    rows = [r for r in csv.reader(io.StringIO(out.stdout)) if r and r[0] != "test"]
    if not rows:
        print(f"  ! {srv.name} {case['name']} {test}: no output: {out.stderr.strip()[:200]}")
        return None
    # redis-benchmark may split one -t name into several rows (e.g. LPUSH then LRANGE's fill).
    row = rows[-1] if test.startswith("lrange") else rows[0]
    rps, p50, p99 = float(row[1]), float(row[4]), float(row[6])
    instr = counters.get("instructions")
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "cpu_s": cpu, "wall_s": wall,
            "requests": n, "cpu_us_per_req": cpu / n * 1e6, "stat_cpu_s": cpu_ticks,
            "instr_per_req": instr / n if instr else None}


# Long GET runs (about 2 s each) for the user/kernel split: /proc/<pid>/stat counts in
# 10 ms ticks. (case name, TLS, pipeline, requests)
FLOOR_CASES = [("plain P1", False, 1, 150000), ("plain P16", False, 16, 2000000),
               ("tls P1", True, 1, 120000), ("tls P16", True, 16, 1600000)]


def floor_run(srv, tls, pipeline, n, clients, certs):
    """Server user and kernel CPU µs per GET request over one long run."""
    args = ["redis-benchmark", "-h", "127.0.0.1", "-c", str(clients), "-n", str(n),
            "-P", str(pipeline), "-t", "get", "-q"]
    if tls:
        args += ["-p", str(srv.tls_port), "--tls", "--cacert", f"{certs}/ca.crt"]
    else:
        args += ["-p", str(srv.port)]
    u0, s0 = user_sys_seconds(srv.pid)
    subprocess.run(args, capture_output=True, text=True, timeout=600)
    u1, s1 = user_sys_seconds(srv.pid)
    return {"user_us": (u1 - u0) / n * 1e6, "sys_us": (s1 - s0) / n * 1e6}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


def cases(args):
    n, nconn = args.requests, args.conn_requests
    all_cases = [
        {"name": "plain P1", "tls": False, "pipeline": 1, "tests": TESTS, "n": n},
        {"name": "plain P16", "tls": False, "pipeline": 16, "tests": TESTS, "n": n * 4},
        {"name": "tls P1", "tls": True, "pipeline": 1, "tests": TESTS, "n": n},
        {"name": "tls P16", "tls": True, "pipeline": 16, "tests": TESTS, "n": n * 4},
        {"name": "mtls P1", "tls": True, "mtls": True, "pipeline": 1, "tests": ["set", "get"], "n": n},
        {"name": "newconn plain", "tls": False, "pipeline": 1, "keepalive": 0, "tests": ["get"], "n": nconn},
        # A full TLS handshake per request costs ~100x a request: fewer of them.
        {"name": "newconn tls", "tls": True, "pipeline": 1, "keepalive": 0, "tests": ["get"],
         "n": max(nconn // 4, 100)},
        # Large SETs over TLS (issue 16): one client shows a delayed-ACK stall in p50 (a
        # server that waits out the client's Nagle takes ~44 ms a request), 20 clients the
        # throughput. Few requests: a stalling server does ~25 a second.
        {"name": "tls large 40KB c1", "tls": True, "pipeline": 1, "clients": 1,
         "datasize": 40000, "tests": ["set"], "n": max(n // 300, 50)},
        {"name": "tls large 100KB c1", "tls": True, "pipeline": 1, "clients": 1,
         "datasize": 100000, "tests": ["set"], "n": max(n // 300, 50)},
        {"name": "tls large 40KB c20", "tls": True, "pipeline": 1, "clients": 20,
         "datasize": 40000, "tests": ["set"], "n": max(n // 15, 400)},
        {"name": "tls large 100KB c20", "tls": True, "pipeline": 1, "clients": 20,
         "datasize": 100000, "tests": ["set"], "n": max(n // 15, 400)},
    ]
    if args.cases:
        want = [c.strip() for c in args.cases.split(",")]
        all_cases = [c for c in all_cases if any(w in c["name"] for w in want)]
    return all_cases


_SSL_CONTEXTS = {}


def _ssl_context(certs, tls12=False):
    """One client context per CA and version: a session can only be resumed from the
    context that made it."""
    import ssl
    if (certs, tls12) not in _SSL_CONTEXTS:
        ctx = ssl.create_default_context(cafile=f"{certs}/ca.crt")
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        _SSL_CONTEXTS[(certs, tls12)] = ctx
    return _SSL_CONTEXTS[(certs, tls12)]


def tls_connect_ping(port, certs, session=None, tls12=False):
    """One TLS connection: handshake (resuming `session` if given), PING, close.
    Returns (session to resume next, whether this one was resumed)."""
    ctx = _ssl_context(certs, tls12)
    raw = socket.create_connection(("127.0.0.1", port))
    # As Redis clients do; without it a TLS 1.2 resumption stalls 40 ms (Nagle + delayed ACK).
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    s.sendall(b"PING\r\n")
    s.recv(64)  # TLS 1.3 tickets arrive with or before the reply
    reused = s.session_reused
    sess = s.session
    s.close()
    return sess, reused


def handshake_case(srv, certs, n, tls12=False):
    """Server CPU per full handshake and per resumed handshake (Python's ssl client,
    sessions from the previous connection). Each connection also does one PING."""
    _, _ = tls_connect_ping(srv.tls_port, certs, tls12=tls12)
    before = cpu_seconds(srv.pid)
    t0 = time.time()
    for _ in range(n):
        tls_connect_ping(srv.tls_port, certs, tls12=tls12)
    full_cpu, full_wall = cpu_seconds(srv.pid) - before, time.time() - t0
    sess, _ = tls_connect_ping(srv.tls_port, certs, tls12=tls12)
    resumed = 0
    before = cpu_seconds(srv.pid)
    t0 = time.time()
    for _ in range(n):
        sess, r = tls_connect_ping(srv.tls_port, certs, sess, tls12=tls12)
        resumed += r
    res_cpu, res_wall = cpu_seconds(srv.pid) - before, time.time() - t0
    return {"n": n, "full_cpu_us": full_cpu / n * 1e6, "resumed_cpu_us": res_cpu / n * 1e6,
            "resumed": resumed, "full_per_s": n / full_wall, "resumed_per_s": n / res_wall}


def load_memory(srv, keys, value, hashes, fields):
    """Load `keys` strings of `value` bytes, then `hashes` hashes of `fields` small fields,
    pipelined over one connection; identical data for both servers."""
    s = socket.create_connection(("127.0.0.1", srv.port))
    val = b"v" * value

    def send(batch):
        s.sendall(b"".join(batch))
        want = len(batch)
        got, buf = 0, b""
        while got < want:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed while loading")
            buf += chunk
            got = buf.count(b"\r\n")
        return buf

    batch = []
    for i in range(keys):
        k = b"key:%012d" % i
        batch.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(val), val))
        if len(batch) == 5000:
            send(batch)
            batch = []
    if batch:
        send(batch)
    batch = []
    for h in range(hashes):
        k = b"hash:%09d" % h
        parts = [b"HSET", k]
        for f in range(fields):
            parts += [b"f%d" % f, b"%d" % (h * fields + f)]
        cmd = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        batch.append(cmd)
        if len(batch) == 2000:
            send(batch)
            batch = []
    if batch:
        send(batch)
    s.close()


def memory_case(args, logdir):
    out = {}
    for name, binary, port in (("ferrokv", args.ferrokv, args.port_base + 20),
                               ("redis", args.redis, args.port_base + 22)):
        srv = Srv(name + "-mem", binary, port, port + 1, args.certs, logdir)
        try:
            time.sleep(0.2)
            rss0 = rss_bytes(srv.pid)
            used0 = int(srv.info_field("memory", "used_memory") or 0)
            t0 = time.time()
            load_memory(srv, args.mem_keys, 100, 0, 0)
            rss1 = rss_bytes(srv.pid)
            used1 = int(srv.info_field("memory", "used_memory") or 0)
            load_memory(srv, 0, 0, args.mem_keys // 10, 10)
            rss2 = rss_bytes(srv.pid)
            used2 = int(srv.info_field("memory", "used_memory") or 0)
            dbsize = srv.cmd("DBSIZE")
            out[name] = {
                "strings_rss": rss1 - rss0, "strings_used_memory": used1 - used0,
                "hash_rss": rss2 - rss1, "hash_used_memory": used2 - used1,
                "total_rss": rss2, "dbsize": dbsize, "load_s": time.time() - t0,
            }
            print(f"  memory {name}: {out[name]}")
        finally:
            srv.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer requests and keys (about 1-2 min)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per server (A B alternating)")
    ap.add_argument("--requests", type=int, default=30000, help="-n for -P 1 cases (x4 for -P 16)")
    ap.add_argument("--conn-requests", type=int, default=3000, help="-n for the -k 0 cases")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--mem-keys", type=int, default=1000000, help="strings for the memory case")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--handshakes", type=int, default=500, help="connections per handshake run")
    ap.add_argument("--no-handshakes", action="store_true")
    ap.add_argument("--no-floor", action="store_true",
                    help="skip the long runs that split server CPU into user and kernel time")
    ap.add_argument("--cases", help="comma-separated substrings of case names to run")
    ap.add_argument("--port-base", type=int, default=7810,
                    help="ferrokv on BASE/BASE+1, redis on BASE+10/+11, memory case BASE+20..+23")
    ap.add_argument("--ferrokv", default=os.path.join(ROOT, "target/release/ferrokv"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--certs", default=os.path.join(ROOT, "tests/tls"))
    ap.add_argument("--out", default=os.path.join(ROOT, "perf/results"))
    ap.add_argument("--no-chart", action="store_true")
    ap.add_argument("--no-perf-stat", action="store_true",
                    help="do not count instructions per request with `perf stat`")
    args = ap.parse_args()
    if args.quick:
        args.requests = min(args.requests, 10000)
        args.conn_requests = min(args.conn_requests, 1000)
        args.mem_keys = min(args.mem_keys, 200000)
        args.handshakes = min(args.handshakes, 200)
    global USE_PERF_STAT
    USE_PERF_STAT = not args.no_perf_stat and perf_counts_instructions()
    os.makedirs(args.out, exist_ok=True)
    logdir = os.environ.get("PERF_LOGDIR", "/tmp/ferrokv-perf-logs")
    os.makedirs(logdir, exist_ok=True)
    for tool in ("redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install redis-tools)")

    servers = {}
    results = {}  # (case, test, server) -> [run dicts]
    handshakes = {}  # (server, tls12) -> [handshake_case dicts]
    floors = {}  # (case, server) -> [floor_run dicts]
    started = time.time()
    try:
        servers["ferrokv"] = Srv("ferrokv", args.ferrokv, args.port_base, args.port_base + 1,
                                 args.certs, logdir)
        servers["redis"] = Srv("redis", args.redis, args.port_base + 10, args.port_base + 11,
                               args.certs, logdir)
        order = ["ferrokv", "redis"]
        for case in cases(args):
            mtls = "yes" if case.get("mtls") else "no"
            for s in servers.values():
                s.cmd("CONFIG", "SET", "tls-auth-clients", mtls)
            for test in case["tests"]:
                for r in range(args.rounds):
                    # A B, then B A: neither server always runs first.
                    for name in (order if r % 2 == 0 else order[::-1]):
                        res = bench(servers[name], case, test, case["n"], args.clients, args.certs)
                        results.setdefault((case["name"], test, name), []).append(res)
                f = median(x["rps"] for x in results[(case["name"], test, "ferrokv")] if x)
                rr = median(x["rps"] for x in results[(case["name"], test, "redis")] if x)
                print(f"  {case['name']:<14} {test:<11} ferrokv {f:>10.0f} rps   redis {rr:>10.0f} rps")
            for s in servers.values():
                s.cmd("CONFIG", "SET", "tls-auth-clients", "no")
        if not args.no_floor:
            for case, tls, pipeline, n in FLOOR_CASES:
                if args.cases and not any(w.strip() in case for w in args.cases.split(",")):
                    continue
                n = n // 4 if args.quick else n
                for r in range(args.rounds):
                    for name in (order if r % 2 == 0 else order[::-1]):
                        res = floor_run(servers[name], tls, pipeline, n, args.clients, args.certs)
                        floors.setdefault((case, name), []).append(res)
                        print(f"  split {case} {name}: {res}")
        if not args.no_handshakes:
            for tls12 in (False, True):
                for r in range(args.rounds):
                    for name in (order if r % 2 == 0 else order[::-1]):
                        res = handshake_case(servers[name], args.certs, args.handshakes, tls12)
                        handshakes.setdefault((name, tls12), []).append(res)
                        print(f"  handshakes {name} {'TLS1.2' if tls12 else 'TLS1.3'}: {res}")
    finally:
        for s in servers.values():
            s.stop()
    memory = {} if args.no_memory else memory_case(args, logdir)
    elapsed = time.time() - started
    write_report(args, results, memory, handshakes, floors, elapsed)


def summarize(results):
    rows = []
    seen = []
    for (case, test, _) in results:
        if (case, test) not in seen:
            seen.append((case, test))
    for case, test in seen:
        row = {"case": case, "test": test}
        for name in ("ferrokv", "redis"):
            runs = [x for x in results.get((case, test, name), []) if x]
            for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "instr_per_req"):
                row[f"{name}_{k}"] = median(x.get(k) for x in runs)
        for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "instr_per_req"):
            r = row[f"redis_{k}"]
            row[f"ratio_{k}"] = row[f"ferrokv_{k}"] / r if r else float("nan")
        rows.append(row)
    return rows


# Issue #6 targets on server CPU per request (ferrokv / Redis).
CPU_TARGETS = {"tls P16": 0.5, "tls P1": 0.7, "plain P16": 0.5, "plain P1": 0.75}


def write_report(args, results, memory, handshakes, floors, elapsed):
    rows = summarize(results)
    L = []
    L.append("# ferrokv vs redis-server 7.0.15: side-by-side\n")
    L.append(f"Generated {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} by perf/compare.sh "
             f"in {elapsed:.0f} s; {args.rounds} alternating rounds per server, medians; "
             f"-c {args.clients}, -n {args.requests} (-P 16: x4, -k 0: {args.conn_requests}); "
             f"{os.cpu_count()} CPUs, shared.\n")
    L.append("CPU = server CPU time per request: utime+stime, read at nanosecond resolution from "
             "/proc/<pid>/task/*/schedstat (the 10 ms-tick /proc/<pid>/stat figures are in latest.json as stat_cpu_s). "
             "Ratios are ferrokv / Redis: below 1 is better for CPU and latency, above 1 for rps.\n")
    instr = USE_PERF_STAT
    if instr:
        L.append("Instructions = user+kernel instructions retired by the server per request (`perf stat -p`), "
                 "the figure least disturbed by other load on the machine.\n")
    L.append("| case | test | ferrokv rps | Redis rps | rps ratio | ferrokv p50/p99 ms | Redis p50/p99 ms | p99 ratio "
             "| ferrokv CPU µs/req | Redis CPU µs/req | CPU ratio |"
             + (" ferrokv instr/req | Redis instr/req | instr ratio |" if instr else ""))
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if instr else ""))
    for r in rows:
        L.append(
            f"| {r['case']} | {r['test']} | {r['ferrokv_rps']:.0f} | {r['redis_rps']:.0f} | {r['ratio_rps']:.2f} "
            f"| {r['ferrokv_p50_ms']:.3f} / {r['ferrokv_p99_ms']:.3f} | {r['redis_p50_ms']:.3f} / {r['redis_p99_ms']:.3f} "
            f"| {r['ratio_p99_ms']:.2f} | {r['ferrokv_cpu_us_per_req']:.2f} | {r['redis_cpu_us_per_req']:.2f} | {r['ratio_cpu_us_per_req']:.2f} |"
            + (f" {r['ferrokv_instr_per_req']:.0f} | {r['redis_instr_per_req']:.0f} | {r['ratio_instr_per_req']:.2f} |" if instr else ""))
    L.append("\n## Targets (issue #6)\n")
    L.append("| target | measured | met |")
    L.append("|---|---:|---|")
    for case, target in CPU_TARGETS.items():
        rs = [r for r in rows if r["case"] == case]
        if not rs:
            continue
        m = statistics.median(r["ratio_cpu_us_per_req"] for r in rs)
        mi = median(r["ratio_instr_per_req"] for r in rs)
        L.append(f"| {case}: CPU/request ≤ {target}x Redis (median over tests) | {m:.2f}x"
                 + (f" (instructions {mi:.2f}x)" if instr else "") + " "
                 f"| {'yes' if m <= target else 'NO'} |")
    worst_rps = min(rows, key=lambda r: r["ratio_rps"]) if rows else None
    if worst_rps:
        L.append(f"| rps never below Redis | lowest {worst_rps['ratio_rps']:.2f}x ({worst_rps['case']} {worst_rps['test']}) "
                 f"| {'yes' if worst_rps['ratio_rps'] >= 1 else 'NO'} |")
        worst_p99 = max(rows, key=lambda r: r["ratio_p99_ms"])
        L.append(f"| p99 no higher than Redis | highest {worst_p99['ratio_p99_ms']:.2f}x ({worst_p99['case']} {worst_p99['test']}) "
                 f"| {'yes' if worst_p99['ratio_p99_ms'] <= 1 else 'NO'} |")
    hs = [r for r in rows if r["case"] == "newconn tls"]
    if hs:
        r = hs[0]
        L.append(f"| full TLS handshakes per CPU-second ≥ Redis | CPU/connection {r['ratio_cpu_us_per_req']:.2f}x "
                 f"| {'yes' if r['ratio_cpu_us_per_req'] <= 1 else 'NO'} |")
    hs_table = []
    for tls12, version in ((False, "TLS 1.3"), (True, "TLS 1.2")):
        runs_f, runs_r = handshakes.get(("ferrokv", tls12)), handshakes.get(("redis", tls12))
        if not (runs_f and runs_r):
            continue
        hf = {k: median(x[k] for x in runs_f) for k in runs_f[0]}
        hr = {k: median(x[k] for x in runs_r) for k in runs_r[0]}
        cheaper = hf["full_cpu_us"] / hf["resumed_cpu_us"] if hf["resumed_cpu_us"] else float("inf")
        how = "PSK with X25519: a key exchange on every resumption" if not tls12 else \
            "session ticket or session-id cache, no key exchange"
        L.append(f"| resumed handshakes ≥ 5x cheaper than full (ferrokv, {version}: {how}) | {cheaper:.1f}x "
                 f"| {'yes' if cheaper >= 5 else 'NO'} |")
        hs_table += [
            f"\n## TLS handshakes, {version} (perf/compare.py handshake_case)\n",
            f"Python ssl client (OpenSSL), one PING per connection, {args.handshakes} connections per run, medians of "
            f"{args.rounds} alternating rounds. Resumed = session from the previous connection; "
            f"full/resumed CPU ratio: ferrokv {cheaper:.1f}x, Redis "
            f"{hr['full_cpu_us'] / hr['resumed_cpu_us'] if hr['resumed_cpu_us'] else float('nan'):.1f}x.\n",
            "| | ferrokv | Redis | ratio |",
            "|---|---:|---:|---:|",
        ]
        for k, label in (("full_cpu_us", "server CPU µs per full handshake"),
                         ("resumed_cpu_us", "server CPU µs per resumed handshake"),
                         ("resumed", "connections actually resumed"),
                         ("full_per_s", "full handshakes/s (client-bound)"),
                         ("resumed_per_s", "resumed handshakes/s (client-bound)")):
            a, b = hf[k], hr[k]
            hs_table.append(f"| {label} | {a:.1f} | {b:.1f} | {a / b if b else float('nan'):.2f} |")
    split_table = []
    for case, _, _, _ in FLOOR_CASES:
        ff, fr = floors.get((case, "ferrokv")), floors.get((case, "redis"))
        if not (ff and fr):
            continue
        fu, fs = median(x["user_us"] for x in ff), median(x["sys_us"] for x in ff)
        ru, rs = median(x["user_us"] for x in fr), median(x["sys_us"] for x in fr)
        floor = fs / (ru + rs) if ru + rs else float("nan")
        if not split_table:
            split_table = [
                "\n## Where the server CPU goes: user vs kernel (GET, long runs)\n",
                "utime and stime from /proc/<pid>/stat over runs of about 2 s. Both servers make the same "
                "system calls per request (one read, one write, a share of an epoll_wait: `strace -c`), and on "
                "loopback the kernel's share includes delivering each reply to the client's socket. "
                "Floor = ferrokv kernel time / Redis total: the CPU ratio ferrokv would reach with no "
                "user-space time at all; a target below it needs the kernel's per-request work itself to shrink.\n",
                "| case | ferrokv user / kernel µs/req | Redis user / kernel µs/req | user ratio | floor | target |",
                "|---|---:|---:|---:|---:|---:|",
            ]
        split_table.append(f"| {case} | {fu:.3f} / {fs:.3f} | {ru:.3f} / {rs:.3f} | "
                           f"{fu / ru if ru else float('nan'):.2f} | {floor:.2f} | {CPU_TARGETS.get(case, float('nan'))} |")
    if memory.get("ferrokv") and memory.get("redis"):
        f, r = memory["ferrokv"], memory["redis"]
        ratio = f["strings_rss"] / r["strings_rss"] if r["strings_rss"] else float("nan")
        L.append(f"| memory, {args.mem_keys} x 100 B strings: RSS ≤ 0.8x Redis | {ratio:.2f}x | {'yes' if ratio <= 0.8 else 'NO'} |")
        L.append("\n## Memory\n")
        L.append(f"Fresh servers; {args.mem_keys} keys `key:%012d` with 100-byte values, then "
                 f"{args.mem_keys // 10} hashes of 10 small fields ({args.mem_keys} fields). Growth over the empty server.\n")
        L.append("| | ferrokv | Redis | ratio |")
        L.append("|---|---:|---:|---:|")
        for k, label in (("strings_rss", "strings: RSS growth"), ("strings_used_memory", "strings: used_memory growth"),
                         ("hash_rss", "hash fields: RSS growth"), ("hash_used_memory", "hash fields: used_memory growth")):
            a, b = f[k], r[k]
            L.append(f"| {label} | {a / 2**20:.1f} MiB | {b / 2**20:.1f} MiB | {a / b if b else float('nan'):.2f} |")
    L.extend(split_table)
    L.extend(hs_table)
    chart = None if args.no_chart else make_chart(rows, args.out)
    if chart:
        L.append(f"\nChart: `{os.path.relpath(chart, ROOT)}`\n")
    text = "\n".join(L) + "\n"
    with open(os.path.join(args.out, "latest.md"), "w") as fh:
        fh.write(text)
    with open(os.path.join(args.out, "latest.json"), "w") as fh:
        raw = {f"{c}|{t}|{s}": v for (c, t, s), v in results.items()}
        json.dump({"rows": rows, "runs": raw, "memory": memory,
                   "handshakes": {f"{n}|{'tls12' if v else 'tls13'}": x for (n, v), x in handshakes.items()},
                   "split": {f"{c}|{n}": x for (c, n), x in floors.items()}}, fh, indent=1)
    print(text)


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        pass
    for extra in ([], ["--break-system-packages"]):
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--user", "--quiet", "matplotlib", *extra],
                           capture_output=True, text=True)
        if r.returncode == 0:
            import site
            import importlib
            sys.path.append(site.getusersitepackages())
            importlib.invalidate_caches()
            try:
                import matplotlib  # noqa: F401
                return True
            except ImportError:
                return False
    return False


def make_chart(rows, outdir):
    if not rows or not ensure_matplotlib():
        print("(no chart: matplotlib unavailable)")
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # noqa: BLE001
        print(f"(no chart: {e})")
        return None
    labels = [f"{r['case']}\n{r['test']}" for r in rows]
    x = range(len(rows))
    w = 0.4
    fig, axes = plt.subplots(3, 1, figsize=(max(10, len(rows) * 0.6), 12), sharex=True)
    for ax, key, title in ((axes[0], "rps", "requests/s (higher is better)"),
                           (axes[1], "p99_ms", "p99 latency ms (lower is better)"),
                           (axes[2], "cpu_us_per_req", "server CPU µs/request (lower is better)")):
        ax.bar([i - w / 2 for i in x], [r[f"ferrokv_{key}"] for r in rows], w, label="ferrokv")
        ax.bar([i + w / 2 for i in x], [r[f"redis_{key}"] for r in rows], w, label="redis-server 7.0.15")
        ax.set_title(title)
        ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    axes[2].set_xticks(list(x))
    axes[2].set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    path = os.path.join(outdir, "latest.png")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
